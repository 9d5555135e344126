"""Homographies for unusual-angle warps: the matrices, the object frame and the warp
(the checks that refuse bad warps are in :mod:`~foolbox_lite.operators.warp_checks`).

Conventions (shared by every warp operator):

- pixel coordinates ``(x, y)`` with pixel centres at integers, ``x`` to the right and
  ``y`` down; the image spans ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``;
- a matrix maps *source* pixels to *output* pixels (forward), as 3x3 homogeneous;
- operators build a *centred* matrix ``Mc`` (about the origin) and the applied matrix is
  ``T(c) @ Mc @ T(-c)`` with ``c`` the rotation centre (the object's centroid or the
  image centre), so the object turns about its own centre and stays in view.

The out-of-plane tilt follows the pinhole model: with ``R`` the 3D rotation and
``K0 = diag(f, f, 1)``, ``Mc = K0 [r1 r2 e3] K0^-1`` (R's third column replaced by
``(0, 0, 1)``): the image plane turns about the object's centre at depth ``f``, instead of
about the camera, which would slide the object out of view.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError, ParameterError
from .buffers import empty_cpu
from .cvplanes import deinterleave, interleave, scratch
from .itempool import for_items, thread_buffer, use_fast_path
from .warp_checks import MIN_ANISOTROPY, MIN_DEPTH_RATIO, check_warps

__all__ = [
    "BORDERS",
    "INTERPOLATIONS",
    "MIN_ANISOTROPY",
    "MIN_DEPTH_RATIO",
    "Border",
    "Interpolation",
    "about_centre",
    "check_warps",
    "empty_cpu",
    "flip_matrix",
    "object_frames",
    "rotation_matrix",
    "scale_translate_matrix",
    "tilt_matrix",
    "use_fast_path",
    "warp",
    "warp_many",
]

Border = Literal["zeros", "constant", "reflect", "replicate"]
Interpolation = Literal["bilinear", "nearest"]
#: Border policies: what the warp shows where the source has no pixels.
BORDERS: tuple[str, ...] = ("zeros", "constant", "reflect", "replicate")
INTERPOLATIONS: tuple[str, ...] = ("bilinear", "nearest")

Matrix = list[list[float]]


# ----------------------------------------------------------------------------- matrices
def rotation_matrix(angle: float) -> Matrix:
    """In-plane rotation by ``angle`` degrees, counter-clockwise as seen on screen (centred)."""
    a = math.radians(angle)
    c, s = math.cos(a), math.sin(a)
    # y points down, so a counter-clockwise turn on screen is [[c, s], [-s, c]].
    return [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]


def tilt_matrix(pitch: float, yaw: float, roll: float, focal: float) -> Matrix:
    """Out-of-plane tilt (degrees) seen through a pinhole of focal length ``focal`` px (centred).

    ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``; positive ``pitch`` turns the top edge away from
    the camera (it gets shorter), positive ``yaw`` turns the right edge away, positive
    ``roll`` turns counter-clockwise on screen.  Returns ``K0 [r1 r2 e3] K0^-1``.
    """
    p, y, r = (math.radians(v) for v in (pitch, yaw, roll))
    # Rotations in camera coordinates (x right, y down, z away from the camera).
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, -math.sin(y)], [0, 1, 0], [math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(r), math.sin(r), 0], [-math.sin(r), math.cos(r), 0], [0, 0, 1]])
    rot = rz @ ry @ rx
    m = rot.copy()
    m[:, 2] = (0.0, 0.0, 1.0)
    k = np.diag([focal, focal, 1.0])
    kinv = np.diag([1.0 / focal, 1.0 / focal, 1.0])
    h = k @ m @ kinv
    return (h / h[2, 2]).tolist()


def scale_translate_matrix(scale: float, tx: float, ty: float) -> Matrix:
    """Scale about the centre by ``scale`` then move by ``(tx, ty)`` px (centred)."""
    return [[scale, 0.0, tx], [0.0, scale, ty], [0.0, 0.0, 1.0]]


def flip_matrix(horizontal: bool, vertical: bool, height: int, width: int) -> Matrix:
    """Mirror about the image centre (full pixel matrix, not centred)."""
    sx, sy = (-1.0 if horizontal else 1.0), (-1.0 if vertical else 1.0)
    return [[sx, 0.0, (width - 1.0) if horizontal else 0.0], [0.0, sy, (height - 1.0) if vertical else 0.0], [0.0, 0.0, 1.0]]


def about_centre(centred: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """``T(c) @ Mc @ T(-c)`` for every item: ``(B, 3, 3)`` and ``(B, 2)`` float64 -> ``(B, 3, 3)``."""
    m = np.asarray(centred.detach().cpu().numpy() if isinstance(centred, torch.Tensor) else centred, dtype=np.float64)
    c = np.asarray(centres.detach().cpu().numpy() if isinstance(centres, torch.Tensor) else centres, dtype=np.float64)
    b = m.shape[0]
    t = np.tile(np.eye(3), (b, 1, 1))
    ti = t.copy()
    t[:, :2, 2] = c
    ti[:, :2, 2] = -c
    return torch.from_numpy(t @ m @ ti)


# ----------------------------------------------------------------------------- object frame
def _extent(profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last index where a (B, N) profile holds half a pixel (or anything, if none does)."""
    on = profile >= 0.5
    on = np.where(on.any(1, keepdims=True), on, profile > 0)
    n = profile.shape[1]
    idx = np.arange(n, dtype=np.float64)
    lo = np.where(on, idx, float(n)).min(1)
    hi = np.where(on, idx, -1.0).max(1)
    return lo, hi


