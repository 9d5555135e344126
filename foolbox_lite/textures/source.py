"""Texture sources: a periodic tile plus its labels, and rendering it at a stimulus size.

A :class:`Texture` holds one colour tile ``(3, h, w)`` float32 in ``[0, 1]`` and the
labels it gives a stimulus (``label`` becomes the item's ``texture`` cue).  It comes
from an image file, a region of a photo (a box, or the interior of a mask: "the skin
of the zebra in this photo"), the built-in asset bank, or any tensor.

Tiles are made periodic (:func:`make_seamless`) so that wrapping them shows no seam;
:func:`render_texture` then draws a tile at any size with a scale, a rotation and an
offset, wrapping around (each item of a batch gets its own, sampled from its generator
by the operators).
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..assets.io import load_image, load_mask
from ..errors import AssetError, InputError, ParameterError

__all__ = ["MIN_TEXTURE_SIDE", "SeamMode", "Texture", "inscribed_box", "make_seamless", "render_texture"]

#: Smallest tile side accepted (pixels): below this a "texture" is a few flat pixels.
MIN_TEXTURE_SIDE = 8
SeamMode = Literal["crossfade", "mirror", "none"]
_WNID = re.compile(r"^(n\d{8})_(.+)$")


def _check_tile(t: object, what: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise InputError(f"{what} must be a torch.Tensor (3, h, w), got {type(t).__name__}")
    if t.dim() == 2 or (t.dim() == 3 and t.shape[0] == 1):
        raise InputError(
            f"{what} has a single channel {tuple(t.shape)} but a colour texture (3, h, w) is expected",
            hint="repeat a grey texture to 3 channels explicitly with t.expand(3, -1, -1)",
        )
    if t.dim() != 3 or t.shape[0] != 3:
        raise InputError(f"{what} must have shape (3, h, w), got {tuple(t.shape)}", hint="channels first; drop any batch dimension")
    if not t.is_floating_point():
        raise InputError(f"{what} must be floating point in [0, 1], got dtype {t.dtype}", hint="convert uint8 with t.float() / 255")
    if not torch.isfinite(t).all():
        raise InputError(f"{what} has non-finite values (NaN or inf)")
    lo, hi = float(t.min()), float(t.max())
    if lo < 0 or hi > 1:
        raise InputError(f"{what} has values in [{lo:.3g}, {hi:.3g}], outside [0, 1]", hint="scale it to [0, 1] first")
    if min(t.shape[1:]) < MIN_TEXTURE_SIDE:
        raise InputError(f"{what} is {t.shape[2]}x{t.shape[1]} pixels; a texture needs at least {MIN_TEXTURE_SIDE}x{MIN_TEXTURE_SIDE}")
    return t.detach().to("cpu", torch.float32).contiguous()


@dataclass(frozen=True, eq=False)
class Texture:
    """A colour tile ``(3, h, w)`` float32 in ``[0, 1]`` on the CPU, and its labels.

    ``label`` is the cue label a stimulus gets from it (by default its ``name``, e.g.
    ``"zebra"``, as the asset bank labels its assets; the ImageNet ``wnid`` is kept
    beside it when known); ``source`` says where it came from (file, box, asset, seam mode).
    """

    image: torch.Tensor
    name: str
    label: str
    wnid: str | None = None
    category: str | None = None
    source: str = "tensor"
    periodic: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", _check_tile(self.image, f"texture {self.name!r}"))
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError(f"a texture needs a non-empty name, got {self.name!r}")
        if not isinstance(self.label, str) or not self.label:
            raise ParameterError(f"texture {self.name!r} needs a non-empty label, got {self.label!r}")

    def __repr__(self) -> str:
        h, w = self.image.shape[1:]
        return f"Texture({self.name!r}, label={self.label!r}, {w}x{h}, source={self.source!r}, periodic={self.periodic})"

    @property
    def size(self) -> tuple[int, int]:
        """``(h, w)`` of the tile."""
        return (int(self.image.shape[1]), int(self.image.shape[2]))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_tensor(
        cls, image: torch.Tensor, *, name: str = "tensor", label: str | None = None, wnid: str | None = None, category: str | None = None
    ) -> Texture:
        """Any ``(3, h, w)`` tensor in ``[0, 1]`` (a single channel is refused: expand it yourself)."""
        return cls(image, name=name, label=label or name, wnid=wnid, category=category, source="tensor")

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, name: str | None = None, label: str | None = None, category: str | None = None,
        max_side: int | None = 512,
    ) -> Texture:
        """A whole image file; ImageNet-style names (``n02391049_zebra.JPEG``) give ``wnid`` and ``name``.

        Grey files are converted to RGB by PIL.  ``max_side`` downsizes big photos (area filter).
        """
        p = Path(path)
        img = load_image(p)
        wnid, stem_name = _parse_stem(p.stem)
        tex = cls(img, name=name or stem_name, label=label or name or stem_name, wnid=wnid, category=category, source=f"file:{p.name}")
        return tex.limited(max_side) if max_side is not None else tex

    @classmethod
    def from_region(
        cls,
        photo: torch.Tensor | str | os.PathLike[str],
        *,
        box: Sequence[int] | None = None,
        mask: torch.Tensor | str | os.PathLike[str] | None = None,
        name: str | None = None,
        label: str | None = None,
        category: str | None = None,
        max_side: int | None = 512,
    ) -> Texture:
        """A region of a photo: ``box=(x0, y0, x1, y1)`` in pixels (end exclusive), or the interior of ``mask``.

        With a mask (``(1, H, W)`` or ``(H, W)`` tensor, or a mask file; > 0.5 is inside),
        the texture is the largest axis-aligned rectangle lying wholly inside the mask
        (:func:`inscribed_box`), so no background pixel leaks into the texture.
        """
        if (box is None) == (mask is None):
            raise ParameterError("Texture.from_region needs exactly one of box=(x0, y0, x1, y1) or mask=...")
        wnid = stem_name = None
        src = "tensor"
        if isinstance(photo, (str, os.PathLike)):
            p = Path(photo)
            img = load_image(p)
            wnid, stem_name = _parse_stem(p.stem)
            src = f"file:{p.name}"
        else:
            img = _check_tile(photo, "photo")
        hh, ww = img.shape[1:]
        if mask is not None:
            if isinstance(mask, (str, os.PathLike)):
                m = load_mask(mask)
            elif isinstance(mask, torch.Tensor):
                m = mask
            else:
                raise InputError(f"mask must be a tensor (1, H, W) or a file path, got {type(mask).__name__}")
            m = m[0] if m.dim() == 3 and m.shape[0] == 1 else m
            if m.dim() != 2 or tuple(m.shape) != (hh, ww):
                raise InputError(f"mask has shape {tuple(m.shape)} but the photo is {hh}x{ww} (H x W)", hint="give a (1, H, W) mask of the photo's size")
            box = inscribed_box(m > 0.5)
            how = "mask"
        else:
            how = "box"
        x0, y0, x1, y1 = _check_box(box, ww, hh)
        crop = img[:, y0:y1, x0:x1]
        nm = name or stem_name or "region"
        tex = cls(crop, name=nm, label=label or nm, wnid=wnid, category=category, source=f"{src}:{how}={x0},{y0},{x1},{y1}")
        return tex.limited(max_side) if max_side is not None else tex

    @classmethod
    def from_asset(cls, name: str, *, size: int = 256, seed: int = 0) -> Texture:
        """A texture (or photo) of the built-in asset bank, drawn at ``size`` (procedural ones with ``seed``)."""
        try:
            from ..assets import bank
        except ImportError as exc:  # pragma: no cover - the bank ships with the package
            raise AssetError("the built-in asset bank (foolbox_lite.assets.bank) is not available", hint=str(exc)) from exc
        known = list(bank.list_assets())
        if name not in known:
            near = difflib.get_close_matches(str(name), known, n=3, cutoff=0.4)
            hint = f"did you mean {', '.join(near)}?" if near else f"see foolbox_lite.assets.bank.list_assets('texture'): {', '.join(bank.list_assets('texture'))}"
            raise AssetError(f"no asset named {name!r} in the built-in bank", hint=hint)
        asset = bank.get_asset(name)
        img = asset.image(size, seed=seed)
        label = getattr(asset, "label", None) or name
        return cls(img, name=name, label=label, wnid=getattr(asset, "wnid", None), category=getattr(asset, "category", None),
                   source=f"asset:{name}:size={size}:seed={seed}")

    # ------------------------------------------------------------------ derived textures
    def limited(self, max_side: int) -> Texture:
        """The same texture downsized (area filter) so its longer side is at most ``max_side``."""
        h, w = self.size
        if max(h, w) <= max_side:
            return self
        s = max_side / max(h, w)
        return self.resized(max(MIN_TEXTURE_SIDE, round(h * s)), max(MIN_TEXTURE_SIDE, round(w * s)))

    def resized(self, height: int, width: int) -> Texture:
        """The tile resampled to ``height x width`` (area filter when shrinking, bicubic when growing)."""
        mode = "area" if height <= self.size[0] and width <= self.size[1] else "bicubic"
        kw = {} if mode == "area" else {"align_corners": False}
        img = F.interpolate(self.image[None], size=(height, width), mode=mode, **kw)[0].clamp_(0, 1)
        return replace(self, image=img, source=f"{self.source}|resized={width}x{height}", periodic=False)

    def seamless(self, mode: SeamMode = "crossfade", width: float = 0.15) -> Texture:
        """A periodic version of the tile (see :func:`make_seamless`); already periodic tiles are kept."""
        if self.periodic or mode == "none":
            return self
        img = make_seamless(self.image, mode, width)
        return replace(self, image=img, source=f"{self.source}|seamless={mode}", periodic=True)

    def sources(self, prefix: str = "texture") -> dict[str, str]:
        """Where the texture came from, for an item's ``sources``: ``{prefix: source, prefix_wnid: ...}``."""
        out = {prefix: self.source}
        if self.wnid:
            out[f"{prefix}_wnid"] = self.wnid
        if self.category:
            out[f"{prefix}_category"] = self.category
        return out


