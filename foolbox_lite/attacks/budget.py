"""Perturbation budgets: parsing ``eps``, projecting onto the L-inf / L2 ball, fitting sizes.

A perturbation lives in input space: ``[0, 1]`` pixels before the classifier's own
normalisation, at the classifier's input size.  ``eps`` is always given on an
explicit scale (``10/255``, or ``10`` with ``scale=255``) and never guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import torch
import torch.nn.functional as F

from ..errors import InputError, ParameterError

__all__ = ["NORMS", "Budget", "Norm", "SizeRule", "fit_size", "parse_eps", "perturbation_norm", "project"]

Norm = Literal["linf", "l2"]
NORMS: tuple[str, ...] = ("linf", "l2")
SizeRule = Literal["error", "resize", "tile"]
EpsLike = float | int | str


def parse_eps(eps: EpsLike, scale: float = 1.0) -> float:
    """``eps`` on the 0-1 pixel scale from a number or a text such as ``"10/255"`` or ``"0.04"``.

    ``scale`` says which scale a plain number is on: ``1`` (pixels in ``[0, 1]``) or
    ``255`` (8-bit levels).  A fraction ``a/b`` is read exactly and then divided by
    ``scale`` like any number, so ``"10/255"`` with ``scale=1`` is ``0.0392...``.
    """
    if scale not in (1, 255):
        raise ParameterError(f"eps scale must be 1 or 255, got {scale!r}", hint="use scale=255 for eps given in 8-bit levels (e.g. 10), 1 for [0, 1] pixels")
    if isinstance(eps, bool):
        raise ParameterError(f"eps must be a number or a text like '10/255', got {eps!r}")
    if isinstance(eps, str):
        text = eps.strip()
        try:
            value = float(Fraction(text)) if "/" in text else float(text)
        except (ValueError, ZeroDivisionError):
            raise ParameterError(f"eps {eps!r} is not a number", hint="write it as 0.0392, 10/255, or 10 with scale 255") from None
    elif isinstance(eps, (int, float)):
        value = float(eps)
    else:
        raise ParameterError(f"eps must be a number or a text like '10/255', got {type(eps).__name__}")
    if not math.isfinite(value):
        raise ParameterError(f"eps must be finite, got {eps!r}")
    if value <= 0:
        raise ParameterError(f"eps must be positive, got {eps!r}", hint="a zero or negative budget allows no perturbation; try 10/255")
    return value / scale


@dataclass(frozen=True)
class Budget:
    """A norm ball ``||delta||_norm <= eps`` in ``[0, 1]`` pixel units."""

    norm: Norm
    eps: float

    @classmethod
    def make(cls, norm: str, eps: EpsLike, *, scale: float = 1.0, size: tuple[int, int] | None = None) -> Budget:
        """Validate ``norm`` and ``eps`` (see :func:`parse_eps`); ``size`` bounds an L2 eps by the pixel range."""
        n = str(norm).lower().replace("-", "").replace("_", "")
        n = {"linf": "linf", "inf": "linf", "l2": "l2", "2": "l2"}.get(n, n)
        if n not in NORMS:
            raise ParameterError(f"norm {norm!r} is not supported", hint="use 'linf' or 'l2'")
        value = parse_eps(eps, scale)
        if n == "linf" and value > 1.0:
            raise ParameterError(
                f"L-inf eps {eps!r} (scale {scale:g}) is {value:g} on the 0-1 pixel scale, above the pixel range 1",
                hint=f"did you mean {eps}/255? give eps as a fraction like 10/255, or pass scale 255",
            )
        if n == "l2" and size is not None:
            top = math.sqrt(3 * size[0] * size[1])
            if value > top:
                raise ParameterError(
                    f"L2 eps {eps!r} (scale {scale:g}) is {value:g}, above the largest possible L2 distance {top:.1f} between two {size[0]}x{size[1]} images",
                    hint="give eps on the 0-1 pixel scale, or pass scale 255 for 8-bit levels",
                )
        return cls(n, value)  # type: ignore[arg-type]

    def project(self, delta: torch.Tensor) -> torch.Tensor:
        return project(delta, self.norm, self.eps)

    def to_dict(self) -> dict[str, object]:
        return {"norm": self.norm, "eps": self.eps}


def perturbation_norm(delta: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-item norm of ``delta`` ``(B, C, H, W)`` -> ``(B,)``."""
    flat = delta.reshape(delta.shape[0], -1)
    if norm == "linf":
        return flat.abs().amax(dim=1)
    if norm == "l2":
        return flat.norm(dim=1)
    raise ParameterError(f"norm {norm!r} is not supported", hint="use 'linf' or 'l2'")


