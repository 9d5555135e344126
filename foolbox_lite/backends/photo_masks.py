"""Masks from photos, one call each: a file or tensor in, ``(image (3, H, W), mask (1, H, W))`` out.

Thin entry points over :func:`~foolbox_lite.backends.segment.segment_photo` (clean-up,
empty check, cache) for GrabCut, thresholding and rembg's ONNX segmenters; the
kernels themselves are in :mod:`.grabcut` and :mod:`.rembg_masks`.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from ..assets.io import Fit
from .grabcut import Box, ImageLike
from .mask_cleanup import CleanupLike
from .segment import segment_photo

__all__ = ["grabcut_mask", "mask_from_photo", "threshold_mask"]


def grabcut_mask(
    image: ImageLike,
    box: Box | None = None,
    *,
    margin: float = 0.1,
    iterations: int = 5,
    cleanup: CleanupLike = True,
    size: int | tuple[int, int] | None = None,
    fit: Fit = "resize",
    cache: bool | str | os.PathLike[str] = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut the object out of a photo with GrabCut: ``(image (3, H, W), mask (1, H, W))``.

    ``box`` seeds it (pixels or fractions); without one, the centre box leaving
    ``margin`` on each side.  The mask is computed at full resolution, cleaned, then
    both are brought to ``size``.  An empty result raises :class:`AssetError`.
    """
    return segment_photo(image, method="grabcut", box=box, margin=margin, iterations=iterations, cleanup=cleanup, size=size, fit=fit, cache=cache)


def threshold_mask(
    image: ImageLike,
    threshold: float | None = None,
    *,
    cleanup: CleanupLike = True,
    size: int | tuple[int, int] | None = None,
    fit: Fit = "resize",
    cache: bool | str | os.PathLike[str] = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut an object off a plain background by colour distance: ``(image (3, H, W), mask (1, H, W))``."""
    return segment_photo(image, method="threshold", threshold=threshold, cleanup=cleanup, size=size, fit=fit, cache=cache)


def mask_from_photo(
    image_path: str | os.PathLike[str] | torch.Tensor,
    model: str | os.PathLike[str] = "u2netp",
    *,
    cleanup: Any = True,
    size: int | tuple[int, int] | None = None,
    fit: Fit = "resize",
    cache: bool | str | os.PathLike[str] = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut the object out of a photo: ``(image (3, H, W), mask (1, H, W))``, float32 in [0, 1].

    ``model`` is a rembg name or an ``.onnx`` path; ``cleanup`` as in
    :func:`~foolbox_lite.backends.mask_cleanup.as_cleanup`; the mask is computed at
    the photo's resolution, then both are brought to ``size``.  ``cache``: ``True``
    uses ``$FOOLBOX_LITE_HOME/cache/masks``, a path another folder, ``False`` none.
    An empty mask raises :class:`AssetError` naming the photo.
    """
    return segment_photo(image_path, method="rembg", model=model, cleanup=cleanup, size=size, fit=fit, cache=cache)