def _parse_stem(stem: str) -> tuple[str | None, str]:
    m = _WNID.match(stem)
    return (m.group(1), m.group(2)) if m else (None, stem)


def _check_box(box: Sequence[int], w: int, h: int) -> tuple[int, int, int, int]:
    if not isinstance(box, Sequence) or len(box) != 4:
        raise ParameterError(f"box must be (x0, y0, x1, y1), got {box!r}")
    vals = []
    for k, v in zip(("x0", "y0", "x1", "y1"), box):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ParameterError(f"box {k} must be an integer pixel position, got {v!r}")
        vals.append(int(v))
    x0, y0, x1, y1 = vals
    if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        raise ParameterError(f"box {tuple(vals)} is not inside the {w}x{h} photo with x0 < x1 and y0 < y1")
    if min(x1 - x0, y1 - y0) < MIN_TEXTURE_SIDE:
        raise InputError(f"box {tuple(vals)} is {x1 - x0}x{y1 - y0} pixels; a texture needs at least {MIN_TEXTURE_SIDE}x{MIN_TEXTURE_SIDE}")
    return x0, y0, x1, y1


def inscribed_box(inside: torch.Tensor) -> tuple[int, int, int, int]:
    """The largest-area axis-aligned rectangle ``(x0, y0, x1, y1)`` (end exclusive) of True pixels of ``(H, W)``.

    The classic histogram-stack algorithm, O(H W).  An empty mask is an error.
    """
    a = inside.detach().to("cpu").numpy().astype(bool)
    if not a.any():
        raise InputError("the mask of the region is empty (no pixel > 0.5)", hint="check the mask file/polarity (white = inside)")
    h, w = a.shape
    hist = np.zeros(w, dtype=np.int64)
    best = (0, 0, 0, 0, 0)  # area, x0, y0, x1, y1
    for y in range(h):
        hist = np.where(a[y], hist + 1, 0)
        heights = hist.tolist() + [0]  # sentinel 0 closes every open bar
        stack: list[int] = []
        for x, hx in enumerate(heights):
            while stack and heights[stack[-1]] >= hx:
                hgt = heights[stack.pop()]
                left = stack[-1] + 1 if stack else 0
                area = hgt * (x - left)
                if area > best[0]:
                    best = (area, left, y - hgt + 1, x, y + 1)
            stack.append(x)
    return best[1], best[2], best[3], best[4]