def _floor_eps(eps: float, dtype: torch.dtype) -> float:
    """The largest value of ``dtype`` not above ``eps`` (float32(0.1) is above 0.1: the budget must hold exactly)."""
    t = torch.tensor(eps, dtype=dtype)
    if float(t) > eps:
        t = torch.nextafter(t, torch.tensor(0.0, dtype=dtype))
    return float(t)


def project(delta: torch.Tensor, norm: str, eps: float) -> torch.Tensor:
    """Project each item of ``delta`` ``(B, C, H, W)`` onto the ``norm`` ball of radius ``eps`` (a new tensor).

    L-inf clamps every value to ``[-eps, eps]``; L2 rescales items whose norm exceeds
    ``eps`` onto the sphere.  The result satisfies the budget exactly, measured in
    float64 (values are rounded towards zero where the tensor's dtype cannot hold ``eps``).
    """
    if norm == "linf":
        e = _floor_eps(eps, delta.dtype)
        return delta.clamp(-e, e)
    if norm == "l2":
        shape = (-1, *([1] * (delta.dim() - 1)))
        n = perturbation_norm(delta.double(), "l2").view(shape)
        factor = torch.where(n > eps, eps / n.clamp_min(1e-300), torch.ones_like(n))
        out = (delta.double() * factor).to(delta.dtype)
        for _ in range(8):  # rounding to the dtype may leave the norm a hair above eps
            over = perturbation_norm(out.double(), "l2") > eps
            if not bool(over.any()):
                break
            out = torch.where(over.view(shape), out * (1 - 4 * torch.finfo(out.dtype).eps), out)
        return out
    raise ParameterError(f"norm {norm!r} is not supported", hint="use 'linf' or 'l2'")


def fit_size(delta: torch.Tensor, size: tuple[int, int], rule: SizeRule, *, norm: str | None = None, eps: float | None = None) -> torch.Tensor:
    """Bring a perturbation ``(B, C, h, w)`` to ``size`` ``(H, W)``.

    ``resize``: bilinear without antialiasing (each output value is a convex mix of
    input values, so the L-inf norm never grows); with ``norm="l2"`` the result is
    projected back onto the ``eps`` ball.  ``tile``: repeat the pattern from the top
    left corner and crop (keeps pixel values and L-inf exactly; L2 is re-projected).
    ``error``: a clear error when the sizes differ.
    """
    if delta.shape[-2:] == tuple(size):
        return delta
    h, w = delta.shape[-2:]
    if rule == "error":
        raise InputError(
            f"the perturbation is {h}x{w} but the images are {size[0]}x{size[1]}",
            hint="load the images at the perturbation's size, or choose the size rule 'resize' or 'tile'",
        )
    if rule == "resize":
        out = F.interpolate(delta, size=tuple(size), mode="bilinear", align_corners=False, antialias=False)
    elif rule == "tile":
        reps_h, reps_w = -(-size[0] // h), -(-size[1] // w)
        out = delta.repeat(1, 1, reps_h, reps_w)[..., : size[0], : size[1]]
    else:
        raise ParameterError(f"size rule {rule!r} is not supported", hint="use 'resize', 'tile' or 'error'")
    if norm == "l2" and eps is not None:
        out = project(out, "l2", eps)
    return out.contiguous()
