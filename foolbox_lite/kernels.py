"""Pure tensor kernels shared by several operator families and the texture code.

One implementation each: the masked blend every compositing step uses, and the Gaussian
kernel every blur and feathering uses (truncated at :data:`TRUNCATE` standard deviations).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

__all__ = ["TRUNCATE", "composite", "gaussian_kernel"]

#: Gaussian kernel truncation in standard deviations (scipy's and Geirhos et al.'s default).
TRUNCATE = 4.0


def composite(inside: torch.Tensor, outside: torch.Tensor, mask: torch.Tensor, *, reuse_inside: bool = False) -> torch.Tensor:
    """``mask * inside + (1 - mask) * outside`` in one fused op, for ``(B, C, H, W)`` images and a ``(B, 1, H, W)`` mask.

    With ``reuse_inside`` (the caller owns ``inside``, a fresh contiguous tensor) the result
    is written into ``inside`` when no gradient is being recorded: no new allocation.
    """
    weight = mask.to(inside.dtype)
    needs_grad = torch.is_grad_enabled() and (inside.requires_grad or outside.requires_grad or weight.requires_grad)
    if reuse_inside and not needs_grad and inside.is_contiguous() and inside.dtype == outside.dtype:
        return torch.lerp(outside, inside, weight, out=inside)
    return torch.lerp(outside, inside, weight)


@lru_cache(maxsize=64)
def gaussian_kernel(sigma: float, max_radius: int) -> tuple[float, ...]:
    """Normalised 1-D Gaussian weights, radius ``min(ceil(TRUNCATE * sigma), max_radius)``; ``(1.0,)`` for sigma 0."""
    if sigma <= 0:
        return (1.0,)
    r = max(0, min(math.ceil(TRUNCATE * sigma), max_radius))
    x = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return tuple((k / k.sum()).tolist())
