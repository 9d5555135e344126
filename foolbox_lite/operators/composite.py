"""Background compositing: a foreground with its soft mask onto a background image.

``out = m * fg + (1 - m) * bg``, after optionally scaling and placing the foreground
(object and mask) and feathering the mask.  :class:`BackgroundsChallenge` provides the
variants of Xiao et al., "Noise or Signal: The Role of Image Backgrounds in Object
Recognition" (ICLR 2021): only the foreground, only the background, the foreground on a
background of the same class, of a random image, or of the next class.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError, ParameterError
from ..kernels import composite, gaussian_kernel
from ..params import SpecLike, as_spec, check_number
from ..stimuli import MASK, Item, Stimuli
from .base import Operator, SampleContext
from .cue_controls import NEUTRAL_BACKGROUND, SKIP
from .homography import about_centre, check_warps, empty_cpu, object_frames, scale_translate_matrix, use_fast_path, warp_many

__all__ = ["FITS", "OPERATORS", "VARIANTS", "BackgroundsChallenge", "Composite", "feather_masks", "fit_backgrounds"]

Fit = Literal["crop", "resize", "tile"]
Variant = Literal["only_fg", "only_bg", "mixed_same", "mixed_rand", "mixed_next"]
#: How a background of another size is brought to the stimulus size.
FITS: tuple[str, ...] = ("crop", "resize", "tile")
#: The Backgrounds-Challenge variants (Xiao et al., 2021).
VARIANTS: tuple[str, ...] = ("only_fg", "only_bg", "mixed_same", "mixed_rand", "mixed_next")
#: Overshoot of [0, 1] that resampling a mask may produce by float rounding alone.
_ROUNDING = 1e-5

BackgroundsLike = torch.Tensor | Sequence[torch.Tensor | str | os.PathLike[str]]


# ----------------------------------------------------------------------------- functions
def feather_masks(masks: torch.Tensor, sigmas: Sequence[float]) -> torch.Tensor:
    """Gaussian blur of each item's mask ``(B, 1, H, W)`` with its own ``sigma`` px (0 = unchanged).

    Borders replicate the edge.  CPU float32 inputs without grad use OpenCV's separable
    filter with the same kernel; others a separable ``conv2d``.
    """
    if len(sigmas) != masks.shape[0]:
        raise InputError(f"{len(sigmas)} feather sigmas for {masks.shape[0]} masks")
    if not any(s > 0 for s in sigmas):
        return masks
    if use_fast_path(masks):
        import cv2

        src = masks.contiguous()
        out = empty_cpu(src.shape, torch.float32)
        s, o = src.numpy(), out.numpy()
        for i, sigma in enumerate(sigmas):
            for c in range(src.shape[1]):
                if sigma > 0:
                    k = np.asarray(gaussian_kernel(float(sigma), max(masks.shape[-2:])), dtype=np.float32)
                    cv2.sepFilter2D(s[i, c], -1, k, k, dst=o[i, c], borderType=cv2.BORDER_REPLICATE)
                else:
                    o[i, c] = s[i, c]
        return out
    outs = []
    for i, sigma in enumerate(sigmas):
        m = masks[i : i + 1]
        if sigma > 0:
            k = torch.tensor(gaussian_kernel(float(sigma), max(masks.shape[-2:])), device=m.device, dtype=m.dtype)
            r = (k.numel() - 1) // 2
            c = m.shape[1]
            m = F.pad(m, (r, r, r, r), mode="replicate")
            m = F.conv2d(m, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
            m = F.conv2d(m, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
        outs.append(m)
    return torch.cat(outs)


def _check_background(bg: Any, i: int) -> torch.Tensor:
    if isinstance(bg, (str, os.PathLike)):
        from ..assets.io import load_image

        return load_image(bg)
    if not isinstance(bg, torch.Tensor) or bg.dim() != 3 or bg.shape[0] != 3:
        raise InputError(f"backgrounds[{i}] must be an image tensor (3, H, W) or a file path, got {getattr(bg, 'shape', type(bg).__name__)}")
    if not bg.is_floating_point():
        raise InputError(f"backgrounds[{i}] has dtype {bg.dtype}; backgrounds are float in [0, 1]", hint="convert uint8 with x.float() / 255")
    with torch.no_grad():
        if not torch.isfinite(bg).all() or bg.min() < 0 or bg.max() > 1:
            raise InputError(f"backgrounds[{i}] has values outside [0, 1] (or non-finite)", hint="backgrounds are float images in [0, 1]")
    return bg


def fit_backgrounds(backgrounds: Sequence[torch.Tensor], height: int, width: int, fit: str) -> torch.Tensor:
    """Bring every ``(3, h, w)`` background to ``(3, height, width)``: ``(N, 3, height, width)``.

    ``crop`` scales the short side (bilinear, antialiased) and centre-crops; ``resize``
    stretches; ``tile`` repeats the background at its own size from the top-left corner.
    A background already of the right size is used as it is.
    """
    out = []
    for bg in backgrounds:
        h, w = bg.shape[-2:]
        if (h, w) == (height, width):
            out.append(bg)
            continue
        if fit == "tile":
            reps = (1, math.ceil(height / h), math.ceil(width / w))
            out.append(bg.repeat(*reps)[:, :height, :width])
            continue
        if fit == "resize":
            size = (height, width)
        else:
            s = max(height / h, width / w)
            size = (max(height, round(h * s)), max(width, round(w * s)))
        r = F.interpolate(bg[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0].clamp(0, 1)
        top, left = (size[0] - height) // 2, (size[1] - width) // 2
        out.append(r[:, top : top + height, left : left + width])
    return torch.stack(out)


# ----------------------------------------------------------------------------- operators
class Composite(Operator):
    """Paste each item's foreground (image x mask) onto one of ``backgrounds``.

    ``backgrounds``: a tensor ``(N, 3, H, W)`` or a list of ``(3, h, w)`` tensors or image
    paths, of any size, brought to the stimulus size by ``fit`` (``crop``, ``resize`` or
    ``tile``; done once per size and cached).  Per item: one background uniformly
    (its index is recorded; with ``labels`` the item's ``background`` cue is set to its
    label), a ``scale`` of the object about its centroid, an optional target position of
    that centroid ``x``, ``y`` (fractions of the width and height; ``None`` keeps it where it
    is) and a ``feather`` sigma in px for the mask's edge.  The ``mask`` layer follows the
    placed object (before feathering).
    """

    name = "composite"
    differentiable = True
    needs_mask = True
    cue_controls: ClassVar[Mapping[str, str]] = {
        "shape": "the object placed as in the conflict item (scale, position, feathering) on a uniform neutral grey instead of the scene",
        "texture": SKIP,
        "background": "the item's scene alone, fitted to the frame: the object removed, nothing left where it was",
    }
    #: The cue this instance keeps when it makes a control twin ("" for the conflict item itself).
    _keep: str = ""

    def __init__(
        self,
        backgrounds: BackgroundsLike,
        labels: Sequence[str] | None = None,
        *,
        fit: Fit = "crop",
        scale: SpecLike = 1.0,
        x: SpecLike | None = None,
        y: SpecLike | None = None,
        feather: SpecLike = 0.0,
        min_visible: float = 0.5,
        p: float = 1.0,
    ) -> None:
        if isinstance(backgrounds, torch.Tensor):
            if backgrounds.dim() != 4 or backgrounds.shape[1] != 3:
                raise InputError(f"backgrounds must be (N, 3, H, W) or a list of (3, H, W), got shape {tuple(backgrounds.shape)}")
            bgs = list(backgrounds.unbind(0))
        elif isinstance(backgrounds, (str, os.PathLike)) or not isinstance(backgrounds, Sequence):
            raise InputError(f"backgrounds must be a tensor (N, 3, H, W) or a list of images or paths, got {type(backgrounds).__name__}")
        else:
            bgs = list(backgrounds)
        if not bgs:
            raise InputError("backgrounds is empty", hint="give at least one background image")
        self.backgrounds = [_check_background(b, i) for i, b in enumerate(bgs)]
        self.sources = [str(b) if isinstance(b, (str, os.PathLike)) else f"backgrounds[{i}]" for i, b in enumerate(bgs)]
        if labels is not None:
            if isinstance(labels, str) or len(labels) != len(self.backgrounds) or not all(isinstance(s, str) for s in labels):
                raise ParameterError(f"labels must be {len(self.backgrounds)} strings, one per background, got {labels!r}")
            labels = list(labels)
        self.labels = labels
        if fit not in FITS:
            raise ParameterError(f"parameter 'fit' = {fit!r} is not one of {list(FITS)}")
        self.fit = fit
        self.scale = as_spec("scale", scale, low=0.05, high=20.0)
        self.x = None if x is None else as_spec("x", x, low=0.0, high=1.0)
        self.y = None if y is None else as_spec("y", y, low=0.0, high=1.0)
        self.feather = as_spec("feather", feather, low=0.0, high=64.0)
        self.min_visible = float(check_number("min_visible", min_visible, low=0.0, high=1.0))
        self._cache: dict[tuple[int, int, torch.dtype, torch.device], torch.Tensor] = {}
        super().__init__(p=p)

    def __repr__(self) -> str:
        return f"Composite({len(self.backgrounds)} backgrounds, fit={self.fit!r}, scale={self.scale.to_dict()!r}, feather={self.feather.to_dict()!r})"

    @classmethod
    def example(cls) -> Operator:
        ys, xs = torch.meshgrid(torch.linspace(0, 1, 20), torch.linspace(0, 1, 40), indexing="ij")
        bgs = [torch.stack([xs, ys, 1 - xs]), torch.stack([ys, 1 - ys, xs * ys]).flip(-1), torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))]
        return cls(bgs, labels=["gradient", "flipped", "noise"], scale=(0.8, 1.1), x=(0.4, 0.6), feather=(0.0, 1.5))

    # -------------------------------------------------------------- backgrounds
    def fitted(self, height: int, width: int, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
        """The backgrounds at the stimulus size ``(N, 3, height, width)`` (cached unless they require grad)."""
        device = torch.device(device)
        key = (height, width, dtype, device)
        if key in self._cache:
            return self._cache[key]
        bgs = [b.to(device=device, dtype=dtype) for b in self.backgrounds]
        out = fit_backgrounds(bgs, height, width, self.fit)
        if not any(b.requires_grad for b in self.backgrounds):
            out = out.contiguous()
            self._cache[key] = out
        return out

    def control(self, keep: str) -> Composite:
        """This operator in the mode that keeps only ``keep`` (see ``cue_controls``); it replays the same records."""
        twin = copy.copy(self)
        twin._keep = keep
        return twin

    # -------------------------------------------------------------- sampling
    def _choose(self, g: torch.Generator, ctx: SampleContext) -> int:
        return int(torch.randint(0, len(self.backgrounds), (1,), generator=g).item())

    def sample(self, g: torch.Generator, ctx: SampleContext) -> dict[str, Any]:
        k = self._choose(g, ctx)
        return {
            "background": k,
            "label": None if self.labels is None else self.labels[k],
            "scale": float(self.scale.sample(g)),
            "x": None if self.x is None else float(self.x.sample(g)),
            "y": None if self.y is None else float(self.y.sample(g)),
            "feather": float(self.feather.sample(g)),
        }

    # -------------------------------------------------------------- applying
    def _place(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Scale and move the objects that need it; the others are passed through untouched."""
        h, w = stim.size
        moved = [i for i, p in enumerate(params) if p["scale"] != 1.0 or p["x"] is not None or p["y"] is not None]
        if not moved:
            return stim.images, dict(stim.layers)
        sub = stim.select(moved) if len(moved) < len(stim) else stim
        centres, boxes = object_frames(sub.mask, h, w, len(sub))
        mats = []
        for j, i in enumerate(moved):
            p = params[i]
            cx, cy = centres[j].tolist()
            tx = 0.0 if p["x"] is None else p["x"] * (w - 1) - cx
            ty = 0.0 if p["y"] is None else p["y"] * (h - 1) - cy
            mats.append(scale_translate_matrix(p["scale"], tx, ty))
        full = about_centre(torch.tensor(mats, dtype=torch.float64), centres)
        check_warps(full, boxes, h, w, self.min_visible, lambda j: f"{sub.items[j].id!r} (Composite {dict(params[moved[j]])})")
        names = list(sub.layers)
        images, *warped = warp_many([sub.images] + [sub.layers[k] for k in names], full)
        layers = dict(zip(names, warped))
        if len(moved) == len(stim):
            return images, layers
        index = torch.as_tensor(moved, device=stim.device)
        return stim.images.index_copy(0, index, images), {k: v.index_copy(0, index, layers[k]) for k, v in stim.layers.items()}

    def _check_params(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> list[int]:
        idx = []
        for i, p in enumerate(params):
            k = p.get("background")
            if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(self.backgrounds):
                raise InputError(f"item {stim.items[i].id!r}: params 'background' = {k!r} is not an index below {len(self.backgrounds)}")
            for key in ("scale", "feather"):
                check_number(f"{key} of item {stim.items[i].id!r}", p.get(key), low=0.0)
            idx.append(k)
        m = stim.mask
        if m.shape[1] != 1:
            raise InputError(f"the mask layer must have 1 channel, got shape {tuple(m.shape)}")
        return idx

    @staticmethod
    def _mask_range_error(lo: float, hi: float) -> InputError | None:
        """Masks must lie in [0, 1]; placing and feathering may overshoot by float rounding only."""
        if lo >= -_ROUNDING and hi <= 1 + _ROUNDING:  # NaN fails both comparisons
            return None
        return InputError(f"mask values must lie in [0, 1], found [{lo:.6g}, {hi:.6g}]", hint="masks are soft alpha in [0, 1]")

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        idx = self._check_params(stim, params)
        h, w = stim.size
        bgs = self.fitted(h, w, stim.dtype, stim.device)
        if self._keep == "shape":
            bgs = torch.full_like(bgs, NEUTRAL_BACKGROUND)
        fg, layers = self._place(stim, params)
        if self._keep == "background":
            scene = bgs.index_select(0, torch.as_tensor(idx, device=bgs.device))
            return stim.replace(images=scene, layers=layers, items=self._label(stim, idx))
        alpha = feather_masks(layers[MASK], [p["feather"] for p in params])
        if use_fast_path(fg, alpha, bgs):
            # One output allocation, no gathered copy of the backgrounds, and per item three
            # single-threaded numpy passes over cache-resident planes: bg + m * (fg - bg).
            out = empty_cpu(fg.shape, torch.float32)
            o, f, a, b = out.numpy(), fg.contiguous().numpy(), alpha.contiguous().numpy(), bgs.numpy()
            for i, k in enumerate(idx):
                lo, hi = float(a[i].min()), float(a[i].max())
                err = self._mask_range_error(lo, hi)
                if err is not None:
                    raise err
                if (lo < 0 or hi > 1) and alpha is not stim.layers[MASK]:
                    np.clip(a[i], 0.0, 1.0, out=a[i])  # our own placed/feathered buffer: drop float rounding
                np.subtract(f[i], b[k], out=o[i])
                np.multiply(o[i], a[i], out=o[i])
                np.add(o[i], b[k], out=o[i])
        else:
            lo, hi = torch.aminmax(alpha.detach())
            err = self._mask_range_error(float(lo), float(hi))
            if err is not None:
                raise err
            if lo < 0 or hi > 1:
                alpha = alpha.clamp(0.0, 1.0)
            out = composite(fg, bgs.index_select(0, torch.as_tensor(idx, device=bgs.device)), alpha)
        return stim.replace(images=out, layers=layers, items=self._label(stim, idx))

    def _label(self, stim: Stimuli, idx: Sequence[int]) -> list[Item]:
        items = [it.copy() for it in stim.items]
        for it, k in zip(items, idx):
            it.sources["background"] = self.sources[k]
            if self.labels is not None:
                it.cues["background"] = self.labels[k]
        return items


class BackgroundsChallenge(Operator):
    """The Backgrounds-Challenge variants of Xiao et al., "Noise or Signal: The Role of Image
    Backgrounds in Object Recognition" (ICLR 2021), from each item's mask.

    - ``only_fg``: the object on black, ``m * x`` (sets the ``background`` cue to ``"none"``);
    - ``only_bg``: the object blacked out, ``(1 - m) * x`` (cues unchanged);
    - ``mixed_same``: the object on a background whose label equals the item's cue
      ``match_cue`` (default ``"shape"``, the object's class); an item without that cue, or
      with a label no background has, is an error naming both;
    - ``mixed_rand``: the object on any background, uniformly;
    - ``mixed_next``: on a background of the next label in sorted order after the item's
      ``match_cue`` label (wrapping around), a fixed wrong class.

    The mixed variants need ``backgrounds`` and ``labels`` (``mixed_rand`` only backgrounds)
    and set the ``background`` cue to the chosen background's label.
    """

    name = "backgrounds_challenge"
    differentiable = True
    needs_mask = True

    def __init__(
        self,
        variant: Variant = "only_fg",
        backgrounds: BackgroundsLike | None = None,
        labels: Sequence[str] | None = None,
        *,
        match_cue: str = "shape",
        fit: Fit = "crop",
        p: float = 1.0,
    ) -> None:
        if variant not in VARIANTS:
            raise ParameterError(f"parameter 'variant' = {variant!r} is not one of {list(VARIANTS)}")
        self.variant = variant
        self.match_cue = str(match_cue)
        self._composite: Composite | None = None
        if variant.startswith("mixed"):
            if backgrounds is None:
                raise ParameterError(f"variant {variant!r} needs backgrounds", hint="pass backgrounds=[...] (and labels=[...])")
            if variant != "mixed_rand" and labels is None:
                raise ParameterError(f"variant {variant!r} needs labels, one per background, to match the item's {match_cue!r} cue")
            self._composite = Composite(backgrounds, labels, fit=fit)
        elif backgrounds is not None or labels is not None:
            raise ParameterError(f"variant {variant!r} uses no backgrounds; drop backgrounds/labels")
        super().__init__(p=p)

    def __repr__(self) -> str:
        n = 0 if self._composite is None else len(self._composite.backgrounds)
        return f"BackgroundsChallenge(variant={self.variant!r}, {n} backgrounds, match_cue={self.match_cue!r})"

    @classmethod
    def example(cls) -> Operator:
        bgs = torch.stack([torch.linspace(0, 1, 24).expand(3, 24, 24), torch.linspace(1, 0, 24).view(24, 1).expand(3, 24, 24).contiguous()])
        return cls("mixed_rand", bgs, ["left", "top"])

    def _candidates(self, ctx: SampleContext) -> list[int]:
        assert self._composite is not None
        labels = self._composite.labels or []
        if self.variant == "mixed_rand":
            return list(range(len(self._composite.backgrounds)))
        own = ctx.item.cues.get(self.match_cue)
        if own is None:
            raise ParameterError(
                f"item {ctx.item.id!r} has no {self.match_cue!r} cue, which variant {self.variant!r} matches backgrounds by",
                hint=f"set the item's cues (its cues are {ctx.item.cues}) or choose match_cue",
            )
        if self.variant == "mixed_same":
            target = own
        else:
            order = sorted(set(labels))
            if own not in order:
                raise ParameterError(f"item {ctx.item.id!r}: its {self.match_cue!r} cue {own!r} is none of the background labels {order}")
            target = order[(order.index(own) + 1) % len(order)]
        found = [k for k, lab in enumerate(labels) if lab == target]
        if not found:
            raise ParameterError(f"item {ctx.item.id!r}: no background is labelled {target!r} (labels: {sorted(set(labels))})")
        return found

    def sample(self, g: torch.Generator, ctx: SampleContext) -> dict[str, Any]:
        if self._composite is None:
            return {"variant": self.variant}
        cand = self._candidates(ctx)
        k = cand[int(torch.randint(0, len(cand), (1,), generator=g).item())]
        labels = self._composite.labels
        return {"variant": self.variant, "background": k, "label": None if labels is None else labels[k]}

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        for i, p in enumerate(params):
            if p.get("variant") != self.variant:
                raise InputError(f"item {stim.items[i].id!r}: record is for variant {p.get('variant')!r}, this operator is {self.variant!r}")
        if self._composite is not None:
            full = [{"background": p.get("background"), "scale": 1.0, "x": None, "y": None, "feather": 0.0} for p in params]
            return self._composite.apply(stim, full)
        m = stim.mask
        if use_fast_path(stim.images, m):  # numpy per item into one fresh output
            out = empty_cpu(stim.images.shape, torch.float32)
            o, x, mn = out.numpy(), stim.images.contiguous().numpy(), m.contiguous().numpy()
            keep = np.empty(mn.shape[1:], np.float32)
            for i in range(len(stim)):
                if self.variant == "only_fg":
                    np.multiply(x[i], mn[i], out=o[i])
                else:
                    np.subtract(1.0, mn[i], out=keep)
                    np.multiply(x[i], keep, out=o[i])
        else:
            out = stim.images * m if self.variant == "only_fg" else stim.images * (1 - m)
        items: list[Item] = [it.copy() for it in stim.items]
        if self.variant == "only_fg":
            for it in items:
                it.cues["background"] = "none"
        return stim.replace(images=out, items=items)


OPERATORS: tuple[type[Operator], ...] = (Composite, BackgroundsChallenge)
