"""Stimulus operators, one family per module; ``fl.ops`` re-exports every operator class."""

from __future__ import annotations

from .base import Operator, SampleContext, Transform
from .registry import REGISTRY, available_operators, build_operator, get_operator

__all__ = ["Operator", "SampleContext", "Transform", "REGISTRY", "available_operators", "build_operator", "get_operator"]
