"""Shape silhouettes drawn in code: toilet seat, teapot, rocking chair, wine bottle, sports car, airliner.

Each shape is a small constructive solid geometry program over polygons (built
from line segments, ellipses and cubic Bezier curves) in a unit square (x to the
right, y downwards).  It is rendered through its signed distance, so the mask is
anti-aliased and exact at any size: ``shape_mask("teapot", 512)`` is the same
outline as at 224, only sharper.  The code is the source of truth; the PNGs in
the bank's ``shapes/`` folder are previews.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..errors import AssetError
from .procedural._field import canvas

__all__ = ["SHAPES", "Shape", "bezier", "ellipse", "list_shapes", "polygon_sdf", "rect", "shape_image", "shape_mask"]

Pts = list[tuple[float, float]]


# ----------------------------------------------------------------------------- primitives
def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 96, start: float = 0.0, stop: float = 2 * math.pi) -> Pts:
    """Points of an ellipse (or an arc from ``start`` to ``stop`` radians; y downwards)."""
    full = abs(stop - start - 2 * math.pi) < 1e-9
    k = n if full else n + 1
    return [(cx + rx * math.cos(start + (stop - start) * i / n), cy + ry * math.sin(start + (stop - start) * i / n)) for i in range(k)]


def bezier(p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float], p3: tuple[float, float], n: int = 24) -> Pts:
    """Points of a cubic Bezier curve from ``p0`` to ``p3`` (both included)."""
    out = []
    for i in range(n + 1):
        t = i / n
        a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t**3
        out.append((a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))
    return out


def rect(x0: float, y0: float, x1: float, y1: float) -> Pts:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def quad_strip(path: Pts, width: float | Sequence[float]) -> Pts:
    """A thick stroke along ``path`` as a polygon (``width`` constant or one per point, tapering)."""
    ws = [width] * len(path) if isinstance(width, (int, float)) else list(width)
    left, right = [], []
    for i, (x, y) in enumerate(path):
        ax, ay = path[max(0, i - 1)]
        bx, by = path[min(len(path) - 1, i + 1)]
        tx, ty = bx - ax, by - ay
        norm = math.hypot(tx, ty) or 1.0
        nx, ny = -ty / norm, tx / norm
        h = ws[i] / 2
        left.append((x + nx * h, y + ny * h))
        right.append((x - nx * h, y - ny * h))
    return left + right[::-1]


def mirror(half: Pts, axis: float = 0.5) -> Pts:
    """Close a left half-outline (top to bottom) into a shape symmetric about ``x = axis``."""
    return half + [(2 * axis - x, y) for x, y in reversed(half)]


def polygon_sdf(x: torch.Tensor, y: torch.Tensor, pts: Pts, chunk: int = 64, margin: float | None = None) -> torch.Tensor:
    """Signed distance to a closed polygon (negative inside, even-odd rule), ``(H, W)``.

    With ``margin``, only points within ``margin`` of the polygon's bounding box are
    computed exactly; the others get their distance to the box (a lower bound with the
    right sign), which is all an anti-aliased coverage ``0.5 - d / px`` needs when
    ``margin >= px``.  Segments are processed in chunks: memory is ``O(H * W * chunk)``.
    """
    if margin is not None:
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        x0, x1, y0, y1 = min(xs) - margin, max(xs) + margin, min(ys) - margin, max(ys) + margin
        near = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        box = torch.sqrt((x0 - x).clamp_min(0) ** 2 + (x - x1).clamp_min(0) ** 2 + (y0 - y).clamp_min(0) ** 2 + (y - y1).clamp_min(0) ** 2)
        out = box + margin
        if bool(near.any()):
            out[near] = polygon_sdf(x[near], y[near], pts, chunk)
        return out
    v = torch.tensor(pts, dtype=torch.float32, device=x.device)
    a, b = v, torch.roll(v, -1, 0)
    px, py = x.unsqueeze(-1), y.unsqueeze(-1)
    best = torch.full_like(x, float("inf"))
    inside = torch.zeros_like(x, dtype=torch.bool)
    for s in range(0, len(pts), chunk):
        ax, ay = a[s : s + chunk, 0], a[s : s + chunk, 1]
        ex, ey = b[s : s + chunk, 0] - ax, b[s : s + chunk, 1] - ay
        wx, wy = px - ax, py - ay
        t = ((wx * ex + wy * ey) / (ex * ex + ey * ey).clamp_min(1e-12)).clamp(0, 1)
        dx, dy = wx - ex * t, wy - ey * t
        best = torch.minimum(best, (dx * dx + dy * dy).amin(-1))
        by_ = ay + ey
        cond = (py >= ay) != (py >= by_)
        xcross = ax + ex * (py - ay) / torch.where(ey == 0, torch.ones_like(ey), ey)
        crosses = cond & (px < xcross)
        inside ^= (crosses.sum(-1) % 2).bool()
    d = best.sqrt()
    return torch.where(inside, -d, d)


# ----------------------------------------------------------------------------- shapes
#: A shape program: ``[("add" | "sub", points), ...]`` applied in order (union, then difference).
Program = list[tuple[str, Pts]]


def _egg(cx: float, top: float, bottom: float, half_w: float, front: float) -> Pts:
    """A closed egg outline: widest ``half_w`` near the back (``top``), narrowing to ``front`` at ``bottom``."""
    mid = top + 0.42 * (bottom - top)
    right = bezier((cx, top), (cx + half_w * 0.9, top), (cx + half_w, mid - 0.1 * (bottom - top)), (cx + half_w, mid), n=16)
    right += bezier((cx + half_w, mid), (cx + half_w, bottom - 0.15 * (bottom - top)), (cx + front, bottom), (cx, bottom), n=16)[1:]
    left = [(2 * cx - x, y) for x, y in reversed(right[1:-1])]
    return right + left


def _toilet_seat() -> Program:
    return [
        ("add", _egg(0.5, 0.03, 0.56, 0.25, 0.15)),  # the lid, raised, seen from the front
        ("sub", _egg(0.5, 0.415, 0.995, 0.365, 0.245)),  # a thin gap separates it from the seat
        ("add", rect(0.33, 0.40, 0.40, 0.50)),  # hinge blocks bridge the gap
        ("add", rect(0.60, 0.40, 0.67, 0.50)),
        ("add", _egg(0.5, 0.44, 0.97, 0.34, 0.22)),  # the ring seat, seen from above
        ("sub", _egg(0.5, 0.54, 0.905, 0.22, 0.13)),  # its hole
    ]


def _teapot() -> Program:
    body = ellipse(0.48, 0.60, 0.28, 0.24)
    foot = rect(0.33, 0.78, 0.63, 0.86)
    lid = ellipse(0.48, 0.40, 0.17, 0.07, start=math.pi, stop=2 * math.pi) + [(0.65, 0.42), (0.31, 0.42)]
    knob = ellipse(0.48, 0.31, 0.04, 0.035)
    spout_path = bezier((0.26, 0.66), (0.16, 0.64), (0.14, 0.48), (0.05, 0.38), n=20)
    spout = quad_strip(spout_path, [0.10 - 0.065 * i / 20 for i in range(21)])
    handle_out = ellipse(0.76, 0.58, 0.16, 0.17)
    handle_in = ellipse(0.76, 0.58, 0.10, 0.11)
    return [
        ("add", body),
        ("add", foot),
        ("add", lid),
        ("add", knob),
        ("add", spout),
        ("add", handle_out),
        ("sub", handle_in),
        ("add", body),  # the body covers the handle's inner left part again
    ]


def _rocking_chair() -> Program:
    back = [(0.60, 0.56), (0.70, 0.08), (0.80, 0.09), (0.69, 0.58)]
    seat = rect(0.26, 0.50, 0.70, 0.56)
    arm = rect(0.24, 0.33, 0.66, 0.36)
    arm_post = rect(0.29, 0.34, 0.33, 0.52)
    legs = [rect(0.30, 0.54, 0.34, 0.80), rect(0.61, 0.54, 0.65, 0.80)]
    rocker = quad_strip(bezier((0.08, 0.72), (0.30, 0.86), (0.65, 0.86), (0.92, 0.74), n=32), 0.035)
    prog: Program = [("add", back), ("add", seat), ("add", arm), ("add", arm_post), ("add", rocker)]
    prog += [("add", leg) for leg in legs]
    prog.append(("add", rect(0.31, 0.64, 0.64, 0.665)))  # stretcher
    return prog


def _wine_bottle() -> Program:
    half = [(0.455, 0.05), (0.445, 0.09), (0.455, 0.10)]
    half += [(0.46, 0.26)]
    half += bezier((0.46, 0.26), (0.46, 0.36), (0.37, 0.38), (0.37, 0.46), n=16)[1:]
    half += [(0.37, 0.90)]
    half += bezier((0.37, 0.90), (0.37, 0.94), (0.40, 0.95), (0.43, 0.95), n=6)[1:]
    return [("add", mirror(half))]


def _sports_car() -> Program:
    top = [(0.04, 0.60), (0.05, 0.555)]
    top += bezier((0.05, 0.555), (0.18, 0.52), (0.30, 0.51), (0.38, 0.48), n=12)[1:]
    top += bezier((0.38, 0.48), (0.45, 0.40), (0.52, 0.385), (0.62, 0.39), n=12)[1:]
    top += bezier((0.62, 0.39), (0.76, 0.41), (0.86, 0.46), (0.95, 0.50), n=12)[1:]
    top += [(0.96, 0.58), (0.94, 0.66), (0.06, 0.66)]
    wheels = [(0.23, 0.655), (0.78, 0.655)]
    prog: Program = [("add", top)]
    prog += [("sub", ellipse(cx, cy, 0.10, 0.10)) for cx, cy in wheels]
    prog += [("add", ellipse(cx, cy, 0.085, 0.085)) for cx, cy in wheels]
    return prog


def _airliner() -> Program:
    fus_half = bezier((0.5, 0.04), (0.47, 0.05), (0.46, 0.10), (0.46, 0.16), n=10) + [(0.46, 0.80)]
    fus_half += bezier((0.46, 0.80), (0.47, 0.88), (0.485, 0.94), (0.495, 0.965), n=8)[1:]
    wing_half = [(0.47, 0.40), (0.06, 0.62), (0.06, 0.655), (0.47, 0.56)]
    tail_half = [(0.48, 0.83), (0.33, 0.925), (0.33, 0.945), (0.49, 0.915)]
    prog: Program = [("add", mirror(fus_half))]
    for half in (wing_half, tail_half):
        prog.append(("add", half))
        prog.append(("add", [(1 - x, y) for x, y in half]))
    for ex in (0.29, 0.71):
        prog.append(("add", rect(ex - 0.022, 0.44, ex + 0.022, 0.56)))
    return prog


@dataclass(frozen=True)
class Shape:
    """A drawn silhouette: its program builder, output version and how it is drawn."""

    name: str
    program: Callable[[], Program]
    version: int
    description: str


SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("toilet_seat", _toilet_seat, 1, "seen from the front and above, lid up: Bezier egg-shaped lid, gap, hinge blocks, egg-shaped ring seat"),
        Shape("teapot", _teapot, 1, "side view: elliptical body and foot, domed lid with knob, tapered Bezier spout, ring handle"),
        Shape("rocking_chair", _rocking_chair, 1, "side view: slanted back, seat, arm, legs and a curved Bezier rocker"),
        Shape("wine_bottle", _wine_bottle, 1, "front view: mirrored outline with lip, long neck, Bezier shoulders"),
        Shape("sports_car", _sports_car, 1, "side view: low Bezier body profile with wheel arches and wheels"),
        Shape("airliner", _airliner, 1, "top view: tapered fuselage, swept wings with engines, tailplane"),
    )
}


def list_shapes() -> list[str]:
    """Names of the drawn silhouettes."""
    return sorted(SHAPES)


def _lookup(name: str) -> Shape:
    try:
        return SHAPES[name]
    except KeyError:
        near = difflib.get_close_matches(name, list(SHAPES), n=3, cutoff=0.5)
        raise AssetError(f"unknown shape {name!r}", hint=f"did you mean {', '.join(near)}?" if near else f"known: {', '.join(list_shapes())}") from None


def shape_sdf(name: str, size: int | tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor:
    """Signed distance (in units of the shorter side, negative inside) of shape ``name``, ``(H, W)``.

    The unit square of the drawing is centred on the image and spans its shorter side.
    The distance is exact within two pixels of the outline (what the mask needs) and a
    lower bound with the right sign further away.
    """
    cv = canvas(size, device)
    x, y = cv.x + 0.5, cv.y + 0.5
    d = None
    for op, pts in _lookup(name).program():
        s = polygon_sdf(x, y, pts, margin=2 * cv.px)
        if d is None:
            d = s
        elif op == "add":
            d = torch.minimum(d, s)
        else:
            d = torch.maximum(d, -s)
    assert d is not None
    return d


def shape_mask(name: str, size: int | tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor:
    """Anti-aliased mask ``(1, H, W)`` of shape ``name`` (1 = object), float32."""
    h, w = (size, size) if isinstance(size, int) else size
    px = 1.0 / min(h, w)
    with torch.no_grad():
        d = shape_sdf(name, size, device)
    return (0.5 - d / px).clamp(0, 1).unsqueeze(0).contiguous()


def shape_image(name: str, size: int | tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor:
    """The silhouette as a black-on-white image ``(3, H, W)``."""
    m = shape_mask(name, size, device)
    return (1 - m).expand(3, -1, -1).contiguous()
