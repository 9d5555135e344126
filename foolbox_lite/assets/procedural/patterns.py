"""Plain patterns a recipe names with ``procedural:`` (checkerboard, stripes, disc, value noise).

Unlike the textures and scenes they are drawn on the pixel grid and take parameters:
``fn(size, **params) -> (image (3, H, W), mask (1, H, W) or None)``, float32 in ``[0, 1]``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["checkerboard", "disc", "stripes", "value_noise"]


def _grid(size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = size
    ys = torch.arange(h, dtype=torch.float32).view(h, 1).expand(h, w)
    xs = torch.arange(w, dtype=torch.float32).view(1, w).expand(h, w)
    return ys, xs


def checkerboard(size: tuple[int, int], squares: int = 8) -> tuple[torch.Tensor, None]:
    ys, xs = _grid(size)
    cell = max(size) / squares
    v = ((torch.floor(ys / cell) + torch.floor(xs / cell)) % 2).float()
    return v.expand(3, *size).contiguous(), None


def stripes(size: tuple[int, int], period: float = 16.0, angle: float = 0.0) -> tuple[torch.Tensor, None]:
    ys, xs = _grid(size)
    a = math.radians(angle)
    v = (torch.sin(2 * math.pi * (xs * math.cos(a) + ys * math.sin(a)) / period) > 0).float()
    return v.expand(3, *size).contiguous(), None


def disc(size: tuple[int, int], radius: float = 0.35) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = size
    ys, xs = _grid(size)
    d = (((ys + 0.5) / h - 0.5) ** 2 + ((xs + 0.5) / w - 0.5) ** 2).sqrt()
    m = ((radius - d) * min(h, w) / 2).clamp(0, 1)
    img = torch.stack([0.2 + 0.6 * m, 0.2 + 0.3 * m, 0.6 - 0.3 * m])
    return img, m.unsqueeze(0)


def value_noise(size: tuple[int, int], scale: int = 8, seed: int = 0) -> tuple[torch.Tensor, None]:
    g = torch.Generator().manual_seed(int(seed))
    coarse = torch.rand((1, 3, scale, scale), generator=g)
    img = torch.nn.functional.interpolate(coarse, size=size, mode="bicubic", align_corners=False).clamp(0, 1)[0]
    return img, None
