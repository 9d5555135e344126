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
from .buffers import empty_output
from .cue_controls import APPEARANCE

__all__ = ["grayscale", "invert", "Grayscale", "Invert", "OPERATORS"]

#: ITU-R BT.601 luma weights, as in PIL and OpenCV.
LUMA = (0.299, 0.587, 0.114)


def _tracks_grad(x: torch.Tensor) -> bool:
    return x.requires_grad and torch.is_grad_enabled()


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` -> ``(B, 3, H, W)`` with every channel set to the BT.601 luma."""
    if _tracks_grad(images):
        w = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        return (images * w).sum(dim=1, keepdim=True).expand_as(images).contiguous()
    out = empty_output(images)
    y = out[:, 0:1]
    torch.mul(images[:, 0:1], LUMA[0], out=y)
    y.add_(images[:, 1:2], alpha=LUMA[1]).add_(images[:, 2:3], alpha=LUMA[2])
    out[:, 1:2].copy_(y)
    out[:, 2:3].copy_(y)
    return out


def invert(images: torch.Tensor) -> torch.Tensor:
    """``1 - x`` (colour negative)."""
    if _tracks_grad(images):
        return 1.0 - images
    return torch.sub(1.0, images, out=empty_output(images))


class Grayscale(Operator):
    """Replace colour by luminance (removes the colour cue, keeps shape and texture)."""

    name = "grayscale"
    cue_controls = APPEARANCE
    differentiable = True

    def __init__(self, *, p: float = 1.0) -> None:
        super().__init__(p=p)

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        return stim.replace(images=grayscale(stim.images))


class Invert(Operator):
    """Colour negative."""

    name = "invert"
    cue_controls = APPEARANCE
    differentiable = True

    def __init__(self, *, p: float = 1.0) -> None:
        super().__init__(p=p)

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        return stim.replace(images=invert(stim.images))


OPERATORS: tuple[type[Operator], ...] = (Grayscale, Invert)
