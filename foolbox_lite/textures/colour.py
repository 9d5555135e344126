"""Colour-statistics matching (Reinhard, Ashikhmin, Gooch & Shirley, "Color transfer between images", 2001).

An image's colours are moved so that, inside a mask, their per-channel mean and
standard deviation in a perceptual colour space equal a target's: ``lab`` (CIE L*a*b*,
D65, via kornia) or ``lalphabeta`` (Reinhard's decorrelated log-LMS space lαβ).
Everything is batched ``(B, 3, H, W)`` torch and differentiable.

Colours that leave the sRGB gamut after the transfer are clipped to ``[0, 1]`` (the
only way back to a displayable image); :func:`colour_transfer` returns the fraction
of clipped values so callers can report it.
"""

from __future__ import annotations

from typing import Literal

import torch

from ..errors import InputError, ParameterError

__all__ = ["COLOUR_SPACES", "ColourSpace", "colour_transfer", "from_space", "masked_stats", "to_space"]

ColourSpace = Literal["lab", "lalphabeta"]
COLOUR_SPACES = ("lab", "lalphabeta")

# Reinhard et al. (2001), eq. 4 and 6: RGB -> LMS, and log-LMS -> lαβ.
_RGB2LMS = ((0.3811, 0.5783, 0.0402), (0.1967, 0.7244, 0.0782), (0.0241, 0.1288, 0.8444))
_S3, _S6, _S2 = 3 ** -0.5, 6 ** -0.5, 2 ** -0.5
_LMS2LAB = ((_S3, _S3, _S3), (_S6, _S6, -2 * _S6), (_S2, -_S2, 0.0))
#: Floor of LMS before the logarithm (lαβ is undefined at black).
_LMS_EPS = 1e-4


