"""What both universal-perturbation methods share: the result type, stop rules and argument checks.

:mod:`~foolbox_lite.attacks.uap` (SGD) and :mod:`~foolbox_lite.attacks.deepfool` both import
from here, so neither imports the other's internals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import ParameterError
from ..params import check_number
from ._model import check_images
from .budget import Budget

__all__ = ["Stopper", "UAPResult", "validate_fit_args"]


@dataclass
class UAPResult:
    """A fitted universal perturbation and how it was obtained."""

    delta: torch.Tensor
    budget: Budget
    method: str
    seed: int
    target: int | None
    fit_fooling_rate: float
    epochs: int
    steps: int
    seconds: float
    stopped: str
    settings: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)



class Stopper:
    """Epoch, time and fooling-rate limits."""

    def __init__(self, epochs: int | None, max_seconds: float | None, target_rate: float | None) -> None:
        if epochs is None and max_seconds is None and target_rate is None:
            raise ParameterError("give at least one stopping rule: epochs, max_seconds or target_fooling_rate")
        self.epochs, self.max_seconds, self.target_rate = epochs, max_seconds, target_rate
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def out_of_time(self) -> bool:
        return self.max_seconds is not None and self.elapsed() >= self.max_seconds

    def done(self, epoch: int, rate: float) -> str:
        if self.target_rate is not None and rate >= self.target_rate:
            return "fooling_rate"
        if self.epochs is not None and epoch >= self.epochs:
            return "epochs"
        if self.out_of_time():
            return "time"
        return ""


def validate_fit_args(images: torch.Tensor, size: tuple[int, int], batch_size: int, epochs: int | None, max_seconds: float | None, target_fooling_rate: float | None) -> None:
    check_images(images, size, "fit images")
    check_number("batch_size", batch_size, low=1, integer=True)
    if epochs is not None:
        check_number("epochs", epochs, low=1, integer=True)
    if max_seconds is not None:
        check_number("max_seconds", max_seconds, low=0.0)
        if max_seconds <= 0:
            raise ParameterError(f"max_seconds must be positive, got {max_seconds!r}")
    if target_fooling_rate is not None:
        check_number("target_fooling_rate", target_fooling_rate, low=0.0, high=1.0)
