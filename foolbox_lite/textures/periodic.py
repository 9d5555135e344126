"""Drawing a periodic tile on the CPU: ``cv2.warpAffine`` on a periodically extended copy of the tile.

``render_texture`` maps each output pixel to tile coordinates that wrap around.  OpenCV's
``BORDER_WRAP`` does that, but sends every pixel near a wrap through a slow path (about
twice the time of a warp that stays inside its source).  Here the tile is extended
periodically to the right and below once (cached per tile: at most 32 tiles and 128 MiB, a
freed tile's copy dropped at the next call), so that when all of an
item's coordinates are at least 1 pixel from the top and left edges, the same warp runs
on the extended copy with no pixel needing a border: the same coordinates, weights and
neighbour values, so the same bits as ``BORDER_WRAP`` (tested on random scales, angles
and offsets).  Pure integer translations (scale 1, angle 0, whole-pixel offsets) are a
slice of the extended copy, exactly what the bilinear warp gives for them.  Items whose
coordinates come near the top or left edge keep ``BORDER_WRAP``: moving them by whole
tiles would change the floating-point coordinates and so the last bits.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

import numpy as np
import torch

__all__ = ["clear_cache", "render_cv2"]

#: Extended tiles kept (least recently used dropped first), and their total bytes at most.
MAX_ENTRIES = 32
MAX_BYTES = 128 << 20
#: Largest extended tile (bytes); items that would need more keep ``BORDER_WRAP``.
MAX_EXTENDED = 32 << 20
_STEP = 64

_lock = threading.Lock()
#: id(tile) -> (weak reference to the tile, its version, tile (h, w, 3), extended (H', W', 3)); entries go when their tile does.
_cache: OrderedDict[int, tuple[weakref.ref, int, np.ndarray, np.ndarray]] = OrderedDict()


#: ids of freed tiles whose entries are still to be dropped (appended from weakref callbacks, which may run
#: anywhere, even inside a locked section of this module: they only append, the next lookup drops the entries)
_freed: list[int] = []


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _freed.clear()


def _purge() -> None:
    """Drop the entries of freed tiles (call with ``_lock`` held)."""
    while _freed:
        key = _freed.pop()
        hit = _cache.get(key)
        if hit is not None and hit[0]() is None:
            del _cache[key]


def _tiles(tile: torch.Tensor, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """``(tile, extended)`` as contiguous float32 ``(h, w, 3)`` and ``(R, C, 3)`` with ``R >= rows``, ``C >= cols``
    and ``extended[y, x] = tile[y % h, x % w]``; cached while the tile lives and is not modified in place."""
    key = id(tile)
    version = tile._version
    with _lock:
        _purge()
        hit = _cache.get(key)
        if hit is not None and (hit[0]() is not tile or hit[1] != version):
            hit = None
        if hit is not None and hit[3].shape[0] >= rows and hit[3].shape[1] >= cols:
            _cache.move_to_end(key)
            return hit[2], hit[3]
    if hit is not None:  # too small for these items: grow it (never shrink)
        src = hit[2]
        rows, cols = max(rows, hit[3].shape[0]), max(cols, hit[3].shape[1])
    else:
        src = np.ascontiguousarray(tile.to(torch.float32).permute(1, 2, 0).numpy())
    th, tw = src.shape[:2]
    rows, cols = max(th, -(-rows // _STEP) * _STEP), max(tw, -(-cols // _STEP) * _STEP)  # in steps: fewer rebuilds
    ext = np.pad(src, ((0, rows - th), (0, cols - tw), (0, 0)), mode="wrap")
    with _lock:
        _cache[key] = (weakref.ref(tile, lambda _r, key=key: _freed.append(key)), version, src, ext)
        _cache.move_to_end(key)
        total = sum(e[2].nbytes + e[3].nbytes for e in _cache.values())
        while len(_cache) > 1 and (len(_cache) > MAX_ENTRIES or total > MAX_BYTES):
            _, old = _cache.popitem(last=False)
            total -= old[2].nbytes + old[3].nbytes
    return src, ext


def _bounds(m: np.ndarray, height: int, width: int) -> tuple[float, float, float, float]:
    """``(min u, max u, min v, max v)`` of the tile coordinates of the output pixels (attained at the corners)."""
    xs = np.array([0.0, width - 1.0, 0.0, width - 1.0])
    ys = np.array([0.0, 0.0, height - 1.0, height - 1.0])
    u = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    v = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    return float(u.min()), float(u.max()), float(v.min()), float(v.max())


def _shift(m: np.ndarray) -> tuple[int, int] | None:
    """``(dx, dy)`` when ``m`` is a translation by whole pixels, else None."""
    if m[0, 0] == 1.0 and m[0, 1] == 0.0 and m[1, 0] == 0.0 and m[1, 1] == 1.0 and m[0, 2] == round(m[0, 2]) and m[1, 2] == round(m[1, 2]):
        return int(m[0, 2]), int(m[1, 2])
    return None


def render_cv2(tile: torch.Tensor, height: int, width: int, mats: list[np.ndarray], dtype: torch.dtype) -> torch.Tensor:
    """``(n, 3, H, W)``: item ``k`` samples the periodic ``tile`` ``(3, h, w)`` at ``mats[k]`` (output pixel -> tile
    coordinates, bilinear, wrapping around), the bits of ``cv2.warpAffine(..., BORDER_WRAP)``."""
    import cv2

    th, tw = int(tile.shape[1]), int(tile.shape[2])
    plans: list[tuple[str, tuple[int, int] | None]] = []
    rows, cols = th, tw
    for m in mats:
        shift = _shift(m)
        lo_u, hi_u, lo_v, hi_v = _bounds(m, height, width)
        if shift is not None and lo_u >= 0 and lo_v >= 0:
            plans.append(("slice", shift))
            rows, cols = max(rows, shift[1] + height), max(cols, shift[0] + width)
        elif lo_u >= 1.0 and lo_v >= 1.0 and (hi_u + _STEP + 3) * (hi_v + _STEP + 3) * 12 <= MAX_EXTENDED:  # clear of the top and left edges
            plans.append(("inside", None))
            rows, cols = max(rows, int(np.ceil(hi_v)) + 3), max(cols, int(np.ceil(hi_u)) + 3)
        else:
            plans.append(("wrap", None))
    src, ext = _tiles(tile, rows, cols)
    out = torch.empty((len(mats), 3, height, width), dtype=torch.float32)  # the one output allocation
    planes = out.numpy()
    scratch = np.empty((height, width, 3), dtype=np.float32)  # one image, reused: stays in cache
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for k, (m, (how, shift)) in enumerate(zip(mats, plans)):
        if how == "slice":
            assert shift is not None
            view = ext[shift[1]:shift[1] + height, shift[0]:shift[0] + width]
        elif how == "inside":
            view = cv2.warpAffine(ext, m, (width, height), dst=scratch, flags=flags, borderMode=cv2.BORDER_REFLECT_101)
        else:
            view = cv2.warpAffine(src, m, (width, height), dst=scratch, flags=flags, borderMode=cv2.BORDER_WRAP)
        cv2.mixChannels([np.ascontiguousarray(view)], [planes[k][0], planes[k][1], planes[k][2]], [0, 0, 1, 1, 2, 2])
    return out.to(dtype) if dtype != torch.float32 else out
