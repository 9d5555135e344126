"""Planar tensors <-> interleaved OpenCV images, with the cache in mind.

OpenCV kernels that work on several channels at once (a warp computes its coordinates
once for up to four channels) want interleaved ``(H, W, C)`` images, while tensors are
planar ``(C, H, W)``.  :func:`interleave` and :func:`deinterleave` convert one item.

``cv2.merge`` writes a destination aligned to the SIMD width with non-temporal
("streaming") stores, which bypass the cache: the interleaved image then has to come back
from memory, in the scattered order a warp reads it, and the warp runs 2-3x slower.  The
scratch buffers from :func:`scratch` are deliberately *not* aligned, so ``cv2.merge``
uses ordinary stores and leaves them in the cache.  The pixels are the same either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["deinterleave", "interleave", "scratch"]


def scratch(shape: Sequence[int], dtype: type = np.float32) -> np.ndarray:
    """An uninitialised C-contiguous array that starts one element past a 64-byte boundary (never SIMD-aligned)."""
    item = np.dtype(dtype).itemsize
    n = math.prod(shape)
    raw = np.empty(n + 128 // item, dtype)
    skip = ((item - raw.ctypes.data) % 64) // item
    return raw[skip : skip + n].reshape(tuple(shape))


def interleave(planes: Sequence[np.ndarray], out: np.ndarray) -> np.ndarray:
    """``cv2.merge`` of 2-D ``planes`` into ``out`` ``(H, W, len(planes))`` (pass a :func:`scratch` buffer)."""
    import cv2

    return cv2.merge(list(planes), dst=out)


def deinterleave(image: np.ndarray, planes: Sequence[np.ndarray]) -> None:
    """Copy the channels of ``image`` ``(H, W, C)`` into the 2-D arrays ``planes`` (views into an output tensor)."""
    import cv2

    got = cv2.split(image, list(planes))
    if not all(g is p for g, p in zip(got, planes)):  # this OpenCV allocated new arrays instead of filling ours
        for g, p in zip(got, planes):
            np.copyto(p, g)
