"""Output allocation for operators.

Allocation, not arithmetic, dominates simple operators on the CPU: every fresh
38 MB float batch is a new ``mmap`` whose pages fault in one by one (10-50 ms,
more than the arithmetic).  CPU outputs are therefore numpy-backed buffers from a
small pool: a buffer is handed out again only once no tensor, view or array uses
it any more (its reference count says so), so reuse is invisible to callers.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["empty_cpu", "empty_output", "POOL_BYTES"]

_NP = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16, torch.uint8: np.uint8}

#: Most memory the pool keeps for reuse (buffers beyond it are left to the allocator).
POOL_BYTES = 512 * 1024 * 1024
#: Buffers smaller than this are not pooled (page faults do not matter for them).
_MIN_POOLED = 1 << 20

_lock = threading.Lock()
_pool: list[np.ndarray] = []
# references to a pooled array held by: the pool list, the loop variable, getrefcount's argument
_FREE_REFCOUNT = 3


def _take(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if nbytes < _MIN_POOLED:
        return np.empty(shape, dtype=dtype)
    with _lock:
        for arr in _pool:
            if arr.shape == shape and arr.dtype == dtype and sys.getrefcount(arr) <= _FREE_REFCOUNT:
                return arr
        arr = np.empty(shape, dtype=dtype)
        _pool.append(arr)
        total = sum(a.nbytes for a in _pool)
        while total > POOL_BYTES and len(_pool) > 1:
            total -= _pool.pop(0).nbytes  # forget the oldest; it lives on while used
        return arr


def empty_cpu(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised contiguous CPU tensor backed by pooled numpy memory (cannot be ``resize_``d)."""
    return torch.from_numpy(_take(tuple(int(s) for s in shape), _NP[dtype]))


def empty_output(like: torch.Tensor, shape: Sequence[int] | None = None) -> torch.Tensor:
    """An uninitialised contiguous output with ``like``'s dtype and device (pooled on the CPU)."""
    shape = tuple(like.shape if shape is None else shape)
    if like.device.type == "cpu" and like.dtype in _NP:
        return empty_cpu(shape, like.dtype)
    return torch.empty(shape, dtype=like.dtype, device=like.device)
