"""Building blocks of the procedural generators: continuous coordinates, noise, cells, anti-aliasing.

Every pattern is a function of *continuous* coordinates: the shorter image side
spans one unit, centred on 0, so rendering at twice the size gives the same
picture sampled twice as finely.  Randomness comes only from lattice tables
drawn from the caller's ``torch.Generator`` (their size does not depend on the
resolution), and noise octaves finer than the pixel grid are faded out, so a
render downsampled to a smaller size is close to a render at that size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...errors import InputError

__all__ = [
    "Canvas",
    "Cells",
    "ValueNoise",
    "aa_step",
    "canvas",
    "cells",
    "fbm",
    "fwidth",
    "lerp",
    "rgb",
    "rotate",
    "smoothstep",
    "uniform",
]

#: Period (in lattice cells) of every random table: patterns repeat after this many cells.
PERIOD = 64
#: Largest image side the generators accept (a 4096^2 render needs ~1 GB of temporaries).
MAX_SIDE = 4096


@dataclass(frozen=True)
class Canvas:
    """Pixel-centre coordinates ``x``, ``y`` (each ``(H, W)``) and the pixel size ``px`` in units."""

    x: torch.Tensor
    y: torch.Tensor
    px: float

    @property
    def shape(self) -> tuple[int, int]:
        return (self.x.shape[0], self.x.shape[1])


def canvas(size: int | tuple[int, int], device: torch.device | str = "cpu") -> Canvas:
    """Coordinates of an ``(H, W)`` image whose shorter side spans ``[-0.5, 0.5]`` (y grows downwards)."""
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    for name, v in (("height", h), ("width", w)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_SIDE:
            raise InputError(f"size: {name} must be an int in [1, {MAX_SIDE}], got {v!r}", hint="pass size=224 or size=(H, W)")
    m = min(h, w)
    px = 1.0 / m
    ys = (torch.arange(h, dtype=torch.float32, device=device) + 0.5 - h / 2) * px
    xs = (torch.arange(w, dtype=torch.float32, device=device) + 0.5 - w / 2) * px
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return Canvas(x, y, px)


def uniform(g: torch.Generator, low: float = 0.0, high: float = 1.0) -> float:
    """One uniform number from ``g`` (float64 draw, so it is the same on every machine)."""
    return low + (high - low) * float(torch.rand((), generator=g, dtype=torch.float64).item())


def rotate(x: torch.Tensor, y: torch.Tensor, angle: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinates rotated by ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return c * x - s * y, s * x + c * y


def smoothstep(e0: float, e1: float, v: torch.Tensor) -> torch.Tensor:
    """Hermite step from 0 at ``e0`` to 1 at ``e1``."""
    t = ((v - e0) / (e1 - e0)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``a + (b - a) * t`` with broadcasting (colours ``(3, 1, 1)``, weights ``(H, W)``)."""
    return a + (b - a) * t


def rgb(r: float, g: float, b: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """A colour as ``(3, 1, 1)`` float32, ready to broadcast over an image."""
    return torch.tensor([r, g, b], dtype=torch.float32, device=device).view(3, 1, 1)


def fwidth(f: torch.Tensor) -> torch.Tensor:
    """How much ``f`` (``(H, W)``) changes from one pixel to the next (``|df/dx| + |df/dy|``), as in shaders."""
    p = F.pad(f[None, None], (0, 1, 0, 1), mode="replicate")[0, 0]
    return (p[:-1, 1:] - p[:-1, :-1]).abs() + (p[1:, :-1] - p[:-1, :-1]).abs()


def aa_step(f: torch.Tensor, edge: float | torch.Tensor = 0.0, width: torch.Tensor | None = None) -> torch.Tensor:
    """Anti-aliased ``f > edge``: a one-pixel-wide linear ramp across the edge."""
    w = fwidth(f) if width is None else width
    return ((f - edge) / w.clamp_min(1e-6) + 0.5).clamp(0, 1)


def _octave_weight(freq: float, px: float) -> float:
    """1 for octaves well below the pixel grid's Nyquist frequency, fading to 0 at it."""
    nyq = 0.5 / px
    return min(1.0, max(0.0, (nyq - freq) / (0.5 * nyq)))


class ValueNoise:
    """Smooth periodic value noise in ``[-1, 1]`` from a random lattice table drawn from ``g``."""

    def __init__(self, g: torch.Generator, device: torch.device | str = "cpu") -> None:
        self.table = (torch.rand(PERIOD * PERIOD, generator=g, dtype=torch.float32) * 2 - 1).to(device)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, freq: float = 1.0) -> torch.Tensor:
        xf, yf = x * freq, y * freq
        x0, y0 = torch.floor(xf), torch.floor(yf)
        tx, ty = xf - x0, yf - y0
        tx = tx * tx * tx * (tx * (tx * 6 - 15) + 10)
        ty = ty * ty * ty * (ty * (ty * 6 - 15) + 10)
        ix = torch.remainder(x0.long(), PERIOD)
        iy = torch.remainder(y0.long(), PERIOD)
        ix1 = torch.remainder(ix + 1, PERIOD)
        iy1 = torch.remainder(iy + 1, PERIOD)
        t = self.table
        a = t[iy * PERIOD + ix]
        b = t[iy * PERIOD + ix1]
        c = t[iy1 * PERIOD + ix]
        d = t[iy1 * PERIOD + ix1]
        top = a + (b - a) * tx
        bot = c + (d - c) * tx
        return top + (bot - top) * ty


