"""Output allocation for operators.

Allocation, not arithmetic, dominates simple operators on the CPU: first-touching
a fresh 38 MB float batch from torch's allocator costs ~10-15 ms in page faults.
numpy's allocator asks the kernel for transparent huge pages, which makes the
same first touch ~4x cheaper, so CPU outputs are allocated through numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["empty_cpu", "empty_output"]

_NP = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16, torch.uint8: np.uint8}


def empty_cpu(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised contiguous CPU tensor backed by numpy memory (cannot be ``resize_``d)."""
    return torch.from_numpy(np.empty(tuple(shape), dtype=_NP[dtype]))


def empty_output(like: torch.Tensor, shape: Sequence[int] | None = None) -> torch.Tensor:
    """An uninitialised contiguous output with ``like``'s dtype and device (numpy-backed on the CPU)."""
    shape = tuple(like.shape if shape is None else shape)
    if like.device.type == "cpu" and like.dtype in _NP:
        return empty_cpu(shape, like.dtype)
    return torch.empty(shape, dtype=like.dtype, device=like.device)
