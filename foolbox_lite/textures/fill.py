"""Texture-onto-shape kernels: masked fill and shading-preserving fill.

Pure batched tensor functions on ``(B, C, H, W)``; the texture images are already
rendered at the stimulus size (:func:`~foolbox_lite.textures.source.render_texture`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import InputError

__all__ = ["LUMA", "check_masks", "edge_strength", "luminance", "shade"]

#: ITU-R BT.601 luma weights (as the grayscale operator).
LUMA = (0.299, 0.587, 0.114)
#: Smallest luminance spread treated as shading (below it, e.g. JPEG noise on a flat silhouette, is not amplified).
MIN_SHADING_STD = 0.02
#: Gradient magnitude at which the drawn-back edges reach half strength.
EDGE_HALF = 0.08


def luminance(images: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` -> BT.601 luma ``(B, 1, H, W)`` (elementwise, batch-independent)."""
    return (images[:, 0:1] * LUMA[0] + images[:, 1:2] * LUMA[1] + images[:, 2:3] * LUMA[2])


def check_masks(mask: torch.Tensor, ids: list[str], what: str) -> None:
    """Refuse empty and all-ones masks: a texture onto a shape needs both a shape and its outside."""
    flat = mask.detach().flatten(1)
    total = flat.sum(dim=1, dtype=torch.float64)  # a cheap screen; suspicious items are checked exactly
    suspects = ((total <= 0) | (total >= flat.shape[1] - 0.5)).nonzero()[:, 0].tolist()
    for k in suspects:
        i = ids[k]
        lo, hi = float(flat[k].min()), float(flat[k].max())
        if hi <= 0:
            raise InputError(f"{what}: the mask of item {i!r} is empty (all zero), so there is no shape to fill", hint="check the 'mask' layer (white = object)")
        if lo >= 1:
            raise InputError(
                f"{what}: the mask of item {i!r} is all ones, so the 'shape' is the whole image",
                hint="give a silhouette mask; to texture the whole image use a mask with a background",
            )


def edge_strength(lum: torch.Tensor) -> torch.Tensor:
    """Soft edge map ``(B, 1, H, W)`` in ``[0, 1)`` from the Sobel gradient of ``lum`` (smooth, differentiable).

    The Sobel filters are applied separably with slices (much faster than a 1-channel conv).
    """
    p = F.pad(lum, (1, 1, 1, 1), mode="replicate")
    sy = p[:, :, :-2] + 2 * p[:, :, 1:-1] + p[:, :, 2:]  # smoothed along y, (B, 1, H, W + 2)
    sx = p[:, :, :, :-2] + 2 * p[:, :, :, 1:-1] + p[:, :, :, 2:]  # smoothed along x, (B, 1, H + 2, W)
    gx = (sy[:, :, :, 2:] - sy[:, :, :, :-2]) / 8
    gy = (sx[:, :, 2:] - sx[:, :, :-2]) / 8
    mag = (gx.square() + gy.square() + 1e-12).sqrt()
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
    ``d = strength * tanh((lum - mean) / (2 * std))`` (``mean``/``std``: the object's luma
    inside the mask, ``std`` at least :data:`MIN_SHADING_STD` so a flat silhouette stays flat)
    lies in ``(-1, 1)`` whatever the object's contrast: where ``d < 0`` the texture is darkened
    towards black (``t * (1 + d)``), where ``d > 0`` lightened towards white (``t + d (1 - t)``),
    so the result stays in ``[0, 1]`` without clipping.  ``edges`` then darkens the texture
    along the object's edges (``t * (1 - edges * e)``, see :func:`edge_strength`).
    Without autograd, ``texture`` (which must then be a tensor the caller owns) is overwritten.
    """
    w = mask.to(lum.dtype)
    wsum = w.sum(dim=(2, 3), keepdim=True)
    wl = w * lum
    mean = wl.sum(dim=(2, 3), keepdim=True) / wsum
    var = (wl * lum).sum(dim=(2, 3), keepdim=True) / wsum - mean.square()  # E[l^2] - E[l]^2: two passes fewer
    std = (var.clamp_min(0) + 1e-12).sqrt().clamp_min(MIN_SHADING_STD)
    d = strength * torch.tanh((lum - mean) / (2 * std))
    # t (1 + d) where d < 0 and t + d (1 - t) where d > 0, i.e. t (1 - |d|) + max(d, 0), rounded
    # after the product and after the sum on every path (a fused addcmul rounds once: other bytes)
    grad = torch.is_grad_enabled() and (texture.requires_grad or d.requires_grad)
    if grad or not texture.is_contiguous():
        out = texture.mul(1 - d.abs())
    else:  # the caller's fresh texture buffer is reused: no 3-channel allocation
        out = texture.mul_(1 - d.abs())
    out = out.add_(d.clamp_min(0))
    if bool((edges != 0).any()):
        out = out * (1 - edges * edge_strength(lum))
    return out