def _mix(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Per-pixel 3x3 matrix ``m`` applied to ``(B, 3, H, W)`` elementwise (no BLAS: same bits whatever the batch)."""
    return torch.stack([x[:, 0] * m[i, 0] + x[:, 1] * m[i, 1] + x[:, 2] * m[i, 2] for i in range(3)], dim=1)


def _mat(rows: tuple[tuple[float, ...], ...], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64).to(device=like.device, dtype=like.dtype)


def to_space(rgb: torch.Tensor, space: ColourSpace) -> torch.Tensor:
    """sRGB ``(B, 3, H, W)`` in ``[0, 1]`` -> ``space``."""
    if space == "lab":
        import kornia.color

        return kornia.color.rgb_to_lab(rgb)
    if space == "lalphabeta":
        lms = _mix(rgb, _mat(_RGB2LMS, rgb)).clamp_min(_LMS_EPS).log10()
        return _mix(lms, _mat(_LMS2LAB, rgb))
    raise ParameterError(f"colour space must be one of {', '.join(COLOUR_SPACES)}, got {space!r}")


def from_space(x: torch.Tensor, space: ColourSpace) -> torch.Tensor:
    """``space`` -> sRGB ``(B, 3, H, W)``, not clipped (values may leave ``[0, 1]``)."""
    if space == "lab":
        import kornia.color

        return kornia.color.lab_to_rgb(x, clip=False)
    if space == "lalphabeta":
        inv_lab = torch.linalg.inv(torch.tensor(_LMS2LAB, dtype=torch.float64))
        inv_rgb = torch.linalg.inv(torch.tensor(_RGB2LMS, dtype=torch.float64))
        lms = torch.pow(10.0, _mix(x, inv_lab.to(x.device, x.dtype)))
        return _mix(lms, inv_rgb.to(x.device, x.dtype))
    raise ParameterError(f"colour space must be one of {', '.join(COLOUR_SPACES)}, got {space!r}")


def cv2_path_ok(x: torch.Tensor) -> bool:
    """Whether the OpenCV fast path may be used: CPU float32 with no gradient being recorded."""
    return x.device.type == "cpu" and x.dtype == torch.float32 and not (torch.is_grad_enabled() and x.requires_grad)


def _cv2_convert(x: torch.Tensor, space: ColourSpace, inverse: bool) -> torch.Tensor:
    """Per-image ``cv2.cvtColor`` on float32 ``(B, 3, H, W)`` (Lab only); the inverse clips to ``[0, 1]``."""
    import cv2
    import numpy as np

    if space != "lab":
        raise ParameterError(f"the OpenCV path converts only to and from 'lab', not {space!r}")
    code = cv2.COLOR_Lab2RGB if inverse else cv2.COLOR_RGB2Lab
    b, _, h, w = x.shape
    src = x.contiguous().numpy()
    out = torch.empty((b, 3, h, w), dtype=torch.float32)
    dst = out.numpy()
    hwc, res = np.empty((h, w, 3), np.float32), np.empty((h, w, 3), np.float32)
    pairs = [0, 0, 1, 1, 2, 2]
    for k in range(b):
        cv2.mixChannels([src[k][0], src[k][1], src[k][2]], [hwc], pairs)
        cv2.cvtColor(hwc, code, dst=res)
        cv2.mixChannels([res], [dst[k][0], dst[k][1], dst[k][2]], pairs)
    return out


def masked_stats(x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel weighted mean and standard deviation ``(B, C, 1, 1)`` of ``x`` under ``mask`` ``(B, 1, H, W)``."""
    if mask is None:
        mean = x.mean(dim=(2, 3), keepdim=True)
        var = (x - mean).square().mean(dim=(2, 3), keepdim=True)
        return mean, var.clamp_min(0).add(1e-12).sqrt()
    wsum = mask.sum(dim=(2, 3), keepdim=True, dtype=torch.float64)
    if bool((wsum <= 0).any()):
        raise InputError("a mask is empty (all zero): no pixel to take colour statistics from", hint="check the 'mask' layer of the batch")
    xm = x * mask
    # sums of x and x^2 accumulated in float64 (E[x^2] - E[x]^2 stays accurate): two passes fewer than centring first
    mean = xm.sum(dim=(2, 3), keepdim=True, dtype=torch.float64) / wsum
    var = ((xm * x).sum(dim=(2, 3), keepdim=True, dtype=torch.float64) / wsum - mean.square()).clamp_min(0)
    return mean.to(x.dtype), var.add(1e-12).sqrt().to(x.dtype)


def colour_transfer(
    images: torch.Tensor,
    target_mean: torch.Tensor,
    target_std: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    space: ColourSpace = "lab",
    strength: float | torch.Tensor = 1.0,
    fast: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Move ``images`` ``(B, 3, H, W)`` so that their statistics under ``mask`` reach the target's.

    ``target_mean``/``target_std`` are ``(B, 3, 1, 1)`` in ``space`` (from :func:`masked_stats`
    of :func:`to_space`); ``strength`` in ``[0, 1]`` (a number or ``(B, 1, 1, 1)``) interpolates
    the statistics between the image's own (0) and the target's (1).  The whole image is
    transformed; composite with the mask to limit it.  Returns ``(rgb clipped to [0, 1],
    fraction of values that were outside [0, 1] per item (B,), under the mask when given)``.
    ``fast=True`` (Lab, CPU float32, no gradient) converts with OpenCV (its Lab differs from
    kornia's by < 0.3 units and clips on the way back): the fraction is then ``None``.
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise InputError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}")
    fast = fast and space == "lab" and cv2_path_ok(images)
    x = _cv2_convert(images, space, inverse=False) if fast else to_space(images, space)
    mean, std = masked_stats(x, mask)
    if isinstance(strength, torch.Tensor):
        s = strength.to(x.dtype)
    else:
        s = torch.tensor(float(strength), dtype=x.dtype, device=x.device)
    t_mean = mean + s * (target_mean.to(x.dtype) - mean)
    t_std = std + s * (target_std.to(x.dtype) - std)
    gain = t_std / std
    shift = t_mean - mean * gain
    # y = (x - mean) * gain + t_mean = x * gain + shift, in place on x when nothing needs its old value
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or gain.requires_grad or shift.requires_grad)
    y = torch.addcmul(shift, x, gain) if needs_grad else x.mul_(gain).add_(shift)
    if fast:
        return _cv2_convert(y, space, inverse=True), None
    rgb = from_space(y, space)
    bad = ((rgb < 0) | (rgb > 1)).to(x.dtype).mean(dim=1, keepdim=True)
    outside = masked_stats(bad, mask)[0].view(-1) if mask is not None else bad.mean(dim=(1, 2, 3))
    return rgb.clamp(0, 1), outside