def make_seamless(tile: torch.Tensor, mode: SeamMode = "crossfade", width: float = 0.15) -> torch.Tensor:
    """A periodic tile from ``(3, h, w)``: wrapping it around shows no seam.

    ``crossfade`` (default) blends a band of ``width`` (fraction of each side) of one
    edge into the opposite edge and drops the band, so the result is smaller by the
    band and keeps the texture's orientation; ``mirror`` tiles the image with its mirror
    images (2h x 2w, exact but symmetric); ``none`` returns the tile as is.
    """
    if mode == "none":
        return tile
    if mode == "mirror":
        top = torch.cat([tile, tile.flip(-1)], dim=-1)
        return torch.cat([top, top.flip(-2)], dim=-2).contiguous()
    if mode != "crossfade":
        raise ParameterError(f"seam mode must be one of crossfade, mirror, none; got {mode!r}")
    if not (0.0 < width <= 0.5) or not math.isfinite(width):
        raise ParameterError(f"crossfade width must be in (0, 0.5] (a fraction of the tile side), got {width!r}")
    out = tile
    for dim in (-1, -2):
        n = out.shape[dim]
        b = max(1, round(n * width))
        if n - b < MIN_TEXTURE_SIDE:
            raise InputError(f"texture side {n} is too small for a crossfade band of {b} pixels", hint="use a larger texture or mode='mirror'")
        ramp = (torch.arange(b, dtype=out.dtype) + 0.5) / b  # weight of the head, 0 -> 1
        shape = [1, 1, 1]
        shape[dim] = b
        ramp = ramp.view(shape)
        head = out.narrow(dim, 0, b)
        tail = out.narrow(dim, n - b, b)
        body = out.narrow(dim, b, n - 2 * b) if n - 2 * b > 0 else out.narrow(dim, b, 0)
        # new tile = [blend(tail -> head), body], whose last column is followed by the blend's first (~tail start): continuous
        blend = head * ramp + tail * (1 - ramp)
        out = torch.cat([blend, body], dim=dim)
        # the pixel after `body` in the original was the tail, which the blend begins with: the wrap is seamless
    return out.contiguous()


