"""Checks that refuse warps which tear, flatten or lose the object (see :func:`check_warps`).

Every item is first checked vectorised over the batch with a margin (:func:`_clearly_fine`);
only the items near a threshold get the exact scalar check, whose error names the item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..errors import ParameterError

__all__ = ["MIN_ANISOTROPY", "MIN_DEPTH_RATIO", "check_warps"]

#: A corner of the object whose depth is below this fraction of the centre's depth is refused
#: (the object would stretch towards the vanishing line or cross behind the camera).
MIN_DEPTH_RATIO = 0.1
#: The warped object may not be flattened more than this (ratio of the local scales at its centre).
MIN_ANISOTROPY = 0.05


def _clip_polygon(poly: list[tuple[float, float]], x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    """Sutherland-Hodgman clip of a convex polygon to an axis-aligned rectangle."""

    def clip(pts: list[tuple[float, float]], inside: Callable[[tuple[float, float]], bool], cut: Callable[[tuple[float, float], tuple[float, float]], tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(cut(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cut(prev, cur))
        return out

    def at_x(x: float) -> Callable[[tuple[float, float], tuple[float, float]], tuple[float, float]]:
        return lambda a, b: (x, a[1] + (b[1] - a[1]) * (x - a[0]) / (b[0] - a[0]))

    def at_y(y: float) -> Callable[[tuple[float, float], tuple[float, float]], tuple[float, float]]:
        return lambda a, b: (a[0] + (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]), y)

    for inside, cut in (
        (lambda p: p[0] >= x0, at_x(x0)),
        (lambda p: p[0] <= x1, at_x(x1)),
        (lambda p: p[1] >= y0, at_y(y0)),
        (lambda p: p[1] <= y1, at_y(y1)),
    ):
        poly = clip(poly, inside, cut)
        if not poly:
            return []
    return poly


def _area(poly: Sequence[tuple[float, float]]) -> float:
    return 0.5 * abs(sum(poly[i - 1][0] * p[1] - p[0] * poly[i - 1][1] for i, p in enumerate(poly)))


_NEXT = [1, 2, 3, 0]
#: The frame's corners (x0, y0), (x1, y0), (x1, y1), (x0, y1) as fractions of its size, shaped to broadcast over
#: ``(4 frame edges, 4 quad edges, B)`` arrays.
_FRAME_X, _FRAME_Y = np.array([0.0, 1.0, 1.0, 0.0]).reshape(4, 1, 1), np.array([0.0, 0.0, 1.0, 1.0]).reshape(4, 1, 1)


def _visible_fractions(quads: np.ndarray, height: int, width: int) -> np.ndarray:
    """The fraction of each convex quad ``(B, 4, 2)`` that lies inside the frame (vectorised).

    The area of quad and frame together is the boundary integral ``1/2 (x dy - y dx)`` over
    the parts of the quad's edges inside the frame (clipped by Liang-Barsky) and the parts of
    the frame's edges inside the quad (clipped by its four half-planes), both run in the
    quad's orientation; a segment ``P + t D`` kept for ``t0 <= t <= t1`` adds
    ``(t1 - t0) cross(P, D)``.  NaN where that could count a segment twice (a quad corner on
    a frame line, where a quad edge may run along the border) or the quad has no area: the
    exact check of :func:`check_warps` decides those.  Arrays are laid out corner-first,
    ``(4, B)``, so every reduction runs over whole rows (numpy is slow along short last axes).
    """
    fx0, fy0, fx1, fy1 = -0.5, -0.5, width - 0.5, height - 0.5
    px, py = quads[..., 0].T, quads[..., 1].T  # (4, B)
    dx, dy = px[_NEXT] - px, py[_NEXT] - py  # the quad's edges
    edge_cross = px * dy - py * dx
    signed = 0.5 * edge_cross.sum(0)
    s = np.sign(signed)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t0, t1 = np.zeros(px.shape), np.ones(px.shape)
        for dk, pk, lo, hi in ((dx, px, fx0, fx1), (dy, py, fy0, fy1)):
            ta, tb = (lo - pk) / dk, (hi - pk) / dk
            flat = dk == 0
            t0 = np.where(flat, t0, np.maximum(t0, np.where(dk > 0, ta, tb)))
            t1 = np.where(flat, np.where((pk < lo) | (pk > hi), -1.0, t1), np.minimum(t1, np.where(dk > 0, tb, ta)))
        own = (np.maximum(t1 - t0, 0.0) * edge_cross).sum(0)
        # frame edge j at r_j + u e_j is inside the quad's half-plane i when c0 + u c1 >= 0: arrays (4 frame edges, 4 quad edges, B)
        rx, ry = fx0 + (fx1 - fx0) * _FRAME_X, fy0 + (fy1 - fy0) * _FRAME_Y
        ex, ey = rx[_NEXT] - rx, ry[_NEXT] - ry
        c0 = s * (dx * (ry - py) - dy * (rx - px))
        c1 = s * (dx * ey - dy * ex)
        root = -c0 / c1
        u0 = np.maximum(np.where(c1 > 0, root, 0.0).max(1), 0.0)
        u1 = np.minimum(np.where(c1 < 0, root, 1.0).min(1), 1.0)
        u1 = np.where(((c1 == 0) & (c0 < 0)).any(1), -1.0, u1)
        frame = (np.maximum(u1 - u0, 0.0) * (rx * ey - ry * ex)[:, 0]).sum(0)
        frac = 0.5 * (own + s * frame) * s / np.abs(signed)
    eps = 1e-9 * max(height, width)
    on_line = ((np.abs(px - fx0) <= eps) | (np.abs(px - fx1) <= eps) | (np.abs(py - fy0) <= eps) | (np.abs(py - fy1) <= eps)).any(0)
    return np.where(on_line | ~(np.abs(signed) > 0) | ~np.isfinite(frac), np.nan, frac)


def _star_fractions(qx: np.ndarray, qy: np.ndarray, u: np.ndarray, v: np.ndarray, height: int, width: int) -> np.ndarray:
    """A lower bound on the fraction of each convex quad (corners ``(4, B)``) inside the frame, cheaper than
    :func:`_visible_fractions`; 0 unless the point ``(u, v)`` lies inside both.

    Each corner is pulled along its ray from ``(u, v)`` to where the ray leaves the frame (if it
    does).  The triangles from ``(u, v)`` to consecutive pulled corners have their corners in quad
    and frame, so they lie in both (both are convex): their area over the quad's is the bound.
    A photo turned or tilted in its own frame keeps most of itself by this bound, so the common
    case skips the clip.
    """
    fx0, fy0, fx1, fy1 = -0.5, -0.5, width - 0.5, height - 0.5
    ax, ay = qx - u, qy - v  # (4, B) rays from the centre to the corners
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tx = np.where(ax > 0, (fx1 - u) / ax, np.where(ax < 0, (fx0 - u) / ax, np.inf))
        ty = np.where(ay > 0, (fy1 - v) / ay, np.where(ay < 0, (fy0 - v) / ay, np.inf))
        t = np.minimum(np.minimum(tx, ty), 1.0)
        fan = ax * ay[_NEXT] - ay * ax[_NEXT]  # twice the signed area of each triangle (centre, corner, next corner)
        whole = fan.sum(0)
        inside = (fan * np.sign(whole) > 0).all(0) & (u > fx0) & (u < fx1) & (v > fy0) & (v < fy1)
        return np.where(inside, (1 - 1e-12) * (t * t[_NEXT] * fan).sum(0) / whole, 0.0)


#: Corner offsets (pixel edges) of a box, and which box values give each corner's x and y.
_CORNER_DX, _CORNER_DY = np.array([[-0.5], [0.5], [0.5], [-0.5]]), np.array([[-0.5], [-0.5], [0.5], [0.5]])
_CORNER_XS, _CORNER_YS = [0, 2, 2, 0], [1, 1, 3, 3]


def _clearly_fine(matrices: torch.Tensor, boxes: torch.Tensor, height: int, width: int, min_visible: float = 1.0) -> np.ndarray:
    """Items that pass every check of :func:`check_warps` with a margin (vectorised; the rest are checked one by one).

    Accepts an item only when its box corners stay well in front of the vanishing line, its
    centre is not flattened and its warped box lies inside the frame or keeps
    ``min_visible`` of its area there, each with a margin over the threshold (1e-6 relative,
    1e-9 of the area), so a borderline item always gets the exact scalar check.
    """
    h = np.asarray(matrices.detach().cpu().numpy() if isinstance(matrices, torch.Tensor) else matrices, dtype=np.float64)
    bx = np.asarray(boxes.detach().cpu().numpy() if isinstance(boxes, torch.Tensor) else boxes, dtype=np.float64)
    b = h.shape[0]
    if b == 0:
        return np.zeros(0, dtype=bool)
    h00, h01, h02, h10, h11, h12, h20, h21, h22 = h.reshape(b, 9).T.copy()  # one (B,) row per entry
    box = bx.T.copy()
    xs, ys = box[_CORNER_XS] + _CORNER_DX, box[_CORNER_YS] + _CORNER_DY  # (4, B)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    with np.errstate(all="ignore"):  # non-finite or degenerate items are refused here and named by the exact check
        wc = h20 * cx + h21 * cy + h22
        w = h20 * xs + h21 * ys + h22
        ok = (wc > 0) & (w >= (MIN_DEPTH_RATIO * (1 + 1e-6)) * wc).all(0)
        qx = (h00 * xs + h01 * ys + h02) / w
        qy = (h10 * xs + h11 * ys + h12) / w
        pad = 1e-6 * max(height, width)
        inside = ((qx >= -0.5 + pad) & (qx <= width - 0.5 - pad) & (qy >= -0.5 + pad) & (qy <= height - 0.5 - pad)).all(0)
        u, v = (h00 * cx + h01 * cy + h02) / wc, (h10 * cx + h11 * cy + h12) / wc  # the warped centre
        if min_visible < 1.0 and ok.any() and not inside[ok].all():
            inside |= ok & (_star_fractions(qx, qy, u, v, height, width) >= min_visible + 1e-9)
            if not inside[ok].all():
                inside |= ok & (_visible_fractions(np.stack([qx.T, qy.T], -1), height, width) >= min_visible + 1e-9)
        ok &= inside
        # Flattening: the Jacobian at the centre is (H[:2, :2] - (u, v) H[2, :2]) / w_c.  Its singular values
        # s1 >= s2 have s1 s2 = |det| and s1^2 + s2^2 = |J|^2, so s2 / s1 >= k exactly when |det| / |J|^2 >= k / (1 + k^2)
        # (the scale 1 / w_c > 0 cancels).
        j00, j01, j10, j11 = h00 - u * h20, h01 - u * h21, h10 - v * h20, h11 - v * h21
        norm2 = j00 * j00 + j01 * j01 + j10 * j10 + j11 * j11
        k = MIN_ANISOTROPY * (1 + 1e-6)
        ok &= (norm2 > 0) & (np.abs(j00 * j11 - j01 * j10) >= k / (1 + k * k) * norm2)
        return ok & np.isfinite(h).all((1, 2))


def check_warps(
    matrices: torch.Tensor,
    boxes: torch.Tensor,
    height: int,
    width: int,
    min_visible: float,
    describe: Callable[[int], str],
) -> None:
    """Refuse warps that tear, flatten or lose the object, naming the item and its parameters.

    ``matrices`` ``(B, 3, 3)`` float64 forward pixel homographies, ``boxes`` ``(B, 4)`` the
    objects' boxes.  Raises :class:`ParameterError` when a box corner goes to or behind the
    vanishing line (depth ratio below :data:`MIN_DEPTH_RATIO`), when the object is flattened
    to a sliver (:data:`MIN_ANISOTROPY`), or when less than ``min_visible`` of the warped box
    lies inside the frame.
    """
    clear = _clearly_fine(matrices, boxes, height, width, min_visible)
    for i in np.flatnonzero(~clear).tolist():  # only the items near a threshold (or refused)
        h = matrices[i].tolist()
        bx0, by0, bx1, by1 = boxes[i].tolist()
        cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
        wc = h[2][0] * cx + h[2][1] * cy + h[2][2]
        corners = [(bx0 - 0.5, by0 - 0.5), (bx1 + 0.5, by0 - 0.5), (bx1 + 0.5, by1 + 0.5), (bx0 - 0.5, by1 + 0.5)]
        quad = []
        for x, y in corners:
            w = h[2][0] * x + h[2][1] * y + h[2][2]
            if wc <= 0 or w / wc < MIN_DEPTH_RATIO:
                raise ParameterError(
                    f"item {describe(i)}: the warp sends the object box corner ({x:.1f}, {y:.1f}) px to the vanishing line "
                    f"(depth ratio {w / wc if wc > 0 else float('nan'):.3f} < {MIN_DEPTH_RATIO}); the homography is degenerate",
                    hint="use smaller pitch/yaw angles or a longer focal length",
                )
            quad.append(((h[0][0] * x + h[0][1] * y + h[0][2]) / w, (h[1][0] * x + h[1][1] * y + h[1][2]) / w))
        # local scales at the box centre: singular values of the Jacobian
        jx = [(h[0][0] - h[2][0] * (h[0][0] * cx + h[0][1] * cy + h[0][2]) / wc) / wc, (h[0][1] - h[2][1] * (h[0][0] * cx + h[0][1] * cy + h[0][2]) / wc) / wc]
        jy = [(h[1][0] - h[2][0] * (h[1][0] * cx + h[1][1] * cy + h[1][2]) / wc) / wc, (h[1][1] - h[2][1] * (h[1][0] * cx + h[1][1] * cy + h[1][2]) / wc) / wc]
        sv = np.linalg.svd(np.array([jx, jy]), compute_uv=False)
        if sv[0] <= 0 or sv[1] / sv[0] < MIN_ANISOTROPY:
            raise ParameterError(
                f"item {describe(i)}: the warp flattens the object to a sliver (scale ratio {sv[1] / max(sv[0], 1e-300):.3f} < {MIN_ANISOTROPY})",
                hint="keep pitch and yaw below about 85 degrees",
            )
        fx0, fy0, fx1, fy1 = -0.5, -0.5, width - 0.5, height - 0.5
        if all(fx0 <= x <= fx1 and fy0 <= y <= fy1 for x, y in quad):
            continue
        total = _area(quad)
        inside = _area(_clip_polygon(quad, fx0, fy0, fx1, fy1)) if total > 0 else 0.0
        frac = inside / total if total > 0 else 0.0
        if frac < min_visible:
            raise ParameterError(
                f"item {describe(i)}: only {100 * frac:.0f}% of the object stays inside the frame after the warp "
                f"(min_visible={min_visible})",
                hint="use a smaller translation, scale or angle, or lower min_visible",
            )
