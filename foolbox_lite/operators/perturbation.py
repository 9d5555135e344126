"""Adding a given perturbation (e.g. a universal adversarial perturbation) under an L-inf or L2 budget.

``AddPerturbation(delta)`` takes ``delta`` as a float tensor ``(3, h, w)`` in [0, 1]-pixel
units (what a fitted universal perturbation is).  For each image size it:

1. brings ``delta`` to the image size following ``resize``: ``"resize"`` (bilinear, with
   antialiasing when shrinking), ``"tile"`` (repeat from the top-left corner, then crop) or
   ``"error"`` (refuse a different size);
2. when ``eps`` is given, projects it onto the ``norm`` ball of radius ``eps``
   (L-inf: clamp every value to ``[-eps, eps]``; L2: rescale to L2 norm ``eps`` when larger;
   the L2 norm is taken over all ``3 * H * W`` values of one image);
3. adds it to every image and clamps the result to [0, 1].

Each item's record holds ``norm``, ``eps`` and ``delta_norm``: the norm of the perturbation
actually added (before the clamp to [0, 1], which can only shrink it).  The tensor itself is
not recorded: keep the file it came from next to the stimuli.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..errors import InputError, ParameterError
from ..params import check_number
from ..seeding import BatchDraws
from ..stimuli import Stimuli
from .base import BatchContext, Operator
from .buffers import empty_output
from .cue_controls import APPEARANCE
from .records import Column

__all__ = ["OPERATORS", "AddPerturbation", "add_perturbation", "fit_delta", "project"]

_NORMS = ("linf", "l2")
_RESIZE = ("resize", "tile", "error")


def fit_delta(delta: torch.Tensor, height: int, width: int, resize: str) -> torch.Tensor:
    """``(3, h, w)`` -> ``(3, height, width)`` following the ``resize`` rule (see the module docstring)."""
    _, h, w = delta.shape
    if (h, w) == (height, width):
        return delta
    if resize == "error":
        raise InputError(
            f"the perturbation is {h}x{w} but the images are {height}x{width}",
            hint="resize the images, or construct AddPerturbation with resize='resize' or 'tile'",
        )
    if resize == "tile":
        reps = (1, -(-height // h), -(-width // w))
        return delta.repeat(*reps)[:, :height, :width]
    if resize == "resize":
        return torch.nn.functional.interpolate(delta[None], size=(height, width), mode="bilinear", align_corners=False, antialias=True)[0]
    raise ParameterError(f"parameter 'resize' = {resize!r} is not one of {list(_RESIZE)}")


def project(delta: torch.Tensor, norm: str, eps: float | None) -> torch.Tensor:
    """Project ``delta`` onto the ``norm`` ball of radius ``eps`` (unchanged when ``eps`` is None)."""
    if eps is None:
        return delta
    if norm == "linf":
        return delta.clamp(-eps, eps)
    if norm == "l2":
        n = float(delta.double().norm())
        return delta * (eps / n) if n > eps else delta
    raise ParameterError(f"parameter 'norm' = {norm!r} is not one of {list(_NORMS)}")


def add_perturbation(images: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``clamp(images + delta, 0, 1)`` for ``(B, 3, H, W)`` images and a ``(3, H, W)`` delta."""
    if images.requires_grad and torch.is_grad_enabled():
        return (images + delta).clamp(0.0, 1.0)
    out = torch.add(images, delta, out=empty_output(images))
    return out.clamp_(0.0, 1.0)


class AddPerturbation(Operator):
    """Add a fixed perturbation ``delta`` ``(3, h, w)`` to every image, within an optional ``eps`` budget, then clamp to [0, 1].

    ``norm`` is ``"linf"`` or ``"l2"``; ``resize`` is ``"resize"``, ``"tile"`` or ``"error"``
    for images of another size.  Build it from a saved file with
    ``AddPerturbation(torch.load(path), eps=...)``.
    """

    name = "add_perturbation"
    cue_controls = APPEARANCE
    differentiable = True

    def __init__(self, delta: torch.Tensor, *, norm: str = "linf", eps: float | None = None, resize: str = "resize", p: float = 1.0) -> None:
        if not isinstance(delta, torch.Tensor):
            raise ParameterError(
                f"parameter 'delta' must be a torch.Tensor (3, h, w), got {type(delta).__name__}",
                hint="load a saved perturbation with torch.load(path) or torch.from_numpy(array)",
            )
        if delta.dim() != 3 or delta.shape[0] != 3:
            raise ParameterError(
                f"parameter 'delta' must have shape (3, h, w), got {tuple(delta.shape)}",
                hint="one value per RGB channel and pixel; drop a batch dimension with delta[0]",
            )
        if not delta.is_floating_point():
            raise ParameterError(f"parameter 'delta' must be floating point in [0, 1]-pixel units, got dtype {delta.dtype}")
        if not torch.isfinite(delta).all():
            raise ParameterError("parameter 'delta' contains NaN or infinite values")
        if norm not in _NORMS:
            raise ParameterError(f"parameter 'norm' = {norm!r} is not one of {list(_NORMS)}")
        if resize not in _RESIZE:
            raise ParameterError(f"parameter 'resize' = {resize!r} is not one of {list(_RESIZE)}")
        self.eps = None if eps is None else float(check_number("eps", eps, low=0.0))
        self.delta = delta.detach().to("cpu", torch.float32).clone()
        self.norm, self.resize = norm, resize
        self._cache: dict[tuple[int, int], tuple[torch.Tensor, float]] = {}
        super().__init__(p=p)
        self._record(delta=self.delta)

    def delta_for(self, height: int, width: int) -> tuple[torch.Tensor, float]:
        """The (resized, projected) float32 CPU delta added to ``height x width`` images, and its norm."""
        key = (height, width)
        if key not in self._cache:
            d = project(fit_delta(self.delta, height, width, self.resize), self.norm, self.eps)
            n = float(d.abs().max()) if self.norm == "linf" else float(d.double().norm())
            self._cache[key] = (d.contiguous(), n)
        return self._cache[key]

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> dict[str, Column]:
        _, n = self.delta_for(ctx.height, ctx.width)
        b = len(draws)
        return {"norm": [self.norm] * b, "eps": [self.eps] * b, "delta_norm": [n] * b}

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        d, _ = self.delta_for(*stim.size)
        return stim.replace(images=add_perturbation(stim.images, d.to(stim.device, stim.dtype)))

    @classmethod
    def example(cls) -> AddPerturbation:
        g = torch.Generator().manual_seed(0)
        delta = (torch.rand(3, 16, 16, generator=g) - 0.5) * 0.2
        return cls(delta, norm="l2", eps=1.0, resize="resize")


OPERATORS: tuple[type[Operator], ...] = (AddPerturbation,)
