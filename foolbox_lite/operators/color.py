"""Colour operators: grayscale and inversion.

Small and deterministic; they also serve as the reference for how an operator is
written: a pure tensor function, then a thin :class:`~foolbox_lite.operators.base.Operator`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..stimuli import Stimuli
from .base import Operator
from .buffers import empty_output
from .cue_controls import APPEARANCE
from .itempool import for_items, use_fast_path

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
    if images.dim() == 4 and images.shape[1] == 3 and use_fast_path(images):
        _grayscale_items(images.contiguous().numpy(), out.numpy())
        return out
    y = out[:, 0:1]
    torch.mul(images[:, 0:1], LUMA[0], out=y)
    y.add_(images[:, 1:2], alpha=LUMA[1]).add_(images[:, 2:3], alpha=LUMA[2])
    out[:, 1:2].copy_(y)
    out[:, 2:3].copy_(y)
    return out


def _grayscale_items(src: np.ndarray, out: np.ndarray) -> None:
    """The torch path's arithmetic item by item, in the cache: ``R * w0``, then two fused multiply-adds.

    ``cv2.scaleAdd`` rounds ``a * w + y`` once, as torch's ``add_(alpha=)`` does (tested equal).
    """
    import cv2

    w0, w1, w2 = np.float32(LUMA[0]), float(np.float32(LUMA[1])), float(np.float32(LUMA[2]))

    def work(start: int, stop: int) -> None:
        for i in range(start, stop):
            y = out[i, 0]
            np.multiply(src[i, 0], w0, out=y)
            cv2.scaleAdd(src[i, 1], w1, y, dst=y)
            cv2.scaleAdd(src[i, 2], w2, y, dst=y)
            out[i, 1] = y
            out[i, 2] = y

    for_items(work, src.shape[0])


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
