"""Recipes: YAML files that describe a whole stimulus set, and the builder that writes it."""

from __future__ import annotations

from .load import load_recipe, parse_recipe
from .schema import Recipe

__all__ = ["Recipe", "build_recipe", "load_recipe", "parse_recipe"]


def build_recipe(*args, **kwargs):
    """See :func:`foolbox_lite.recipes.build.build_recipe`."""
    from .build import build_recipe as _build

    return _build(*args, **kwargs)
