"""Man-made and structural textures: honeycomb, brick, chain mail, scales, wood grain.

Same contract as :mod:`.animal`: ``(g, canvas) -> (3, H, W)`` in ``[0, 1]``,
defined in continuous units so the picture does not depend on the resolution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._field import PERIOD, Canvas, aa_step, canvas, fbm, lerp, rgb, rotate, smoothstep, uniform

__all__ = ["brick", "chain_mail", "honeycomb", "scales", "wood_grain"]

_SQRT3 = math.sqrt(3.0)


def _cell_random(g: torch.Generator, ix: torch.Tensor, iy: torch.Tensor) -> torch.Tensor:
    """A uniform ``[0, 1)`` number per integer cell ``(ix, iy)`` from a table drawn from ``g``."""
    table = torch.rand(PERIOD * PERIOD, generator=g).to(ix.device)
    return table[torch.remainder(iy, PERIOD) * PERIOD + torch.remainder(ix, PERIOD)]


def honeycomb(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """Hexagonal wax cells: yellow walls, amber honey or dark empty cells with depth shading, some capped."""
    dev = cv.x.device
    scale = uniform(g, 8.0, 10.0)
    xr, yr = rotate(cv.x, cv.y, uniform(g, -0.3, 0.3))
    px, py = xr * scale, yr * scale
    # nearest centre of a pointy-top hex lattice (centres on two offset rectangular lattices)
    sx, sy = 1.0, _SQRT3
    ax = torch.remainder(px, sx) - sx / 2
    ay = torch.remainder(py, sy) - sy / 2
    bx = torch.remainder(px - sx / 2, sx) - sx / 2
    by = torch.remainder(py - sy / 2, sy) - sy / 2
    use_a = ax * ax + ay * ay < bx * bx + by * by
    lx = torch.where(use_a, ax, bx)
    ly = torch.where(use_a, ay, by)
    cx = torch.round((px - lx) * 2).long()
    cy = torch.round((py - ly) / (sy / 2)).long()
    # hex distance: 0 at the centre, 0.5 on the edges
    hd = torch.maximum(lx.abs(), (lx.abs() * 0.5 + ly.abs() * (_SQRT3 / 2)))
    wall_w = 0.07 + 0.015 * fbm(g, cv, cv.x, cv.y, freq=10.0, octaves=2)
    inside = aa_step(0.5 - wall_w - hd)
    r1 = _cell_random(g, cx, cy)
    r2 = _cell_random(g, cx, cy)
    depth = smoothstep(0.0, 0.45 - 0.07, hd)  # 0 at the cell centre, 1 near the wall
    honey = lerp(rgb(0.80, 0.48, 0.06, dev), rgb(0.50, 0.25, 0.03, dev), depth)
    empty = lerp(rgb(0.45, 0.27, 0.08, dev), rgb(0.78, 0.56, 0.22, dev), depth)
    capped = rgb(0.93, 0.80, 0.45, dev) * (0.92 + 0.1 * depth)
    kind_honey = (r1 < 0.55).float()
    kind_cap = (r1 > 0.85).float()
    cell = lerp(lerp(empty, honey, kind_honey), capped, kind_cap)
    cell = cell * (0.85 + 0.3 * r2)
    # glossy highlight on honey, offset up-left
    hl = smoothstep(0.14, 0.02, torch.sqrt((lx + 0.12) ** 2 + (ly + 0.12) ** 2)) * kind_honey * (1 - kind_cap)
    cell = cell + 0.45 * hl
    wall = rgb(0.96, 0.82, 0.42, dev) * (0.9 + 0.1 * fbm(g, cv, cv.x, cv.y, freq=30.0, octaves=2))
    img = lerp(wall, cell, inside)
    img = img * (1 + 0.15 * fbm(g, cv, cv.x, cv.y, freq=1.5, octaves=2))
    return img.clamp(0, 1)


def brick(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """A running-bond brick wall: red-brown bricks varying in colour, recessed grey mortar, grit."""
    dev = cv.x.device
    bw = uniform(g, 0.20, 0.26)
    bh = bw / 3.1
    mortar = 0.012
    xr, yr = rotate(cv.x, cv.y, uniform(g, -0.05, 0.05))
    row = torch.floor(yr / bh)
    xo = xr + torch.remainder(row, 2) * (bw / 2)
    col = torch.floor(xo / bw)
    lx = xo - col * bw
    ly = yr - row * bh
    edge = torch.minimum(torch.minimum(lx, bw - lx), torch.minimum(ly, bh - ly))
    rough = 0.004 * fbm(g, cv, cv.x, cv.y, freq=40.0, octaves=3)
    body = aa_step(edge + rough - mortar / 2)
    ri, ci = row.long(), col.long()
    r1 = _cell_random(g, ci, ri).unsqueeze(0)
    r2 = _cell_random(g, ci, ri).unsqueeze(0)
    tone = lerp(rgb(0.62, 0.24, 0.14, dev), rgb(0.45, 0.17, 0.10, dev), r1)
    tone = lerp(tone, rgb(0.70, 0.42, 0.28, dev), (r2 > 0.8).float() * 0.7)
    grit = fbm(g, cv, cv.x, cv.y, freq=30.0, octaves=3)
    mottle = fbm(g, cv, cv.x, cv.y, freq=6.0, octaves=3)
    bricks = tone * (1 + 0.18 * grit + 0.12 * mottle)
    bricks = bricks * (0.85 + 0.15 * smoothstep(0.0, 0.015, edge))  # rounded, darker edges
    mort = rgb(0.68, 0.65, 0.60, dev) * (0.9 + 0.15 * grit)
    shadow = 1 - 0.35 * smoothstep(mortar / 2 + 0.004, 0.0, ly) * (1 - body)  # mortar shaded under the brick above
    img = lerp(mort * shadow, bricks, body)
    return img.clamp(0, 1)


def chain_mail(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """Interlinked steel rings (European 4-in-1) with diffuse and specular shading on a dark backing."""
    radius = uniform(g, 0.036, 0.044)
    angle = uniform(g, -0.25, 0.25)
    # the wire is thin: supersample (then average) until it spans at least ~1.5 pixels
    ss = max(1, min(4, math.ceil(1.5 * cv.px / (radius * 0.26))))
    if ss == 1:
        return _chain_mail(g, cv, radius, angle)
    fine = canvas((cv.shape[0] * ss, cv.shape[1] * ss), cv.x.device)
    return F.avg_pool2d(_chain_mail(g, fine, radius, angle)[None], ss)[0]


def _chain_mail(g: torch.Generator, cv: Canvas, radius: float, angle: float) -> torch.Tensor:
    dev = cv.x.device
    wire = radius * 0.26
    squash = 0.8  # rings seen at an angle look elliptical
    sx, sy = radius * 1.9, radius * 1.1
    xr, yr = rotate(cv.x, cv.y, angle)
    # hand-made mail is not a perfect lattice: a gentle warp, and a tarnish tone per ring
    xr = xr + 0.6 * radius * fbm(g, cv, cv.x, cv.y, freq=3.0, octaves=2)
    yr = yr + 0.6 * radius * fbm(g, cv, cv.y, cv.x, freq=3.0, octaves=2)
    tarnish = 0.75 + 0.4 * torch.rand(PERIOD * PERIOD, generator=g).to(dev)
    tone = torch.ones_like(cv.x)
    row0 = torch.floor(yr / sy)
    best_z = torch.full_like(cv.x, -1e9)
    nx = torch.zeros_like(cv.x)
    ny = torch.zeros_like(cv.x)
    nz = torch.zeros_like(cv.x)
    cover = torch.zeros_like(cv.x)
    for dr in (-1, 0, 1):  # rings reach 1.15 row spacings from their centre: three rows suffice
        row = row0 + dr
        shift = torch.remainder(row, 2) * (sx / 2)
        col0 = torch.floor((xr - shift) / sx)
        lean = torch.where(torch.remainder(row, 2) == 0, 1.0, -1.0)
        for dc in (-1, 0, 1):
            col = col0 + dc
            u = xr - (col * sx + shift + sx / 2)
            v = yr - (row * sy + sy / 2)
            ue = u / squash
            d = torch.sqrt(ue * ue + v * v).clamp_min(1e-6)
            t = (d - radius) / wire
            prof = (1 - t * t).clamp_min(0)
            h = torch.sqrt(prof) * wire
            z = h + lean * 0.35 * u + 0.3 * v
            on = aa_step(1 - t.abs(), 0.0, width=torch.full_like(t, cv.px / wire * 2))
            take = (on > 0) & (z > best_z)
            best_z = torch.where(take, z, best_z)
            nx = torch.where(take, t * ue / d, nx)
            ny = torch.where(take, t * v / d, ny)
            nz = torch.where(take, torch.sqrt(prof), nz)
            cover = torch.where(take, torch.maximum(on, cover), cover)
            ring_id = torch.remainder(row.long(), PERIOD) * PERIOD + torch.remainder(col.long(), PERIOD)
            tone = torch.where(take, tarnish[ring_id], tone)
    lx, ly, lz = -0.45, -0.55, 0.70
    diffuse = (nx * lx + ny * ly + nz * lz).clamp_min(0)
    spec = diffuse.pow(18)
    steel = rgb(0.58, 0.59, 0.62, dev)
    metal = steel * (0.25 + 0.85 * diffuse) * tone + 0.7 * spec
    metal = metal * (1 + 0.1 * fbm(g, cv, cv.x, cv.y, freq=3.0, octaves=2))
    back = rgb(0.10, 0.10, 0.11, dev)
    img = lerp(back, metal, cover)
    return img.clamp(0, 1)


def scales(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """Overlapping reptile scales in staggered rows: green-olive, keeled, dark seams, lighter tips."""
    dev = cv.x.device
    r = uniform(g, 0.045, 0.055)
    sx, sy = 2 * r * 0.95, r * 0.9
    xr, yr = rotate(cv.x, cv.y, uniform(g, -0.3, 0.3))
    row0 = torch.floor(yr / sy)
    table = torch.rand(PERIOD * PERIOD, generator=g).to(dev)
    best = torch.full_like(cv.x, -1e9)
    shade = torch.zeros_like(cv.x)
    tone = torch.zeros_like(cv.x)
    for dr in (-1, 0, 1, 2):
        row = row0 + dr
        shift = torch.remainder(row, 2) * (sx / 2)
        col0 = torch.floor((xr - shift) / sx)
        for dc in (-1, 0, 1):
            col = col0 + dc
            cx = col * sx + shift + sx / 2
            cy = row * sy
            u, v = xr - cx, yr - cy
            d = torch.sqrt(u * u + (v * 1.15) ** 2)
            inside = d < r
            take = inside & (row > best)  # lower rows overlap the rows above
            best = torch.where(take, row, best)
            rim = (d / r).clamp(0, 1)
            keel = (1 - (u / r).abs()).clamp(0, 1)
            s = 0.55 + 0.45 * (v / r).clamp(-1, 1) * 0.5 + 0.25 * keel - 0.6 * smoothstep(0.8, 1.0, rim)
            shade = torch.where(take, s, shade)
            tone = torch.where(take, table[torch.remainder(row.long(), PERIOD) * PERIOD + torch.remainder(col.long(), PERIOD)], tone)
    base = lerp(rgb(0.06, 0.30, 0.12, dev), rgb(0.20, 0.50, 0.18, dev), tone)
    img = base * shade.clamp(0.05, 1.3) + 0.35 * smoothstep(0.9, 1.2, shade)
    img = img * (1 + 0.12 * fbm(g, cv, cv.x, cv.y, freq=2.0, octaves=3))
    return img.clamp(0, 1)


def wood_grain(g: torch.Generator, cv: Canvas) -> torch.Tensor:
    """Plank wood: growth rings cut at a shallow angle, distorted, with fine fibres along the grain."""
    dev = cv.x.device
    xr, yr = rotate(cv.x, cv.y, uniform(g, -0.3, 0.3))
    centre = uniform(g, 0.6, 1.2)
    warp = 0.05 * fbm(g, cv, xr * 0.3, yr, freq=2.0, octaves=4)
    dist = torch.sqrt((yr + centre + warp) ** 2 + (0.06 * xr) ** 2)
    rings = torch.remainder(dist * uniform(g, 16.0, 22.0), 1.0)
    late = smoothstep(0.55, 0.85, rings) * (1 - smoothstep(0.9, 1.0, rings))
    fibre = fbm(g, cv, xr * 0.05, yr, freq=60.0, octaves=3)
    light = rgb(0.80, 0.58, 0.34, dev)
    darkc = rgb(0.52, 0.31, 0.14, dev)
    img = lerp(light, darkc, late * 0.9) * (1 + 0.08 * fibre)
    img = img * (1 + 0.1 * fbm(g, cv, cv.x, cv.y, freq=1.5, octaves=2))
    return img.clamp(0, 1)
