"""The attribution methods by name, with their options.

Every method is ``(score model, images (B, 3, H, W) in [0, 1], target columns (B,)) -> maps
(B, H, W)`` float32, positive = evidence for the target.  The table is written out here
(no registration by import side effects).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from ..errors import ParameterError
from . import gradients, patches
from .scores import ScoreModel

__all__ = ["CAPTUM_METHODS", "METHODS", "MethodOptions", "attribute", "check_method"]


@dataclass(frozen=True)
class MethodOptions:
    """Options of the methods (each method reads its own)."""

    #: occlusion / patch-evidence window side and stride in pixels (None: 56 and 28 at 224 px)
    patch: int | None = None
    stride: int | None = None
    #: occlusion fill: the image's mean colour or a Gaussian blur of the image
    fill: Literal["mean", "blur"] = "mean"
    #: integrated-gradients steps from the black baseline
    steps: int = 32
    #: Grad-CAM layer (a module name of the classifier; None: its last Conv2d)
    layer: str | None = None
    #: images scored per forward pass inside a method
    batch_size: int = 64

    def window(self, side: int) -> tuple[int, int]:
        patch = self.patch if self.patch is not None else max(1, round(side / 4))
        stride = self.stride if self.stride is not None else max(1, patch // 2)
        return patch, stride


Method = Callable[[ScoreModel, torch.Tensor, torch.Tensor, MethodOptions], torch.Tensor]


def _occlusion(m: ScoreModel, x: torch.Tensor, t: torch.Tensor, o: MethodOptions) -> torch.Tensor:
    patch, stride = o.window(min(x.shape[-2:]))
    return patches.occlusion(m, x, t, patch=patch, stride=stride, fill=o.fill, batch_size=o.batch_size)


def _patch_evidence(m: ScoreModel, x: torch.Tensor, t: torch.Tensor, o: MethodOptions) -> torch.Tensor:
    patch, stride = o.window(min(x.shape[-2:]))
    return patches.patch_evidence(m, x, t, patch=patch, stride=stride, batch_size=o.batch_size)


def _ig(m: ScoreModel, x: torch.Tensor, t: torch.Tensor, o: MethodOptions) -> torch.Tensor:
    return gradients.integrated_gradients(m, x, t, steps=o.steps, batch_size=o.batch_size)


def _gbp(m: ScoreModel, x: torch.Tensor, t: torch.Tensor, o: MethodOptions) -> torch.Tensor:
    return gradients.guided_backprop(m, x, t)


def _gradcam(m: ScoreModel, x: torch.Tensor, t: torch.Tensor, o: MethodOptions) -> torch.Tensor:
    return gradients.grad_cam(m, x, t, layer=o.layer or gradients.default_layer(m.net))


METHODS: dict[str, Method] = {
    "occlusion": _occlusion,
    "patch-evidence": _patch_evidence,
    "integrated-gradients": _ig,
    "guided-backprop": _gbp,
    "grad-cam": _gradcam,
}
#: Methods that need captum (the ``explain`` extra).
CAPTUM_METHODS = ("integrated-gradients", "guided-backprop", "grad-cam")


def check_method(name: str) -> str:
    if name not in METHODS:
        raise ParameterError(f"unknown explanation method {name!r}; valid methods: {', '.join(METHODS)}")
    if name in CAPTUM_METHODS:
        gradients.require_captum()
    return name


def attribute(model: ScoreModel, method: str, images: torch.Tensor, target: torch.Tensor, options: MethodOptions | None = None) -> torch.Tensor:
    """Maps ``(B, H, W)`` float32 of ``method`` for the target columns (items with ``target < 0`` get zeros)."""
    fn = METHODS[check_method(method)]
    o = options or MethodOptions()
    if o.layer is not None and method == "grad-cam":
        gradients.find_layer(model.net, o.layer)
    keep = (target >= 0).nonzero().flatten()
    out = torch.zeros((images.shape[0], *images.shape[-2:]), dtype=torch.float32)
    if len(keep):
        maps = fn(model, images[keep], target[keep], o)
        out[keep.cpu()] = maps.detach().to("cpu", torch.float32)
    return out
