"""A map drawn over its stimulus as a PNG (deterministic: numpy arithmetic and OpenCV's PNG encoder)."""

from __future__ import annotations

import numpy as np
import torch

from ..stimulus_set.writer import encode_png

__all__ = ["heat", "overlay_png"]


def heat(values: np.ndarray) -> np.ndarray:
    """Values in ``[0, 1]`` ``(H, W)`` -> RGB float ``(H, W, 3)``: black-red-yellow-white ramp."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    return np.clip(np.concatenate([3 * v, 3 * v - 1, 3 * v - 2], axis=-1), 0.0, 1.0)


def overlay_png(image: torch.Tensor, amap: torch.Tensor, alpha: float = 0.65) -> bytes:
    """``image`` ``(3, H, W)`` in ``[0, 1]`` with the positive part of ``amap`` ``(H, W)`` (scaled to its 99.5th percentile) over it."""
    img = image.permute(1, 2, 0).numpy().astype(np.float64) * 0.6  # dimmed so the heat reads
    pos = np.clip(amap.numpy().astype(np.float64), 0.0, None)
    top = float(np.percentile(pos, 99.5)) if pos.any() else 0.0
    v = pos / top if top > 0 else pos
    a = alpha * np.clip(v, 0.0, 1.0)[..., None]
    rgb = img * (1 - a) + heat(v) * a
    return encode_png(np.round(np.clip(rgb, 0, 1) * 255.0).astype(np.uint8), compression=1)  # for viewing: compact
