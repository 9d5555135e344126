"""Classical foreground masks that need no weights: GrabCut and border-colour thresholding.

- :func:`grabcut_array` runs OpenCV's GrabCut seeded by a box (default: the centre
  box leaving ``margin`` of each side as sure background).  GrabCut initialises its
  colour models with k-means, which draws from OpenCV's thread-local RNG; we reseed
  that RNG with a fixed constant right before each call so the same image always
  gives the same mask (OpenCV has no per-call generator).
- :func:`threshold_array` is for objects on a plain background (silhouettes,
  product shots): the colour distance to the median border colour, split by Otsu.

The photo-level entry points (a file or tensor in, ``(image, mask)`` out) are in
:mod:`~foolbox_lite.backends.photo_masks`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Union

import numpy as np
import torch

from ..errors import InputError, ParameterError
from ..params import check_number

__all__ = ["Box", "ImageLike", "grabcut_array", "threshold_array", "to_rgb_uint8", "GRABCUT_RNG_SEED"]

#: A box ``(x0, y0, x1, y1)``: in pixels, or as fractions of width/height when all are in [0, 1] and floats.
Box = Sequence[float]
ImageLike = Union[str, os.PathLike, torch.Tensor]

#: Fixed seed given to ``cv2.setRNGSeed`` before each GrabCut call (k-means initialisation).
GRABCUT_RNG_SEED = 0x5EED


def to_rgb_uint8(image: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` float in [0, 1] -> ``(H, W, 3)`` uint8 (round half to even), contiguous."""
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        raise InputError(f"expected an image tensor (3, H, W), got {getattr(image, 'shape', type(image).__name__)}")
    if not torch.isfinite(image).all():
        raise InputError("image has non-finite values (NaN or inf)")
    arr = image.detach().to("cpu", torch.float32).clamp(0, 1).mul(255.0).round_().to(torch.uint8)
    return np.ascontiguousarray(arr.permute(1, 2, 0).numpy())


def _pixel_box(box: Box | None, h: int, w: int, margin: float) -> tuple[int, int, int, int]:
    if box is None:
        check_number("margin", margin, low=0.0, high=0.45)
        x0, y0 = int(round(w * margin)), int(round(h * margin))
        return x0, y0, max(x0 + 1, w - x0), max(y0 + 1, h - y0)
    if not isinstance(box, Sequence) or isinstance(box, str) or len(box) != 4:
        raise ParameterError(f"parameter 'box' must be [x0, y0, x1, y1], got {box!r}")
    vals = [check_number(f"box[{i}]", v) for i, v in enumerate(box)]
    if all(isinstance(v, float) for v in vals) and all(0.0 <= v <= 1.0 for v in vals):
        vals = [vals[0] * w, vals[1] * h, vals[2] * w, vals[3] * h]
    x0, y0, x1, y1 = (int(round(v)) for v in vals)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ParameterError(f"parameter 'box' = {list(box)!r} is empty or outside the {w}x{h} image", hint="give x0 < x1 and y0 < y1 in pixels, or fractions in [0, 1]")
    return x0, y0, x1, y1


def grabcut_array(rgb: np.ndarray, box: Box | None = None, *, margin: float = 0.1, iterations: int = 5) -> np.ndarray:
    """GrabCut on an ``(H, W, 3)`` uint8 RGB image: float32 ``(H, W)`` in {0, 1}.

    Outside the box is sure background; inside is "probably foreground" at the start.
    """
    import cv2

    check_number("iterations", iterations, low=1, high=50, integer=True)
    h, w = rgb.shape[:2]
    if h < 4 or w < 4:
        raise InputError(f"grabcut needs an image of at least 4x4 pixels, got {w}x{h}")
    x0, y0, x1, y1 = _pixel_box(box, h, w, margin)
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    cv2.setRNGSeed(GRABCUT_RNG_SEED)
    try:
        cv2.grabCut(bgr, mask, (x0, y0, x1 - x0, y1 - y0), bgd, fgd, int(iterations), cv2.GC_INIT_WITH_RECT)
    except cv2.error as exc:
        # GrabCut fails when the box leaves no background or foreground samples.
        raise ParameterError(f"grabcut failed for box {(x0, y0, x1, y1)} on a {w}x{h} image: {str(exc).strip().splitlines()[-1]}",
                             hint="use a box that leaves some background around the object") from None
    return ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.float32)


def threshold_array(rgb: np.ndarray, threshold: float | None = None, *, border: int = 2) -> np.ndarray:
    """Object = pixels far from the median border colour; float32 ``(H, W)`` in {0, 1}.

    ``threshold`` is the colour distance in [0, 1] (RGB Euclidean / sqrt(3)); ``None``
    picks it by Otsu's method on the distance histogram.
    """
    import cv2

    h, w = rgb.shape[:2]
    check_number("border", border, low=1, high=max(1, min(h, w) // 4), integer=True)
    x = rgb.astype(np.float32) / 255.0
    ring = np.concatenate([x[:border].reshape(-1, 3), x[-border:].reshape(-1, 3), x[:, :border].reshape(-1, 3), x[:, -border:].reshape(-1, 3)])
    bg = np.median(ring, axis=0)
    dist = np.sqrt(((x - bg) ** 2).sum(axis=2)) / np.sqrt(3.0)
    if threshold is None:
        d8 = np.rint(np.clip(dist, 0, 1) * 255).astype(np.uint8)
        if int(d8.max()) - int(d8.min()) < 8:  # one flat colour: no object
            return np.zeros((h, w), np.float32)
        t, _ = cv2.threshold(d8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        return (d8 > t).astype(np.float32)
    check_number("threshold", threshold, low=0.0, high=1.0)
    return (dist > threshold).astype(np.float32)