def object_frames(mask: torch.Tensor | None, height: int, width: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each item's object centre ``(B, 2)`` (x, y) and bounding box ``(B, 4)`` (x0, y0, x1, y1), float64.

    The centre is the mask's centroid; the box spans the rows and columns holding at
    least half a pixel of mask.  Without a mask, or for an empty mask, the object is
    the whole image (centre ``((W-1)/2, (H-1)/2)``).
    """
    centre = np.tile([(width - 1) / 2, (height - 1) / 2], (batch, 1))
    box = np.tile([0.0, 0.0, width - 1.0, height - 1.0], (batch, 1))
    if mask is None:
        return torch.from_numpy(centre), torch.from_numpy(box)
    m = mask.detach()[:, 0]
    if m.device.type == "cpu":  # numpy, item by item on a few threads: the same sums as one batched call
        mn = m.contiguous().numpy()
        # float32 partial sums (224 terms, ~1e-5 relative) are 10x faster than float64 accumulation
        rows32, cols32 = np.empty(mn.shape[:2], np.float32), np.empty((batch, mn.shape[2]), np.float32)

        def sums(start: int, stop: int) -> None:
            np.add.reduce(mn[start:stop], axis=2, out=rows32[start:stop])
            np.add.reduce(mn[start:stop], axis=1, out=cols32[start:stop])

        for_items(sums, batch, chunk=8)
        rows, cols = rows32.astype(np.float64), cols32.astype(np.float64)  # (B, H), (B, W)
    else:
        rows, cols = m.sum(dim=2).double().cpu().numpy(), m.sum(dim=1).double().cpu().numpy()
    total = rows.sum(1)
    ok = total > 0.5
    safe = np.where(ok, total, 1.0)
    cx = (cols * np.arange(width)).sum(1) / safe
    cy = (rows * np.arange(height)).sum(1) / safe
    centre = np.where(ok[:, None], np.stack([cx, cy], 1), centre)
    x0, x1 = _extent(cols)
    y0, y1 = _extent(rows)
    found = ok & (x1 >= x0) & (y1 >= y0)
    box = np.where(found[:, None], np.stack([x0, y0, x1, y1], 1), box)
    return torch.from_numpy(centre), torch.from_numpy(box)


# ----------------------------------------------------------------------------- warping
_CV_BORDER = {"zeros": 0, "constant": 0, "reflect": 2, "replicate": 1}  # cv2.BORDER_CONSTANT / REFLECT / REPLICATE


def _channels_last(t: torch.Tensor) -> bool:
    """Whether ``t`` ``(B, C, H, W)`` is stored channels-last (each item an ``(H, W, C)`` array) and not also planar."""
    return t.shape[1] > 1 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


def _warp_cv2(srcs: list[torch.Tensor], fills: list[list[float]], inverse: np.ndarray, border: str, nearest: bool, alongside: Callable[[], None] | None) -> list[torch.Tensor]:
    """OpenCV warp of CPU float32 ``(B, C, H, W)`` tensors sharing per-item matrices.

    The channels of all tensors are interleaved four at a time into a cache-resident buffer
    (:mod:`~foolbox_lite.operators.cvplanes`) and warped in one call per group: one
    coordinate computation per item instead of one per plane, then split back into the
    output planes.  A channels-last tensor of 2-4 channels that makes a group on its own
    (an image without a mask) keeps its layout: each item is copied into the buffer and
    warped straight into its ``(H, W, C)`` output, with no interleave or split.  The pixels
    are the same either way.
    Items run on a few threads (:func:`~foolbox_lite.operators.itempool.for_items`); each
    item's bytes are the same whatever the number of threads.
    """
    import cv2

    b, _, hh, ww = srcs[0].shape
    chans = [(j, c, fills[j][c]) for j, t in enumerate(srcs) for c in range(t.shape[1])]
    groups = [chans[k : k + 4] for k in range(0, len(chans), 4)]
    # a channels-last tensor warped on its own stays channels-last: read and written as (H, W, C) items
    whole = {g[0][0] for g in groups if len(g) > 1 and len(g) == srcs[g[0][0]].shape[1] and all(j == g[0][0] for j, _, _ in g) and _channels_last(srcs[g[0][0]])}
    cl = torch.channels_last
    outs = [empty_cpu(t.shape, torch.float32, cl if j in whole else torch.contiguous_format) for j, t in enumerate(srcs)]
    s_np = [(t if j in whole else t.contiguous()).numpy() for j, t in enumerate(srcs)]
    o_np = [o.numpy() for o in outs]
    values = [tuple(f for _, _, f in g) + (0.0,) * (4 - len(g)) for g in groups]
    flags = (cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP
    mode = _CV_BORDER[border]
    affine = (inverse[:, 2, 0] == 0.0) & (inverse[:, 2, 1] == 0.0) & (inverse[:, 2, 2] == 1.0)
    mats = [np.ascontiguousarray(inverse[i, :2]) if affine[i] else inverse[i] for i in range(b)]

    def work(start: int, stop: int) -> None:
        bufs = {n: (thread_buffer("warp.src", (hh, ww, n), make=scratch), thread_buffer("warp.dst", (hh, ww, n))) for n in {len(g) for g in groups} if n > 1}
        for i in range(start, stop):
            m = mats[i]
            warp_fn = cv2.warpAffine if affine[i] else cv2.warpPerspective
            for group, value in zip(groups, values):
                j0 = group[0][0]
                if len(group) == 1:
                    _, c, _ = group[0]
                    warp_fn(s_np[j0][i, c], m, (ww, hh), dst=o_np[j0][i, c], flags=flags, borderMode=mode, borderValue=value)
                    continue
                src, dst = bufs[len(group)]
                if j0 in whole:  # one copy into the cache, then the warp writes the (H, W, C) output item
                    np.copyto(src, s_np[j0][i].transpose(1, 2, 0))
                    hwc = o_np[j0][i].transpose(1, 2, 0)
                    got = warp_fn(src, m, (ww, hh), dst=hwc, flags=flags, borderMode=mode, borderValue=value)
                    if got.ctypes.data != hwc.ctypes.data:  # pragma: no cover - this OpenCV allocated instead of filling ours
                        np.copyto(hwc, got)
                    continue
                interleave([s_np[j][i, c] for j, c, _ in group], src)
                warp_fn(src, m, (ww, hh), dst=dst, flags=flags, borderMode=mode, borderValue=value)
                deinterleave(dst, [o_np[j][i, c] for j, c, _ in group])

    for_items(work, b, alongside=alongside)
    return outs


def _sampling_grid(inverse: np.ndarray, height: int, width: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``grid_sample`` coordinates ``(B, H, W, 2)`` of every output pixel's source (align_corners=False)."""
    n = np.array([[2.0 / width, 0.0, 1.0 / width - 1.0], [0.0, 2.0 / height, 1.0 / height - 1.0], [0.0, 0.0, 1.0]])
    a = torch.from_numpy(n @ inverse @ np.linalg.inv(n)).to(device=device, dtype=dtype)  # normalised output -> source
    b = a.shape[0]
    ys = torch.linspace(-1 + 1 / height, 1 - 1 / height, height, device=device, dtype=dtype).view(height, 1)
    xs = torch.linspace(-1 + 1 / width, 1 - 1 / width, width, device=device, dtype=dtype).view(1, width)
    k = a.view(b, 3, 3, 1, 1)
    # elementwise rather than a broadcast matmul, which is ~1000x slower on small CPU batches
    p = torch.stack([k[:, r, 0] * xs + k[:, r, 1] * ys + k[:, r, 2] for r in range(3)], -1)  # (B, H, W, 3)
    w = p[..., 2:]
    front = w > 1e-6  # pixels beyond a tilt's horizon are blanked afterwards; keep their grid finite
    return torch.where(front, p[..., :2] / torch.where(front, w, torch.ones_like(w)), torch.full_like(p[..., :2], -3.0))


def _warp_torch(srcs: list[torch.Tensor], fills: list[list[float]], inverse: np.ndarray, border: str, nearest: bool) -> list[torch.Tensor]:
    """``grid_sample`` warp (differentiable, any device and dtype)."""
    padding = {"zeros": "zeros", "constant": "zeros", "reflect": "reflection", "replicate": "border"}[border]
    mode = "nearest" if nearest else "bilinear"
    grids: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}
    outs = []
    for src, fill in zip(srcs, fills):
        key = (src.dtype, src.device)
        if key not in grids:
            grids[key] = _sampling_grid(inverse, src.shape[-2], src.shape[-1], src.dtype, src.device)
        grid = grids[key]
        if border == "constant" and any(fill):
            offset = torch.tensor(fill, device=src.device, dtype=src.dtype).view(1, -1, 1, 1)
            outs.append(F.grid_sample(src - offset, grid, mode=mode, padding_mode=padding, align_corners=False) + offset)
        else:
            outs.append(F.grid_sample(src, grid, mode=mode, padding_mode=padding, align_corners=False))
    return outs