def render_texture(
    tile: torch.Tensor,
    height: int,
    width: int,
    scale: Sequence[float],
    angle: Sequence[float],
    offset: Sequence[tuple[float, float]],
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Draw the periodic ``tile`` ``(3, h, w)`` ``n`` times at ``height x width``: ``(n, 3, H, W)``.

    Item ``k`` magnifies the tile by ``scale[k]``, rotates it by ``angle[k]`` degrees
    (counter-clockwise) about the image centre and shifts it by ``offset[k] = (ox, oy)``
    fractions of the tile; coordinates wrap around (bilinear across the wrap).  On the
    CPU each item is one ``cv2.warpAffine`` with ``BORDER_WRAP`` (or, giving the same bits,
    on a periodically extended copy of the tile, see :mod:`.periodic`); elsewhere one
    ``grid_sample`` on the circularly padded tile.  Every item depends only on its own
    parameters, never on the batch.
    """
    n = len(scale)
    if not (len(angle) == len(offset) == n):
        raise InputError(f"render_texture: {n} scales, {len(angle)} angles and {len(offset)} offsets given")
    th, tw = tile.shape[1:]
    mats = []
    for s, a, (ox, oy) in zip(scale, angle, offset):
        if not (s > 0 and math.isfinite(s)):
            raise ParameterError(f"texture scale must be a finite number > 0, got {s!r}")
        r = math.radians(a)
        c, si = math.cos(r) / s, math.sin(r) / s
        # output pixel p -> texture coords R(-a) (p - centre) / s + centre + offset; all zero = a plain crop of the tile
        cx, cy = (width - 1) / 2, (height - 1) / 2
        m = np.array([[c, -si, 0.0], [si, c, 0.0]], dtype=np.float64)
        m[0, 2] = cx - (c * cx - si * cy) + (ox % 1.0) * tw
        m[1, 2] = cy - (si * cx + c * cy) + (oy % 1.0) * th
        mats.append(m)
    dev = torch.device(device)
    if dev.type == "cpu":
        return _render_cv2(tile, height, width, mats, dtype)
    return _render_torch(tile.to(dev), height, width, mats, dtype)


def _render_cv2(tile: torch.Tensor, height: int, width: int, mats: list[np.ndarray], dtype: torch.dtype) -> torch.Tensor:
    """``cv2.warpAffine`` with ``BORDER_WRAP`` per item, or the same bits faster (see :mod:`.periodic`)."""
    from .periodic import render_cv2

    return render_cv2(tile, height, width, mats, dtype)


def _render_torch(tile: torch.Tensor, height: int, width: int, mats: list[np.ndarray], dtype: torch.dtype) -> torch.Tensor:
    th, tw = tile.shape[1:]
    dev = tile.device
    padded = F.pad(tile[None].to(dtype), (1, 1, 1, 1), mode="circular")
    ys, xs = torch.meshgrid(torch.arange(height, dtype=dtype, device=dev), torch.arange(width, dtype=dtype, device=dev), indexing="ij")
    grids = []
    for m in mats:
        u = (xs * m[0, 0] + ys * m[0, 1] + m[0, 2]).remainder(tw) + 1.0
        v = (xs * m[1, 0] + ys * m[1, 1] + m[1, 2]).remainder(th) + 1.0
        grids.append(torch.stack([u * (2.0 / (tw + 1)) - 1.0, v * (2.0 / (th + 1)) - 1.0], dim=-1))
    grid = torch.cat(grids, dim=0)[None]  # (1, n*H, W, 2): one sampling call for the whole group
    out = F.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.view(3, len(mats), height, width).permute(1, 0, 2, 3).contiguous()
