"""Tiny synthetic scenes for demos and tests: deterministic, no files needed."""

from __future__ import annotations

import torch

__all__ = ["disc_scene"]


def disc_scene(batch: int, size: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` images of a coloured disc on a gradient, and the disc's soft mask.

    Returns ``images (B, 3, S, S)`` in ``[0, 1]`` and ``masks (B, 1, S, S)``; item ``i``
    differs from the others by its disc's colour, position and radius.
    """
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size, dtype=dtype), torch.linspace(0, 1, size, dtype=dtype), indexing="ij")
    imgs, msks = [], []
    for i in range(batch):
        t = i / max(1, batch - 1)
        cx, cy, r = 0.35 + 0.3 * t, 0.45 + 0.1 * t, 0.22 + 0.08 * (1 - t)
        d = ((xs - cx) ** 2 + (ys - cy) ** 2).sqrt()
        m = ((r - d) * size / 2).clamp(0, 1)  # ~2 px soft edge
        bg = torch.stack([xs * 0.6 + 0.2, ys * 0.5 + 0.3, (1 - xs) * 0.4 + 0.3])
        fg = torch.tensor([0.9 - 0.6 * t, 0.3 + 0.4 * t, 0.2 + 0.5 * t], dtype=dtype).view(3, 1, 1) * (0.75 + 0.25 * (1 - d / r).clamp(0, 1))
        imgs.append(fg * m + bg * (1 - m))
        msks.append(m.unsqueeze(0))
    return torch.stack(imgs), torch.stack(msks)
