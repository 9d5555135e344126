"""Procedural outdoor scenes for backgrounds: savanna, lakeside, seashore, valley, alp.

Same contract as the textures (:mod:`foolbox_lite.assets.procedural`, whose one table
lists them as kind ``background``): seeded by a
``torch.Generator``, defined in continuous coordinates (the shorter side is one
unit, y downwards), rendered as ``(3, H, W)`` float32 in ``[0, 1]``.  Each scene
is a sky with clouds, ridges drawn from 1-D noise, and a textured ground or
water plane whose noise is compressed towards the horizon for perspective.
"""

from __future__ import annotations

import torch

from ...seeding import draw_seed
from ._field import Canvas, aa_step, fbm, lerp, rgb, smoothstep, uniform

__all__ = ["alp", "lakeside", "savanna", "seashore", "valley"]


def _sky(g: torch.Generator, cv: Canvas, horizon: float, cloudiness: float) -> torch.Tensor:
    """Blue sky fading to pale at the horizon, with soft cumulus clouds."""
    dev = cv.x.device
    t = smoothstep(-0.6, horizon, cv.y)
    sky = lerp(rgb(0.22, 0.42, 0.78, dev), rgb(0.72, 0.83, 0.95, dev), t)
    n = fbm(g, cv, cv.x * 0.6, cv.y * 1.8, freq=3.0, octaves=5)
    cloud = smoothstep(0.35 - cloudiness, 0.75 - cloudiness, n) * (1 - smoothstep(horizon - 0.25, horizon, cv.y))
    shade = 0.82 + 0.18 * smoothstep(0.0, 0.5, n)
    return lerp(sky, rgb(0.97, 0.97, 0.98, dev) * shade, cloud)


def _ridge(g: torch.Generator, cv: Canvas, base: float, amp: float, freq: float, octaves: int = 5, gain: float = 0.5) -> torch.Tensor:
    """A skyline height per pixel column (``(H, W)``, constant down each column), from 1-D noise."""
    zero = torch.zeros_like(cv.x) + 0.37
    return base - amp * fbm(g, cv, cv.x, zero, freq=freq, octaves=octaves, gain=gain)