def fbm(
    g: torch.Generator,
    cv: Canvas,
    x: torch.Tensor,
    y: torch.Tensor,
    freq: float,
    octaves: int = 4,
    gain: float = 0.5,
    lacunarity: float = 2.0,
) -> torch.Tensor:
    """Fractal sum of value-noise octaves, roughly in ``[-1, 1]``; octaves finer than the pixels fade out.

    Every octave draws its table from ``g`` whether or not it is visible, so the
    random stream (and hence every later draw) does not depend on the resolution.
    """
    out = torch.zeros_like(x)
    amp, total, f = 1.0, 0.0, freq
    for _ in range(octaves):
        n = ValueNoise(g, x.device)
        w = _octave_weight(f, cv.px)
        if w > 0:
            out += (amp * w) * n(x, y, f)
        total += amp
        amp *= gain
        f *= lacunarity
    return out / total


@dataclass(frozen=True)
class Cells:
    """Worley (cellular) noise: distances to the nearest and second-nearest feature point.

    ``f1``/``f2`` are in cell units; ``dx``/``dy`` point from the pixel to the nearest
    feature point; ``value`` is a uniform ``[0, 1)`` number per cell (for colour variation).
    """

    f1: torch.Tensor
    f2: torch.Tensor
    dx: torch.Tensor
    dy: torch.Tensor
    value: torch.Tensor
    value2: torch.Tensor


def cells(g: torch.Generator, x: torch.Tensor, y: torch.Tensor, freq: float, jitter: float = 0.9) -> Cells:
    """Jittered-grid Worley noise at ``freq`` cells per unit (tables drawn from ``g``)."""
    dev = x.device
    jx = (torch.rand(PERIOD * PERIOD, generator=g) * jitter + (1 - jitter) / 2).to(dev)
    jy = (torch.rand(PERIOD * PERIOD, generator=g) * jitter + (1 - jitter) / 2).to(dev)
    val = torch.rand(PERIOD * PERIOD, generator=g).to(dev)
    val2 = torch.rand(PERIOD * PERIOD, generator=g).to(dev)
    xf, yf = x * freq, y * freq
    cx, cy = torch.floor(xf), torch.floor(yf)
    fx, fy = xf - cx, yf - cy
    cxl, cyl = cx.long(), cy.long()
    big = torch.full_like(x, 1e9)
    f1, f2 = big.clone(), big.clone()
    ndx, ndy = torch.zeros_like(x), torch.zeros_like(x)
    nid = torch.zeros_like(cxl)
    for oy in (-1, 0, 1):
        for ox in (-1, 0, 1):
            idx = torch.remainder(cyl + oy, PERIOD) * PERIOD + torch.remainder(cxl + ox, PERIOD)
            px_ = ox + jx[idx] - fx
            py_ = oy + jy[idx] - fy
            d = torch.sqrt(px_ * px_ + py_ * py_)
            closer = d < f1
            f2 = torch.where(closer, f1, torch.minimum(f2, d))
            f1 = torch.where(closer, d, f1)
            ndx = torch.where(closer, px_, ndx)
            ndy = torch.where(closer, py_, ndy)
            nid = torch.where(closer, idx, nid)
    return Cells(f1, f2, ndx, ndy, val[nid], val2[nid])
