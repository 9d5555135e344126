"""Unusual-angle warps: in-plane rotation, out-of-plane tilt, flips, scale and translation.

Every warp turns the object about its own centre (the mask's centroid, or the image
centre without a mask), warps every layer with the image so masks stay aligned, and
records the sampled values and the 3x3 matrix it applied (about that centre: the pixel
homography is ``T(c) @ matrix @ T(-c)``, see :meth:`WarpOperator.matrices`).  A warp
that would tear the object at a vanishing line, flatten it or push most of it out of
the frame is refused with a :class:`~foolbox_lite.errors.ParameterError` naming the item
and its values, never turned into a black image.  The math lives in
:mod:`foolbox_lite.operators.homography`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch

from ..errors import InputError, ParameterError
from ..params import SpecLike, as_spec, check_number
from ..seeding import BatchDraws
from ..stimuli import MASK, Stimuli
from .base import BatchContext, Operator
from .cue_controls import GEOMETRY
from .homography import (
    BORDERS,
    INTERPOLATIONS,
    Border,
    Interpolation,
    about_centre,
    check_warps,
    empty_cpu,
    object_frames,
    use_fast_path,
    warp,
    warp_many,
)
from .itempool import for_items
from .records import Params, as_params
from .warp_matrices import flip_matrices, rotation_matrices, scale_translate_matrices, tilt_matrices

__all__ = ["OPERATORS", "Flip", "Rotate", "ScaleTranslate", "Tilt", "WarpOperator"]

Centre = Literal["object", "image"]
CENTRES = ("object", "image")


def _check_choice(name: str, value: Any, options: Sequence[str]) -> str:
    if value not in options:
        raise ParameterError(f"parameter {name!r} = {value!r} is not one of {list(options)}")
    return str(value)


def _check_fill(fill: Any, border: str) -> list[float]:
    vals = [fill] if isinstance(fill, (int, float)) and not isinstance(fill, bool) else fill
    if not isinstance(vals, Sequence) or isinstance(vals, str) or len(vals) not in (1, 3):
        raise ParameterError(f"parameter 'fill' must be a number or 3 numbers (RGB) in [0, 1], got {fill!r}")
    out = [float(check_number(f"fill[{i}]", v, low=0.0, high=1.0)) for i, v in enumerate(vals)]
    out = out * 3 if len(out) == 1 else out
    if border != "constant" and any(out):
        raise ParameterError(f"parameter 'fill' = {fill!r} is only used with border='constant', but border={border!r}", hint="set border='constant' or drop fill")
    return out


def _params_matrices(params: Params, what: str) -> torch.Tensor:
    """The recorded centred matrices ``(B, 3, 3)`` float64 (a clear error naming the first bad item)."""
    if not len(params):
        return torch.zeros(0, 3, 3, dtype=torch.float64)
    try:
        t = params.column("matrix", dtype=torch.float64, what=what)
    except InputError:
        t = None
    if t is None or t.shape[1:] != (3, 3) or not torch.isfinite(t).all():
        for i, p in enumerate(params):
            m = p.get("matrix")
            try:
                ok = torch.tensor(m, dtype=torch.float64)
                ok = ok.shape == (3, 3) and bool(torch.isfinite(ok).all())
            except (TypeError, ValueError, RuntimeError):
                ok = False
            if not ok:
                raise InputError(f"item {i}: params 'matrix' must be a finite 3x3 list, got {m!r}")
    return t


class WarpOperator(Operator):
    """Common base of the homography warps: border policy, interpolation, centre and the checks.

    Subclasses draw their values in :meth:`sample` and return them with ``"matrix"``, the
    centred 3x3 forward matrix; :meth:`apply` warps the images and every layer with it.
    """

    differentiable = True
    cue_controls = GEOMETRY

    def _setup(self, border: str, fill: Any, interpolation: str, centre: str, min_visible: float) -> None:
        self.border = _check_choice("border", border, BORDERS)
        self.fill = _check_fill(fill, self.border)
        self.interpolation = _check_choice("interpolation", interpolation, INTERPOLATIONS)
        self.centre = _check_choice("centre", centre, CENTRES)
        self.min_visible = float(check_number("min_visible", min_visible, low=0.0, high=1.0))

    def matrices(self, stim: Stimuli, params: Params | Sequence[Mapping[str, Any]]) -> torch.Tensor:
        """The forward pixel homographies ``(B, 3, 3)`` (float64) that :meth:`apply` uses."""
        return self._frames(stim, as_params(params))[0]

    def _frames(self, stim: Stimuli, params: Params) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = stim.size
        mask = stim.layers.get(MASK) if self.centre == "object" else None
        centres, boxes = object_frames(mask, h, w, len(stim))
        if self.centre == "image" and MASK in stim.layers:
            boxes = object_frames(stim.layers[MASK], h, w, len(stim))[1]
        centred = _params_matrices(params, type(self).__name__)
        return about_centre(centred, centres), boxes

    def apply(self, stim: Stimuli, params: Params | Sequence[Mapping[str, Any]]) -> Stimuli:
        h, w = stim.size
        params = as_params(params)
        mats, boxes = self._frames(stim, params)

        def describe(i: int) -> str:
            shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in params[i].items() if k != "matrix"}
            return f"{stim.items[i].id!r} ({type(self).__name__} {shown})"

        def checks() -> None:
            check_warps(mats, boxes, h, w, self.min_visible, describe)

        # The image and its float layers in one pass; layers get 0 where the image gets the fill.
        # The checks run while the warp starts on other threads; a refused warp's output is dropped.
        names = [k for k, v in stim.layers.items() if v.is_floating_point()]
        tensors = [stim.images] + [stim.layers[k] for k in names]
        fills = [self.fill] + [[0.0] * stim.layers[k].shape[1] for k in names]
        images, *warped = warp_many(tensors, mats, border=self.border, fills=fills, interpolation=self.interpolation, alongside=checks)
        layers = dict(zip(names, warped))
        layer_border = "zeros" if self.border in ("zeros", "constant") else self.border
        for name, layer in stim.layers.items():
            if name not in layers:  # label maps: nearest, in float, back to their dtype
                layers[name] = warp(layer.float(), mats, border=layer_border, interpolation="nearest").round().to(layer.dtype)
        return stim.replace(images=images, layers={k: layers[k] for k in stim.layers})


class Rotate(WarpOperator):
    """In-plane rotation by ``angle`` degrees (counter-clockwise) about the object's centre.

    ``Rotate(angle=(-180, 180))`` turns each item by a uniform angle; ``Rotate(angle=90)``
    by a fixed one.  Records ``angle`` and the centred ``matrix``.
    """

    name = "rotate"

    def __init__(
        self,
        angle: SpecLike = (-180.0, 180.0),
        *,
        border: Border = "zeros",
        fill: float | Sequence[float] = 0.0,
        interpolation: Interpolation = "bilinear",
        centre: Centre = "object",
        min_visible: float = 0.5,
        p: float = 1.0,
    ) -> None:
        self.angle = as_spec("angle", angle, low=-360.0, high=360.0)
        self._setup(border, fill, interpolation, centre, min_visible)
        super().__init__(p=p)

    @classmethod
    def example(cls) -> Operator:
        return cls(angle=(-90.0, 90.0), border="reflect")

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> dict[str, torch.Tensor]:
        a = self.draw(draws, self.angle)
        return {"angle": a, "matrix": rotation_matrices(a)}


def _spec_numbers(spec: Any) -> list[float]:
    d = spec.to_dict()
    if isinstance(d, dict):
        (vals,) = d.values()
        return [float(v) for v in vals]
    return [float(v) for v in d] if isinstance(d, list) else [float(d)]


def _open_angle_spec(name: str, value: SpecLike) -> Any:
    spec = as_spec(name, value, low=-90.0, high=90.0)
    if any(abs(v) >= 90.0 for v in _spec_numbers(spec)):
        raise ParameterError(
            f"parameter {name!r} = {value!r} reaches 90 degrees, where the object is seen edge-on (a degenerate homography)",
            hint="keep tilt angles strictly between -90 and 90 (in practice within about 80)",
        )
    return spec


class Tilt(WarpOperator):
    """Out-of-plane tilt about the object's own centre, seen through a pinhole camera.

    ``pitch`` (about the horizontal axis; positive turns the top away), ``yaw`` (about the
    vertical axis; positive turns the right side away) and ``roll`` (in-plane) are specs in
    degrees; ``focal`` is the focal length, in pixels (``focal_unit="px"``) or as a fraction
    of the image's longer side (``focal_unit="size"``, default; 1.0 is a ~53 degree field of
    view).  The homography is ``K0 [r1 r2 e3] K0^-1`` about the object's centroid (see
    :func:`~foolbox_lite.operators.homography.tilt_matrix`).  Records ``pitch``, ``yaw``,
    ``roll``, ``focal_px`` and the centred ``matrix``.
    """

    name = "tilt"

    def __init__(
        self,
        pitch: SpecLike = (-50.0, 50.0),
        yaw: SpecLike = 0.0,
        roll: SpecLike = 0.0,
        focal: SpecLike = 1.0,
        *,
        focal_unit: Literal["size", "px"] = "size",
        border: Border = "zeros",
        fill: float | Sequence[float] = 0.0,
        interpolation: Interpolation = "bilinear",
        centre: Centre = "object",
        min_visible: float = 0.5,
        p: float = 1.0,
    ) -> None:
        self.pitch = _open_angle_spec("pitch", pitch)
        self.yaw = _open_angle_spec("yaw", yaw)
        self.roll = as_spec("roll", roll, low=-360.0, high=360.0)
        self.focal_unit = _check_choice("focal_unit", focal_unit, ("size", "px"))
        self.focal = as_spec("focal", focal, low=0.0)
        if any(v <= 0 for v in _spec_numbers(self.focal)):
            raise ParameterError(f"parameter 'focal' = {focal!r} must be positive", hint="a focal length of 1.0 x the image size is a typical camera")
        self._setup(border, fill, interpolation, centre, min_visible)
        super().__init__(p=p)

    @classmethod
    def example(cls) -> Operator:
        return cls(pitch=(-45.0, 45.0), yaw=(-40.0, 40.0), roll=(-20.0, 20.0), focal=(0.8, 1.5), border="replicate")

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> dict[str, torch.Tensor]:
        pitch, yaw, roll = self.draw(draws, self.pitch), self.draw(draws, self.yaw), self.draw(draws, self.roll)
        f = self.draw(draws, self.focal)
        f_px = f * max(ctx.height, ctx.width) if self.focal_unit == "size" else f
        return {"pitch": pitch, "yaw": yaw, "roll": roll, "focal_px": f_px, "matrix": tilt_matrices(pitch, yaw, roll, f_px)}


class ScaleTranslate(WarpOperator):
    """Scale about the object's centre by ``scale`` and move it by ``(tx, ty)``.

    ``tx`` and ``ty`` are fractions of the image width and height (``tx=0.1`` moves right
    by a tenth of the width).  Records ``scale``, ``tx_px``, ``ty_px`` and the centred ``matrix``.
    """

    name = "scale_translate"

    def __init__(
        self,
        scale: SpecLike = 1.0,
        tx: SpecLike = 0.0,
        ty: SpecLike = 0.0,
        *,
        border: Border = "zeros",
        fill: float | Sequence[float] = 0.0,
        interpolation: Interpolation = "bilinear",
        centre: Centre = "object",
        min_visible: float = 0.5,
        p: float = 1.0,
    ) -> None:
        self.scale = as_spec("scale", scale, low=0.05, high=20.0)
        self.tx = as_spec("tx", tx, low=-1.0, high=1.0)
        self.ty = as_spec("ty", ty, low=-1.0, high=1.0)
        self._setup(border, fill, interpolation, centre, min_visible)
        super().__init__(p=p)

    @classmethod
    def example(cls) -> Operator:
        return cls(scale={"loguniform": [0.7, 1.3]}, tx=(-0.1, 0.1), ty=(-0.1, 0.1), border="constant", fill=[0.5, 0.5, 0.5])

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> dict[str, torch.Tensor]:
        s = self.draw(draws, self.scale)
        tx, ty = self.draw(draws, self.tx) * ctx.width, self.draw(draws, self.ty) * ctx.height
        return {"scale": s, "tx_px": tx, "ty_px": ty, "matrix": scale_translate_matrices(s, tx, ty)}


def _flip_cv2(x: torch.Tensor, flags: Sequence[tuple[bool, bool]]) -> torch.Tensor:
    """Per-plane ``cv2.flip`` into one fresh output, items on a few threads (CPU float32 without grad; exact like ``torch.flip``)."""
    import cv2

    out = empty_cpu(x.shape, torch.float32)
    s, o = x.contiguous().numpy(), out.numpy()
    b, c, h, w = s.shape
    codes = [{(True, False): 1, (False, True): 0, (True, True): -1}.get(hv) for hv in flags]

    def work(start: int, stop: int) -> None:
        for i in range(start, stop):
            code = codes[i]
            if code is None:
                np.copyto(o[i], s[i])
            elif code == 1:  # mirroring rows: all planes of the item in one call
                cv2.flip(s[i].reshape(c * h, w), 1, dst=o[i].reshape(c * h, w))
            else:
                for k in range(c):
                    cv2.flip(s[i, k], code, dst=o[i, k])

    for_items(work, b)
    return out


class Flip(Operator):
    """Mirror left-right with probability ``horizontal`` and top-bottom with probability ``vertical``.

    Exact (a pixel permutation about the image centre, no interpolation); every layer is
    flipped with the image.  Records ``horizontal``, ``vertical`` and the full pixel ``matrix``.
    """

    name = "flip"
    cue_controls = GEOMETRY
    differentiable = True

    def __init__(self, horizontal: float = 0.5, vertical: float = 0.0, *, p: float = 1.0) -> None:
        self.horizontal = float(check_number("horizontal", horizontal, low=0.0, high=1.0))
        self.vertical = float(check_number("vertical", vertical, low=0.0, high=1.0))
        super().__init__(p=p)

    @classmethod
    def example(cls) -> Operator:
        return cls(horizontal=0.5, vertical=0.5)

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> dict[str, torch.Tensor]:
        u = draws.uniform(2)
        hf, vf = u[:, 0] < self.horizontal, u[:, 1] < self.vertical
        return {"horizontal": hf, "vertical": vf, "matrix": flip_matrices(hf, vf, ctx.height, ctx.width)}

    def apply(self, stim: Stimuli, params: Params | Sequence[Mapping[str, Any]]) -> Stimuli:
        params = as_params(params)
        hf, vf = (params.column(k, what="flip") if len(params) else torch.zeros(0, dtype=torch.bool) for k in ("horizontal", "vertical"))
        if hf.dtype != torch.bool or vf.dtype != torch.bool:
            bad = next(i for i, p in enumerate(params) if not isinstance(p.get("horizontal"), bool) or not isinstance(p.get("vertical"), bool))
            raise InputError(f"item {bad}: flip params need booleans 'horizontal' and 'vertical', got {dict(params[bad])!r}")
        flags = list(zip(hf.tolist(), vf.tolist()))
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (h, v) in enumerate(flags):
            groups.setdefault(tuple(d for d, on in ((-1, h), (-2, v)) if on), []).append(i)

        def flipped(x: torch.Tensor) -> torch.Tensor:
            if use_fast_path(x):
                return _flip_cv2(x, flags)
            if list(groups) == [()]:
                return x.clone()
            if len(groups) == 1:
                return x.flip(next(iter(groups)))
            out = x.clone()
            for dims, idx in groups.items():
                if dims:
                    index = torch.as_tensor(idx, device=x.device)
                    out = out.index_copy(0, index, x.index_select(0, index).flip(dims))
            return out

        return stim.replace(images=flipped(stim.images), layers={k: flipped(v) for k, v in stim.layers.items()})


OPERATORS: tuple[type[Operator], ...] = (Rotate, Tilt, ScaleTranslate, Flip)
