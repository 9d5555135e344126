"""Per-item random streams.

Item ``i`` of a stimulus set draws every random number it needs from generators
derived from ``(seed, i, operator path)`` only.  Its output therefore does not
depend on the batch it was computed in, and no global random state is read or
changed anywhere in the library.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["BatchDraws", "derive_seed", "draw_seed", "item_generator"]

_MASK63 = (1 << 63) - 1


def derive_seed(*parts: int | str) -> int:
    """A stable 63-bit seed from any sequence of ints and strings (same on every machine)."""
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        if isinstance(part, bool) or not isinstance(part, (int, str)):
            raise TypeError(f"seed parts must be int or str, got {part!r} ({type(part).__name__})")
        h.update(f"{type(part).__name__}:{part}".encode())
        h.update(b"\x00")
    return int.from_bytes(h.digest(), "little") & _MASK63


def item_generator(seed: int, index: int, path: str, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of item ``index`` for the operator at ``path`` of a pipeline seeded with ``seed``."""
    g = torch.Generator(device=device)
    g.manual_seed(derive_seed(seed, index, path))
    return g


def draw_seed(g: torch.Generator) -> int:
    """Draw a fresh 63-bit seed from ``g`` (used to record noise seeds in params, so they replay)."""
    return int(torch.randint(0, _MASK63, (1,), generator=g, dtype=torch.int64).item())


# ---------------------------------------------------------------------------- batched draws

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 arrays (wrapping arithmetic, the same on every machine)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


class BatchDraws:
    """Counter-based random numbers for a whole batch, one independent stream per item.

    Draw ``k`` of item ``i`` is SplitMix64 of ``(key_i + (k + 1) * golden)``, where
    ``key_i`` mixes ``derive_seed(seed, path)`` with the item's index: like
    :func:`item_generator`, it depends only on ``(seed, index, path)`` and the number of
    draws made before it, never on the batch, but a batch of any size costs a few
    vectorised operations instead of one generator per item.  Every method draws the
    same number of values for every item, so items' streams stay aligned.
    """

    def __init__(self, seed: int, indices: Sequence[int] | np.ndarray, path: str) -> None:
        idx = np.asarray(indices, dtype=np.int64)  # negative indices wrap to uint64, as derive_seed takes any int
        if idx.ndim != 1:
            raise ValueError(f"item indices must be a flat sequence of integers, got shape {idx.shape}")
        with np.errstate(over="ignore"):
            base = np.full(idx.shape, derive_seed(seed, path), dtype=np.uint64)
            self._keys = _mix64(base ^ _mix64(idx.astype(np.uint64) * _GOLDEN + _GOLDEN))
        self._counter = 0

    def __len__(self) -> int:
        return len(self._keys)

    def bits(self, n: int = 1) -> np.ndarray:
        """The next ``n`` 64-bit words of every item's stream, ``(B, n)`` uint64."""
        ctr = np.arange(self._counter + 1, self._counter + n + 1, dtype=np.uint64)
        self._counter += n
        with np.errstate(over="ignore"):
            return _mix64(self._keys[:, None] + ctr[None, :] * _GOLDEN)

    def uniform(self, n: int | None = None) -> torch.Tensor:
        """Uniform float64 in ``[0, 1)``: ``(B,)``, or ``(B, n)`` when ``n`` is given (53 random bits each)."""
        u = (self.bits(1 if n is None else n) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
        t = torch.from_numpy(u)
        return t[:, 0] if n is None else t

    def seeds(self) -> torch.Tensor:
        """A fresh 63-bit seed per item ``(B,)`` int64 (recorded, so noise fields replay)."""
        return torch.from_numpy((self.bits(1)[:, 0] >> np.uint64(1)).astype(np.int64))

    def integers(self, high: int) -> torch.Tensor:
        """Uniform integers in ``[0, high)`` per item ``(B,)`` int64."""
        return torch.clamp((self.uniform() * high).floor().long(), max=high - 1)

    def permutations(self, n: int) -> torch.Tensor:
        """A uniformly random permutation of ``range(n)`` per item ``(B, n)`` int64 (ranks of ``n`` draws)."""
        return torch.from_numpy(np.argsort(self.bits(n), axis=1, kind="stable").astype(np.int64))
