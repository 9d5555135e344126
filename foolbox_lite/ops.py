"""``fl.ops``: every registered operator class by its class name, plus the compositions.

    import foolbox_lite as fl
    pipe = fl.Pipeline([fl.ops.Tilt(pitch=(40, 70)), fl.ops.GaussianNoise(std=0.08)], seed=7)
"""

from __future__ import annotations

from typing import Any

from .operators.base import Operator
from .operators.registry import REGISTRY
from .pipeline import OneOf, Pipeline

_BY_CLASS_NAME: dict[str, type[Operator]] = {cls.__name__: cls for cls in REGISTRY.values()}
_BY_CLASS_NAME.update({"Pipeline": Pipeline, "OneOf": OneOf})

__all__ = sorted(_BY_CLASS_NAME)


def __getattr__(name: str) -> Any:
    try:
        return _BY_CLASS_NAME[name]
    except KeyError:
        raise AttributeError(f"foolbox_lite.ops has no operator {name!r}; known: {', '.join(__all__)}") from None


def __dir__() -> list[str]:
    return __all__
