"""Gradient attributions through captum (optional extra ``foolbox-lite[explain]``).

- ``integrated-gradients``: :class:`captum.attr.IntegratedGradients` from a black baseline,
  summed over colour channels;
- ``guided-backprop``: :class:`captum.attr.GuidedBackprop`, summed over channels.  captum's
  rule acts on ``nn.ReLU`` modules; a copy of the model has its ``nn.ReLU6`` modules
  (EfficientNet-Lite, MobileNets) swapped for a ``nn.ReLU`` subclass that still clips at 6, so the
  rule reaches them instead of silently giving plain gradients;
- ``grad-cam``: :class:`captum.attr.LayerGradCam` on a named layer (default: the last
  convolution), ReLU'd and upsampled bilinearly to the image size.

Maps are ``(B, H, W)`` float32 at the stimulus size.
"""

from __future__ import annotations

import copy
import warnings

import torch
import torch.nn.functional as F

from ..errors import ModelError, ParameterError

__all__ = ["default_layer", "find_layer", "grad_cam", "guided_backprop", "integrated_gradients", "require_captum"]


def require_captum() -> None:
    """Raise a clear error with the install hint when captum is missing."""
    try:
        import captum.attr  # noqa: F401
    except ImportError as exc:
        raise ModelError("the gradient methods need captum, which is not installed", hint="pip install 'foolbox-lite[explain]' (or pip install captum)") from exc


def integrated_gradients(model: torch.nn.Module, images: torch.Tensor, target: torch.Tensor, *, steps: int = 32, batch_size: int = 64) -> torch.Tensor:
    require_captum()
    from captum.attr import IntegratedGradients

    x = images.clone().requires_grad_(True)
    attr = IntegratedGradients(model).attribute(x, baselines=torch.zeros_like(x), target=target.clamp(min=0).tolist(),
                                                n_steps=steps, internal_batch_size=batch_size)
    return attr.sum(dim=1).detach().float()


class _ClippedReLU(torch.nn.ReLU):
    """ReLU6 as an ``nn.ReLU`` (so captum's guided rule applies to it); the forward still clips at 6."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x)


def _guided_copy(model: torch.nn.Module) -> torch.nn.Module:
    twin = copy.deepcopy(model)
    for parent in twin.modules():
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.ReLU6:
                setattr(parent, name, _ClippedReLU())
    return twin


def guided_backprop(model: torch.nn.Module, images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    require_captum()
    from captum.attr import GuidedBackprop

    x = images.clone().requires_grad_(True)
    with warnings.catch_warnings():  # captum announces its (temporary) hooks on every call
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
        attr = GuidedBackprop(_guided_copy(model)).attribute(x, target=target.clamp(min=0).tolist())
    return attr.sum(dim=1).detach().float()


def default_layer(model: torch.nn.Module) -> str:
    """The last ``nn.Conv2d`` of the model: the usual Grad-CAM layer."""
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    if not names:
        raise ParameterError("the model has no Conv2d layer for Grad-CAM", hint="name a layer with --layer")
    return names[-1]


def find_layer(model: torch.nn.Module, name: str) -> torch.nn.Module:
    modules = dict(model.named_modules())
    if name not in modules or not name:
        valid = [n for n in modules if n]
        raise ParameterError(f"unknown layer {name!r} for Grad-CAM; valid layer names: {', '.join(valid)}",
                             hint=f"the usual choice is the last convolution, {default_layer(model)!r}")
    return modules[name]


def grad_cam(model: torch.nn.Module, images: torch.Tensor, target: torch.Tensor, *, layer: str) -> torch.Tensor:
    require_captum()
    from captum.attr import LayerAttribution, LayerGradCam

    x = images.clone().requires_grad_(True)
    attr = LayerGradCam(model, find_layer(getattr(model, "net", model), layer)).attribute(x, target=target.clamp(min=0).tolist(), relu_attributions=True)
    up = LayerAttribution.interpolate(attr.detach(), tuple(images.shape[-2:]), interpolate_mode="bilinear")
    return up[:, 0].float()
