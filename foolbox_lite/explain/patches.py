"""Model-agnostic patch methods: occlusion and BagNet-style patch evidence.

Both slide a ``patch x patch`` window with ``stride`` over the image (the last window is
moved to touch the border, so every pixel is covered) and spread each window's number over
the pixels it covers, averaging where windows overlap; maps are ``(B, H, W)`` float32.

- :func:`occlusion`: how much the target score drops when the window is replaced by the
  image's mean colour or a blurred copy (Zeiler & Fergus, 2014).  All occluded copies are
  made at once from a ``(P, H, W)`` stack of window masks and scored ``batch_size`` at a time.
- :func:`patch_evidence`: the classifier applied to each window's crop (resized to its input
  size), the target's score minus the mean score of all classes, as in the class-evidence
  heatmaps of BagNet (Brendel & Bethge, ICLR 2019), for any classifier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch

from ..errors import ParameterError

__all__ = ["FILLS", "occlusion", "patch_evidence", "window_masks", "window_starts"]

FILLS = ("mean", "blur")
Scorer = Callable[[torch.Tensor], torch.Tensor]


def window_starts(size: int, patch: int, stride: int) -> torch.Tensor:
    """Start offsets of windows along one side; the last one ends at the border."""
    if patch < 1 or stride < 1:
        raise ParameterError(f"patch and stride must be positive, got patch={patch}, stride={stride}")
    if patch > size:
        raise ParameterError(f"patch {patch} is larger than the image side {size}", hint="choose a smaller --patch")
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return torch.tensor(starts, dtype=torch.long)


def window_masks(h: int, w: int, patch: int, stride: int) -> torch.Tensor:
    """float32 ``(P, H, W)``: 1 inside each window, windows in row-major order."""
    ys, xs = window_starts(h, patch, stride), window_starts(w, patch, stride)
    row = (torch.arange(h)[None] >= ys[:, None]) & (torch.arange(h)[None] < ys[:, None] + patch)  # (Py, H)
    col = (torch.arange(w)[None] >= xs[:, None]) & (torch.arange(w)[None] < xs[:, None] + patch)  # (Px, W)
    return (row[:, None, :, None] & col[None, :, None, :]).reshape(-1, h, w).float()


def _spread(values: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``(B, P)`` window values -> ``(B, H, W)`` maps: the mean over the windows covering each pixel."""
    cover = masks.sum(0).clamp(min=1.0)
    return torch.einsum("bp,phw->bhw", values, masks) / cover


def _fill(x: torch.Tensor, fill: str, patch: int) -> torch.Tensor:
    if fill == "mean":
        return x.mean(dim=(-2, -1), keepdim=True).expand_as(x)
    if fill == "blur":
        import kornia

        sigma = max(patch / 4.0, 1.0)
        k = 2 * int(round(2 * sigma)) + 1
        return kornia.filters.gaussian_blur2d(x, (k, k), (sigma, sigma), border_type="reflect")
    raise ParameterError(f"occlusion fill must be one of {', '.join(FILLS)}, got {fill!r}")


def _gather(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return scores.gather(1, target.clamp(min=0).view(-1, 1)).squeeze(1)


@torch.no_grad()
def occlusion(score: Scorer, images: torch.Tensor, target: torch.Tensor, *, patch: int = 32, stride: int = 16,
              fill: Literal["mean", "blur"] = "mean", batch_size: int = 64) -> torch.Tensor:
    """Drop of the target score when each window is occluded, spread over its pixels: ``(B, H, W)``."""
    b, _, h, w = images.shape
    masks = window_masks(h, w, patch, stride).to(images.device)
    fills = _fill(images, fill, patch)
    base = _gather(score(images), target)
    n = masks.shape[0]
    drops = torch.empty((b, n), device=images.device)
    flat = torch.arange(b * n, device=images.device)
    for start in range(0, b * n, batch_size):  # batches of occluded copies, across images and windows
        idx = flat[start:start + batch_size]
        img, win = idx // n, idx % n
        m = masks[win].unsqueeze(1)
        x = images[img] * (1 - m) + fills[img] * m
        drops.view(-1)[idx] = base[img] - _gather(score(x), target[img])
    return _spread(drops, masks)


@torch.no_grad()
def patch_evidence(score: Scorer, images: torch.Tensor, target: torch.Tensor, *, patch: int = 56, stride: int = 28,
                   batch_size: int = 64) -> torch.Tensor:
    """Class evidence of each window's crop (target score minus the mean over classes), spread: ``(B, H, W)``."""
    b, c, h, w = images.shape
    ys, xs = window_starts(h, patch, stride).to(images.device), window_starts(w, patch, stride).to(images.device)
    ar = torch.arange(patch, device=images.device)
    iy, ix = (ys[:, None] + ar)[:, None, :, None], (xs[:, None] + ar)[None, :, None, :]  # (Py,1,p,1), (1,Px,1,p)
    crops = images[:, :, iy, ix]  # (B, C, Py, Px, p, p)
    crops = crops.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, patch, patch)
    n = len(ys) * len(xs)
    evidence = torch.empty(b * n, device=images.device)
    tgt = target.repeat_interleave(n)
    for start in range(0, b * n, batch_size):
        s = score(crops[start:start + batch_size])
        evidence[start:start + batch_size] = _gather(s, tgt[start:start + batch_size]) - s.mean(dim=1)
    masks = window_masks(h, w, patch, stride).to(images.device)
    return _spread(evidence.view(b, n), masks)
