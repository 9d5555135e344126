"""Texture-onto-shape kernels: masked fill and shading-preserving fill.

Pure batched tensor functions on ``(B, C, H, W)``; the texture images are already
rendered at the stimulus size (:func:`~foolbox_lite.textures.source.render_texture`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import InputError

__all__ = ["LUMA", "luminance", "check_masks", "composite", "shade", "edge_strength"]

#: ITU-R BT.601 luma weights (as the grayscale operator).
LUMA = (0.299, 0.587, 0.114)
#: Gradient magnitude at which the drawn-back edges reach half strength.
EDGE_HALF = 0.08


def luminance(images: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` -> BT.601 luma ``(B, 1, H, W)`` (elementwise, batch-independent)."""
    return (images[:, 0:1] * LUMA[0] + images[:, 1:2] * LUMA[1] + images[:, 2:3] * LUMA[2])


def check_masks(mask: torch.Tensor, ids: list[str], what: str) -> None:
    """Refuse empty and all-ones masks: a texture onto a shape needs both a shape and its outside."""
    flat = mask.detach().flatten(1)
    for k, i in enumerate(ids):
        if not bool((flat[k] > 0).any()):
            raise InputError(f"{what}: the mask of item {i!r} is empty (all zero), so there is no shape to fill", hint="check the 'mask' layer (white = object)")
        if bool((flat[k] >= 1).all()):
            raise InputError(
                f"{what}: the mask of item {i!r} is all ones, so the 'shape' is the whole image",
                hint="give a silhouette mask; to texture the whole image use a mask with a background",
            )


def composite(inside: torch.Tensor, outside: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mask * inside + (1 - mask) * outside`` in one fused op (a new tensor)."""
    return torch.lerp(outside, inside, mask.to(inside.dtype))


def edge_strength(lum: torch.Tensor) -> torch.Tensor:
    """Soft edge map ``(B, 1, H, W)`` in ``[0, 1)`` from the Sobel gradient of ``lum`` (smooth, differentiable)."""
    k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=lum.dtype, device=lum.device) / 8.0
    weight = torch.stack([k, k.t()]).unsqueeze(1)  # (2, 1, 3, 3)
    g = F.conv2d(F.pad(lum, (1, 1, 1, 1), mode="replicate"), weight)
    mag = (g.square().sum(dim=1, keepdim=True) + 1e-12).sqrt()
    return mag / (mag + EDGE_HALF)


def shade(
    texture: torch.Tensor,
    lum: torch.Tensor,
    mask: torch.Tensor,
    strength: torch.Tensor,
    edges: torch.Tensor,
) -> torch.Tensor:
    """The texture modulated by the object's own luminance, so its 3D form stays visible.

    ``texture`` ``(B, 3, H, W)``, ``lum`` ``(B, 1, H, W)`` (the object's luma), ``mask``
    ``(B, 1, H, W)``, ``strength``/``edges`` ``(B, 1, 1, 1)`` in ``[0, 1]``.  The shading
    ``d = strength * (lum - mean) / max(mean, 1 - mean)`` (``mean`` = the object's mean
    luma inside the mask) lies in ``[-1, 1]``: where ``d < 0`` the texture is darkened
    towards black (``t * (1 + d)``), where ``d > 0`` lightened towards white
    (``t + d (1 - t)``), so the result stays in ``[0, 1]`` without clipping.  ``edges``
    then darkens the texture along the object's edges (``t * (1 - edges * e)``).
    """
    w = mask.to(lum.dtype)
    mean = (lum * w).sum(dim=(2, 3), keepdim=True) / w.sum(dim=(2, 3), keepdim=True)
    gain = torch.maximum(mean, 1 - mean)
    d = strength * (lum - mean) / gain
    out = texture + d * torch.where(d < 0, texture, 1 - texture)
    return out * (1 - edges * edge_strength(lum))
