"""The registry of operators by name, as recipes refer to them.

Explicit: the table below lists the operator families, and each family module
exports its operators in a tuple ``OPERATORS``.  Nothing registers itself by
being imported or subclassed.
"""

from __future__ import annotations

import difflib
import importlib.util
from typing import Any

from ..errors import ParameterError
from . import (
    albumentations_wrap,
    color,
    composite,
    filters,
    generation,
    geometry,
    noise,
    perturbation,
    segmentation,
    skip,
    structure,
    texture,
    texture_transfer,
)
from .base import Operator

__all__ = ["REGISTRY", "EXTRA_MODULES", "get_operator", "build_operator", "available_operators", "missing_extras"]

_FAMILIES = (color, geometry, composite, noise, filters, structure, perturbation, texture, texture_transfer, albumentations_wrap, segmentation, generation, skip)


def _build_registry() -> dict[str, type[Operator]]:
    table: dict[str, type[Operator]] = {}
    for fam in _FAMILIES:
        for cls in fam.OPERATORS:
            if not cls.name:
                raise RuntimeError(f"operator class {cls.__qualname__} has no name")
            if cls.name in table:
                raise RuntimeError(f"two operators are named {cls.name!r}: {table[cls.name].__qualname__} and {cls.__qualname__}")
            table[cls.name] = cls
    return table


REGISTRY: dict[str, type[Operator]] = _build_registry()


#: The top-level modules each optional extra (pyproject ``[project.optional-dependencies]``) installs.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "albumentations": ("albumentations",),
    "rembg": ("rembg", "onnxruntime", "cv2"),
    "diffusers": ("diffusers", "transformers"),
}


def missing_extras(cls: type[Operator]) -> list[str]:
    """The extras ``cls`` declares whose modules are not installed here."""
    return [e for e in cls.extras if any(importlib.util.find_spec(m) is None for m in EXTRA_MODULES[e])]


def available_operators() -> list[str]:
    """Names of every registered operator, sorted."""
    return sorted(REGISTRY)


def get_operator(name: str) -> type[Operator]:
    """The operator class registered as ``name``; unknown names list the nearest ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        near = difflib.get_close_matches(str(name), REGISTRY, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(near)}?" if near else f"known operators: {', '.join(available_operators())}"
        raise ParameterError(f"unknown operator {name!r}", hint=hint) from None


def build_operator(name: str, **kwargs: Any) -> Operator:
    """Construct the operator ``name`` with keyword arguments (bad arguments name the operator)."""
    cls = get_operator(name)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ParameterError(f"operator {name!r}: {exc}") from exc