def _ground_coords(cv: Canvas, horizon: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Perspective plane coordinates below the horizon, and a fade that hides detail near it."""
    dy = (cv.y - horizon).clamp_min(1e-3)
    depth = 0.25 / dy
    gx, gz = cv.x * depth, depth
    fade = smoothstep(0.0, 0.12, cv.y - horizon)
    return gx, gz, fade


def savanna(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """Golden grassland under a wide sky, a low blue tree line and flat-topped acacias."""
    dev = cv.x.device
    horizon = uniform(g, -0.08, 0.02)
    img = _sky(g, cv, horizon, 0.15)
    far = _ridge(g, cv, horizon - 0.005, 0.03, 3.0)
    img = lerp(img, rgb(0.45, 0.52, 0.50, dev), aa_step(cv.y - far))
    gx, gz, fade = _ground_coords(cv, horizon)
    grass_n = fbm(g, cv, gx * 4.0, gz * 4.0, freq=2.0, octaves=4) * fade
    blades = fbm(g, cv, cv.x * 3.0, cv.y * 0.5, freq=40.0, octaves=3) * smoothstep(0.05, 0.4, cv.y - horizon)
    dry = lerp(rgb(0.78, 0.66, 0.38, dev), rgb(0.60, 0.55, 0.28, dev), smoothstep(-0.3, 0.4, grass_n))
    ground = dry * (1 + 0.18 * blades) * (0.9 + 0.15 * smoothstep(0.0, 0.5, cv.y - horizon))
    img = lerp(img, ground, aa_step(cv.y - horizon))
    for _ in range(3):  # acacia trees: thin trunk, flat wide crown
        tx = uniform(g, -0.7, 0.7)
        dist = uniform(g, 0.02, 0.09)
        base_y = horizon + dist
        s = dist * 2.2
        trunk = aa_step(s * 0.035 - (cv.x - tx).abs()) * aa_step(cv.y - (base_y - s * 0.55)) * aa_step(base_y - cv.y)
        crown_n = fbm(g, cv, cv.x, cv.y, freq=30.0, octaves=2)
        cy = base_y - s * 0.6
        crown = ((cv.x - tx) / (s * 0.75)) ** 2 + ((cv.y - cy) / (s * 0.16)) ** 2
        crown_m = aa_step(1.0 + 0.35 * crown_n - crown)
        tree = torch.maximum(trunk, crown_m)
        img = lerp(img, rgb(0.18, 0.22, 0.10, dev) * (1 + 0.3 * crown_n), tree)
    return img.clamp(0, 1)


def _forest_line(g: torch.Generator, cv: Canvas, y: torch.Tensor, horizon: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distant hills with a tree line evaluated at rows ``y``: their skyline, mask and colour."""
    dev = cv.x.device
    hill = _ridge(g, cv, horizon - 0.06, 0.12, 1.5, octaves=3)
    trees = 0.012 * fbm(g, cv, cv.x, torch.zeros_like(cv.x), freq=60.0, octaves=2)
    top = hill - trees
    m = aa_step(y - top) * aa_step(horizon - y + 1e-3)
    tone = fbm(g, cv, cv.x, y, freq=20.0, octaves=3)
    colour = lerp(rgb(0.16, 0.28, 0.16, dev), rgb(0.28, 0.40, 0.22, dev), smoothstep(-0.4, 0.4, tone))
    colour = lerp(colour, rgb(0.45, 0.55, 0.62, dev), 0.35 * (1 - smoothstep(horizon - 0.15, horizon, y)))
    return top, m, colour


def _child(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def lakeside(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """A calm lake reflecting forested hills and sky, with a grassy shore in front."""
    dev = cv.x.device
    horizon = uniform(g, -0.02, 0.06)
    sky_seed, hill_seed = draw_seed(g), draw_seed(g)
    img = _sky(_child(sky_seed), cv, horizon, 0.1)
    _, hills, hcol = _forest_line(_child(hill_seed), cv, cv.y, horizon)
    img = lerp(img, hcol, hills)
    # the water mirrors the same sky and hills (same seeds) about the horizon, rippled and darkened
    ripple = 0.01 * fbm(g, cv, cv.x * 0.2, cv.y * 4.0, freq=12.0, octaves=3)
    refl_y = 2 * horizon - cv.y + ripple
    refl_sky = _sky(_child(sky_seed), Canvas(cv.x, refl_y, cv.px), horizon, 0.1)
    _, refl_hill, refl_col = _forest_line(_child(hill_seed), cv, refl_y, horizon)
    water = lerp(refl_sky, refl_col * 0.8, refl_hill) * rgb(0.85, 0.92, 0.95, dev)
    water = water * (1 + 0.06 * fbm(g, cv, cv.x * 0.3, cv.y * 3.0, freq=25.0, octaves=2))
    img = lerp(img, water, aa_step(cv.y - horizon))
    shore = _ridge(g, cv, 0.38, 0.06, 2.0, octaves=4)
    grass = rgb(0.30, 0.42, 0.15, dev) * (1 + 0.25 * fbm(g, cv, cv.x * 3.0, cv.y * 0.5, freq=30.0, octaves=3))
    img = lerp(img, grass, aa_step(cv.y - shore))
    return img.clamp(0, 1)


def seashore(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """Blue sea to the horizon, breaking surf with foam, wet and dry sand in front."""
    dev = cv.x.device
    horizon = uniform(g, -0.12, -0.04)
    img = _sky(g, cv, horizon, 0.2)
    gx, gz, fade = _ground_coords(cv, horizon)
    wave = fbm(g, cv, gx * 1.0, gz * 6.0, freq=3.0, octaves=4) * fade
    depth_t = smoothstep(horizon, 0.2, cv.y)
    sea = lerp(rgb(0.08, 0.25, 0.45, dev), rgb(0.10, 0.50, 0.58, dev), depth_t) * (1 + 0.25 * wave)
    img = lerp(img, sea, aa_step(cv.y - horizon))
    beach = _ridge(g, cv, 0.12, 0.05, 1.5, octaves=3)
    foam_n = fbm(g, cv, cv.x, cv.y * 3.0, freq=12.0, octaves=3)
    surf = aa_step(0.03 + 0.02 * foam_n - (cv.y - beach + 0.03).abs())
    img = lerp(img, rgb(0.93, 0.95, 0.95, dev), surf * smoothstep(-0.3, 0.2, foam_n))
    sand_n = fbm(g, cv, cv.x, cv.y, freq=30.0, octaves=3)
    wet = 1 - smoothstep(0.0, 0.08, cv.y - beach)
    sand = lerp(rgb(0.88, 0.80, 0.62, dev), rgb(0.62, 0.55, 0.42, dev), wet) * (1 + 0.08 * sand_n)
    img = lerp(img, sand, aa_step(cv.y - beach))
    return img.clamp(0, 1)


def _mountains(
    g: torch.Generator, cv: Canvas, top: torch.Tensor, snowline: float, rock: torch.Tensor, cap: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask and colour of a mountain range with skyline ``top``: rock, snow above ``snowline`` and ``cap`` below the crest."""
    dev = cv.x.device
    m = aa_step(cv.y - top)
    streak = fbm(g, cv, cv.x * 1.0, cv.y * 0.4, freq=14.0, octaves=4)
    high = torch.maximum(smoothstep(snowline + 0.04, snowline - 0.04, cv.y + 0.05 * streak), smoothstep(cap + 0.03, cap - 0.03, cv.y - top + 0.06 * streak))
    snow = high * smoothstep(-0.2, 0.2, streak + 0.3)
    shade = 0.75 + 0.35 * smoothstep(-0.5, 0.5, fbm(g, cv, cv.x, cv.y, freq=8.0, octaves=4))
    colour = lerp(rock * shade, rgb(0.95, 0.96, 0.98, dev) * shade, snow)
    return m, colour


def alp(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """High snow-capped jagged peaks above rocky slopes and a green alpine meadow."""
    dev = cv.x.device
    img = _sky(g, cv, 0.1, 0.05)
    peaks = _ridge(g, cv, 0.0, 0.9, 1.2, octaves=6, gain=0.55)
    m, col = _mountains(g, cv, peaks, uniform(g, -0.15, -0.05), rgb(0.42, 0.40, 0.40, dev), cap=uniform(g, 0.08, 0.14))
    img = lerp(img, col, m)
    meadow_top = _ridge(g, cv, 0.30, 0.08, 1.0, octaves=4)
    meadow = rgb(0.32, 0.52, 0.20, dev) * (1 + 0.2 * fbm(g, cv, cv.x * 2.0, cv.y, freq=25.0, octaves=3))
    img = lerp(img, meadow, aa_step(cv.y - meadow_top))
    return img.clamp(0, 1)


def valley(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """A green valley floor between steep forested slopes, distant blue mountains behind."""
    dev = cv.x.device
    img = _sky(g, cv, 0.0, 0.15)
    far = _ridge(g, cv, -0.08, 0.12, 2.0, octaves=5)
    fm, fcol = _mountains(g, cv, far, -0.12, rgb(0.45, 0.52, 0.62, dev))
    img = lerp(img, lerp(fcol, rgb(0.62, 0.70, 0.80, dev), 0.45), fm)
    depth = (cv.x.abs() * uniform(g, 0.9, 1.2)) ** 1.3
    slope_top = 0.05 - 0.9 * depth + 0.05 * fbm(g, cv, cv.x, torch.zeros_like(cv.x), freq=4.0, octaves=4)
    sm = aa_step(cv.y - slope_top)
    forest = fbm(g, cv, cv.x, cv.y, freq=25.0, octaves=3)
    scol = lerp(rgb(0.12, 0.24, 0.10, dev), rgb(0.28, 0.40, 0.18, dev), smoothstep(-0.4, 0.4, forest))
    scol = scol * (0.8 + 0.4 * smoothstep(-0.4, 0.4, cv.x * torch.sign(-cv.x + 1e-6)))
    img = lerp(img, scol, sm)
    floor = aa_step(cv.y - (0.12 + 0.25 * cv.x.abs() ** 2))
    fcol2 = rgb(0.38, 0.58, 0.22, dev) * (1 + 0.15 * fbm(g, cv, cv.x, cv.y * 3.0, freq=12.0, octaves=3))
    img = lerp(img, fcol2, floor)
    return img.clamp(0, 1)

