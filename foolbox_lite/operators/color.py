"""Colour operators: grayscale and inversion.

Small and deterministic; they also serve as the reference for how an operator is
written: a pure tensor function, then a thin :class:`~foolbox_lite.operators.base.Operator`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..stimuli import Stimuli
from .base import Operator

__all__ = ["grayscale", "invert", "Grayscale", "Invert", "OPERATORS"]

#: ITU-R BT.601 luma weights, as in PIL and OpenCV.
LUMA = (0.299, 0.587, 0.114)


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` -> ``(B, 3, H, W)`` with every channel set to the BT.601 luma."""
    w = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    y = (images * w).sum(dim=1, keepdim=True)
    return y.expand_as(images).contiguous()


def invert(images: torch.Tensor) -> torch.Tensor:
    """``1 - x`` (colour negative)."""
    return 1.0 - images


class Grayscale(Operator):
    """Replace colour by luminance (removes the colour cue, keeps shape and texture)."""

    name = "grayscale"
    differentiable = True

    def __init__(self, *, p: float = 1.0) -> None:
        super().__init__(p=p)

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        return stim.replace(images=grayscale(stim.images))


class Invert(Operator):
    """Colour negative."""

    name = "invert"
    differentiable = True

    def __init__(self, *, p: float = 1.0) -> None:
        super().__init__(p=p)

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        return stim.replace(images=invert(stim.images))


OPERATORS: tuple[type[Operator], ...] = (Grayscale, Invert)
