"""Animal coat textures: zebra, tiger, leopard, cheetah, giraffe.

Each generator maps a ``torch.Generator`` and a :class:`~._field.Canvas` to an
image ``(3, H, W)`` in ``[0, 1]``; all shapes are defined in continuous units
(the shorter side is one unit), so the picture does not depend on the resolution.
"""

from __future__ import annotations

import math

import torch

from ._field import Canvas, aa_step, cells, fbm, lerp, rgb, rotate, smoothstep, uniform

__all__ = ["cheetah", "giraffe", "leopard", "tiger", "zebra"]


def _fur(g: torch.Generator, cv: Canvas, xr: torch.Tensor, yr: torch.Tensor, amount: float, grain: float = 0.15) -> torch.Tensor:
    """Multiplicative fur shading around 1, ``(H, W)``: hair streaks along ``xr``, fine grain, broad light."""
    streak = fbm(g, cv, xr * 0.3, yr * 1.5, freq=60.0, octaves=2)
    fine = fbm(g, cv, cv.x, cv.y, freq=90.0, octaves=2)
    broad = fbm(g, cv, cv.x, cv.y, freq=1.5, octaves=2)
    return 1.0 + amount * streak + grain * fine + 0.12 * broad


def zebra(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """Black wavy, branching stripes of varying width on off-white, with fur streaks and body shading."""
    dev = cv.x.device
    angle = uniform(g, -0.5, 0.5)
    freq = uniform(g, 8.0, 10.0)
    xr, yr = rotate(cv.x, cv.y, angle)
    bend = uniform(g, -0.8, 0.8)
    warp = 0.07 * fbm(g, cv, cv.x, cv.y, freq=1.2, octaves=2) + 0.015 * fbm(g, cv, cv.x, cv.y, freq=5.0, octaves=2)
    warp = warp + bend * 0.3 * yr * yr
    phase = 2 * math.pi * freq * (xr + warp)
    branch = fbm(g, cv, cv.x, cv.y, freq=5.0, octaves=3)
    width = 0.25 * fbm(g, cv, cv.x, cv.y, freq=1.5, octaves=2)
    s = torch.sin(phase) + 0.5 * branch
    black = aa_step(s, width)
    img = lerp(rgb(0.93, 0.92, 0.88, dev), rgb(0.05, 0.05, 0.05, dev), black)
    body = 0.82 + 0.22 * smoothstep(-0.5, 0.5, fbm(g, cv, cv.x, cv.y, freq=1.0, octaves=2))
    img = img * body * _fur(g, cv, yr, xr, 0.10)
    return img.clamp(0, 1)


def tiger(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """Many narrow, tapered, sometimes doubled black stripes on orange fur with cream patches."""
    dev = cv.x.device
    angle = uniform(g, -0.4, 0.4)
    freq = uniform(g, 10.0, 12.0)
    xr, yr = rotate(cv.x, cv.y, angle)
    warp = 0.06 * fbm(g, cv, cv.x, cv.y, freq=1.5, octaves=3) + uniform(g, -0.6, 0.6) * 0.25 * yr * yr
    phase = 2 * math.pi * freq * (xr + warp)
    taper = fbm(g, cv, cv.x * 0.6, cv.y * 1.6, freq=2.8, octaves=3)
    breakup = fbm(g, cv, cv.x, cv.y, freq=9.0, octaves=2)
    s = torch.sin(phase) + 0.6 * taper + 0.2 * breakup
    black = aa_step(s, 0.72)
    cream = 0.35 * smoothstep(0.15, 0.55, fbm(g, cv, cv.x, cv.y, freq=1.2, octaves=3))
    orange = lerp(rgb(0.90, 0.33, 0.02, dev), rgb(0.82, 0.66, 0.34, dev), smoothstep(-0.5, 0.5, taper))
    orange = lerp(orange, rgb(0.95, 0.90, 0.80, dev), cream)
    img = lerp(orange, rgb(0.05, 0.04, 0.03, dev), black)
    img = img * _fur(g, cv, yr, xr, 0.12, grain=0.35)
    return img.clamp(0, 1)


def leopard(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """Golden fur with rosettes (3-5 dark blobs around a darker centre) and small solid spots."""
    dev = cv.x.device
    scale = uniform(g, 10.4, 11.4)
    wx = cv.x + 0.025 * fbm(g, cv, cv.x, cv.y, freq=5.0, octaves=2)
    wy = cv.y + 0.025 * fbm(g, cv, cv.y, cv.x, freq=5.0, octaves=2)
    c = cells(g, wx, wy, scale, jitter=0.1)  # rosettes are evenly spaced; the warp keeps them from looking gridded
    theta = torch.atan2(c.dy, c.dx)
    radius = 0.363 + 0.08 * (c.value - 0.5)
    wobble = 0.044 * fbm(g, cv, cv.x, cv.y, freq=14.0, octaves=2)
    ring_w = 0.136 + wobble
    ring = aa_step(ring_w - (c.f1 - radius).abs())
    breaks = aa_step(torch.sin(theta * (3 + torch.floor(c.value2 * 3)) + c.value * 6.283) + 0.41 + 4 * wobble)
    ring = ring * breaks
    centre = aa_step(radius - c.f1) * (1 - ring)
    s = cells(g, cv.x, cv.y, scale * 1.7, jitter=0.9)
    spot = aa_step(0.12 + 0.06 * (s.value - 0.5) + wobble - s.f1) * aa_step(c.f1 - radius - 0.2) * (s.value2 > 0.5).float()
    light = smoothstep(-0.3, 0.5, fbm(g, cv, cv.x, cv.y, freq=1.3, octaves=3))
    base = lerp(rgb(0.70, 0.46, 0.20, dev), rgb(0.86, 0.55, 0.36, dev), light)
    img = lerp(base, rgb(0.81, 0.54, 0.35, dev), centre * 0.85)
    img = lerp(img, rgb(0.07, 0.05, 0.04, dev), torch.maximum(ring, spot))
    img = img * _fur(g, cv, cv.x, cv.y, 0.05, grain=0.073)
    return img.clamp(0, 1)


def cheetah(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """Warm tawny fur densely covered with small solid round black spots, randomly placed."""
    dev = cv.x.device
    scale = uniform(g, 18.0, 20.0)
    wx = cv.x + 0.019 * fbm(g, cv, cv.x, cv.y, freq=8.0, octaves=2)
    wy = cv.y + 0.019 * fbm(g, cv, cv.y, cv.x, freq=8.0, octaves=2)
    c = cells(g, wx, wy, scale, jitter=1.0)
    r = 0.32 + 0.064 * (c.value - 0.5)
    spot = aa_step(r - c.f1)
    light = smoothstep(-0.3, 0.5, fbm(g, cv, cv.x, cv.y, freq=1.3, octaves=3))
    base = lerp(rgb(1.0, 0.69, 0.39, dev), rgb(0.94, 0.84, 0.62, dev), light)
    img = lerp(base, rgb(0.08, 0.06, 0.05, dev), spot)
    img = img * _fur(g, cv, cv.x, cv.y, 0.048, grain=0.21)
    return img.clamp(0, 1)


def giraffe(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """Irregular brown polygonal patches separated by a network of cream lines."""
    dev = cv.x.device
    scale = uniform(g, 3.5, 4.5)
    wx = cv.x + 0.03 * fbm(g, cv, cv.x, cv.y, freq=4.0, octaves=3)
    wy = cv.y + 0.03 * fbm(g, cv, cv.y, cv.x, freq=4.0, octaves=3)
    c = cells(g, wx, wy, scale, jitter=0.85)
    line = aa_step(0.10 - (c.f2 - c.f1))
    tone = c.value.unsqueeze(0)
    patch = lerp(rgb(0.45, 0.24, 0.10, dev), rgb(0.72, 0.42, 0.16, dev), tone)
    patch = patch * (0.85 + 0.25 * smoothstep(0.0, 0.5, c.f2 - c.f1))
    img = lerp(patch, rgb(0.93, 0.88, 0.74, dev), line)
    img = img * _fur(g, cv, cv.x, cv.y, 0.06)
    return img.clamp(0, 1)
