"""Per-item random streams.

Item ``i`` of a stimulus set draws every random number it needs from generators
derived from ``(seed, i, operator path)`` only.  Its output therefore does not
depend on the batch it was computed in, and no global random state is read or
changed anywhere in the library.
"""

from __future__ import annotations

import hashlib

import torch

__all__ = ["derive_seed", "item_generator", "draw_seed"]

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