def _behind_camera(inverse: np.ndarray, height: int, width: int) -> list[int]:
    """Items whose inverse map has output pixels with non-positive depth (beyond the horizon)."""
    corners = np.array([[-0.5, -0.5, 1.0], [width - 0.5, -0.5, 1.0], [-0.5, height - 0.5, 1.0], [width - 0.5, height - 0.5, 1.0]])
    w = corners @ inverse[:, 2, :].T  # (4, B)
    return [int(i) for i in np.nonzero((w <= 1e-6).any(0))[0]]


def _blank_beyond_horizon(out: torch.Tensor, inverse: np.ndarray, items: list[int], fill: list[float]) -> torch.Tensor:
    _, c, hh, ww = out.shape
    ys, xs = np.mgrid[0:hh, 0:ww].astype(np.float64)
    out = out.clone()
    val = torch.tensor(fill, device=out.device, dtype=out.dtype).view(c, 1, 1)
    for i in items:
        hinv = inverse[i]
        valid = torch.from_numpy(hinv[2, 0] * xs + hinv[2, 1] * ys + hinv[2, 2] > 1e-6).to(out.device)
        out[i] = torch.where(valid, out[i], val)
    return out


def warp_many(
    tensors: Sequence[torch.Tensor],
    matrices: torch.Tensor,
    *,
    border: str = "zeros",
    fills: Sequence[Sequence[float]] | None = None,
    interpolation: str = "bilinear",
    alongside: Callable[[], None] | None = None,
) -> list[torch.Tensor]:
    """Warp several ``(B, C_k, H, W)`` tensors (an image and its layers) by the same homographies.

    ``matrices`` ``(B, 3, 3)`` are forward pixel homographies: ``out(p) = src(H^-1 p)``.
    ``border`` is ``zeros`` / ``constant`` (``fills[k]`` per channel of tensor ``k``) /
    ``reflect`` (mirror about the edge, ``cba|abc``) / ``replicate``.  When every tensor is
    CPU float32 without grad, an OpenCV path runs (OpenCV 5 samples at unquantised
    positions, within ~1e-6 of the torch path; OpenCV 4.x steps in 1/32 px, within
    ~1e-2 at sharp edges); otherwise ``grid_sample``.  Output pixels that see no
    plane (beyond a tilt's horizon) get the fill value.  On the OpenCV path a channels-last
    tensor of 2-4 channels warped without others (an image without a mask) comes back
    channels-last (faster: no interleave or split), every other one planar; the values are
    the same.  ``alongside`` (checks that refuse
    the warp) runs on the calling thread while the other threads start warping, before any
    output is returned; when it raises, the outputs are dropped.
    """
    tensors = list(tensors)
    if not tensors:
        return []
    b, _, hh, ww = tensors[0].shape
    for t in tensors:
        if t.dim() != 4 or t.shape[0] != b or t.shape[-2:] != (hh, ww):
            raise InputError(f"warp expects (B, C, H, W) tensors of one batch and size, got shapes {[tuple(x.shape) for x in tensors]}")
    if tuple(matrices.shape) != (b, 3, 3):
        raise InputError(f"warp expects matrices of shape ({b}, 3, 3), got {tuple(matrices.shape)}")
    if border not in BORDERS:
        raise ParameterError(f"border policy {border!r} is unknown", hint=f"use one of {', '.join(BORDERS)}")
    if interpolation not in INTERPOLATIONS:
        raise ParameterError(f"interpolation {interpolation!r} is unknown", hint=f"use one of {', '.join(INTERPOLATIONS)}")
    mats = matrices.detach().to("cpu", torch.float64).numpy()
    try:
        if not np.isfinite(mats).all():
            raise ParameterError("warp matrices must be finite")
        try:
            inverse = np.linalg.inv(mats)
        except np.linalg.LinAlgError:
            raise ParameterError("a warp matrix is singular (the object would collapse to a line or point)") from None
    except ParameterError:
        if alongside is not None:
            alongside()  # the caller's checks name the item; they come first
        raise
    vals = []
    for k, t in enumerate(tensors):
        f = [float(v) for v in fills[k]] if fills is not None and border == "constant" else [0.0] * t.shape[1]
        f = f * t.shape[1] if len(f) == 1 else f
        if len(f) != t.shape[1]:
            raise ParameterError(f"fill has {len(f)} values for a tensor of {t.shape[1]} channels")
        vals.append(f)
    nearest = interpolation == "nearest"
    if use_fast_path(*tensors):
        outs = _warp_cv2(tensors, vals, inverse, border, nearest, alongside)
    else:
        if alongside is not None:
            alongside()
        outs = _warp_torch(tensors, vals, inverse, border, nearest)
    behind = _behind_camera(inverse, hh, ww)
    if behind:
        outs = [_blank_beyond_horizon(o, inverse, behind, f) for o, f in zip(outs, vals)]
    return outs


def warp(
    images: torch.Tensor,
    matrices: torch.Tensor,
    *,
    border: str = "zeros",
    fill: Sequence[float] = (0.0, 0.0, 0.0),
    interpolation: str = "bilinear",
) -> torch.Tensor:
    """Warp one ``(B, C, H, W)`` tensor; see :func:`warp_many`."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise InputError(f"warp expects a (B, C, H, W) tensor, got shape {tuple(getattr(images, 'shape', ()))}")
    return warp_many([images], matrices, border=border, fills=[fill], interpolation=interpolation)[0]
