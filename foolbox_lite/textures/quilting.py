"""Patch-based texture transfer in the spirit of image quilting (Efros & Freeman, SIGGRAPH 2001).

The target image's luminance is re-rendered with square patches copied from a
texture.  Patches of side ``patch`` are laid on a grid with step ``patch - overlap``;
each is chosen among the texture's patches (every ``stride`` pixels) by the error

    E = alpha * (overlap error with what is already placed, per pixel)
      + (1 - alpha) * (error between the patch's luminance and the target's, per pixel)

drawn uniformly among the ``candidates`` best with the item's own generator, and
joined to its neighbours along a minimum-error boundary cut (dynamic programming
over the overlap).  Single pass (the paper iterates with shrinking patches).

Vectorised in torch: patch ``(r, c)`` depends on its left, upper-left, upper and
upper-right neighbours, so all patches with the same ``2 r + c`` (a "wavefront") of
all items of a batch are matched in one matrix product and cut in one dynamic
program.  The matching errors are computed on 6-bit quantised values, where the
float32 products and sums are exact integers (``3 * patch**2 * 63**2 < 2**24``): the
choice of every patch is therefore the same whatever the batch, the BLAS, the thread
count or the device, and a run is reproducible byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..errors import InputError, ParameterError
from .fill import luminance

__all__ = ["LEVELS", "quilt_transfer"]

#: Quantisation of values for matching (0..LEVELS): keeps every matching product exact in float32.
LEVELS = 63


def _quant(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0, 1).mul(LEVELS).round_()


def _seam_masks(err: torch.Tensor) -> torch.Tensor:
    """Minimum-error vertical cuts through ``err`` ``(Q, P, O)``: ``(Q, P, O)`` with 1 right of (and on) the cut, 0 left.

    The cut is a path of one pixel per row moving at most one column per row; its total
    error is minimal (dynamic programming top to bottom, then backtracking).  Ties go to
    the straight move, then left, then right.  Elementwise ops only (no reductions in the
    loop): cheap on small tensors and the same bits for every batch.
    """
    q, p, o = err.shape
    cost = torch.full((q, o + 2), float("inf"), dtype=err.dtype, device=err.device)
    cost[:, 1:-1] = err[:, 0]
    moves = torch.empty((p - 1, q, o), dtype=torch.long, device=err.device)
    for y in range(1, p):
        left, mid, right = cost[:, :-2], cost[:, 1:-1], cost[:, 2:]
        best = torch.minimum(torch.minimum(left, mid), right)
        moves[y - 1] = torch.where(mid == best, 0, torch.where(left == best, -1, 1))
        cost[:, 1:-1] = err[:, y] + best
    x = cost[:, 1:-1].argmin(dim=1)
    path = torch.empty((q, p), dtype=torch.long, device=err.device)
    path[:, p - 1] = x
    for y in range(p - 1, 0, -1):
        x = x + moves[y - 1].gather(1, x[:, None])[:, 0]
        path[:, y - 1] = x
    cols = torch.arange(o, device=err.device)
    return (cols.view(1, 1, o) >= path[:, :, None]).to(err.dtype)


def quilt_transfer(
    texture: torch.Tensor,
    target_lum: torch.Tensor,
    mask: torch.Tensor | None,
    seeds: Sequence[int],
    *,
    patch: int = 12,
    overlap: int = 3,
    alpha: float = 0.5,
    candidates: int = 4,
    stride: int = 2,
) -> torch.Tensor:
    """Render each target luminance ``(n, 1, H, W)`` with patches of ``texture`` ``(3, h, w)``: ``(n, 3, H, W)``.

    The texture's luminance is compared with the target's after matching the target's
    mean and standard deviation (inside ``mask`` ``(n, 1, H, W)`` when given) to the
    texture's, so that dark parts of the object get dark parts of the texture.
    ``seeds[i]`` seeds item ``i``'s random choices among the ``candidates`` best patches.
    The output is made of texture pixels only (float32, on the texture's device); no gradient flows.
    """
    with torch.no_grad():
        return _quilt(texture, target_lum, mask, seeds, patch, overlap, alpha, candidates, stride)


def _quilt(
    texture: torch.Tensor, target_lum: torch.Tensor, mask: torch.Tensor | None, seeds: Sequence[int],
    patch: int, overlap: int, alpha: float, candidates: int, stride: int,
) -> torch.Tensor:
    if texture.dim() != 3 or texture.shape[0] != 3:
        raise InputError(f"quilting texture must be (3, h, w), got {tuple(texture.shape)}")
    if target_lum.dim() != 4 or target_lum.shape[1] != 1:
        raise InputError(f"quilting target must be a luminance (n, 1, H, W), got {tuple(target_lum.shape)}")
    if not 1 <= overlap <= patch // 2:
        raise ParameterError(f"overlap must be in [1, patch // 2] = [1, {patch // 2}], got {overlap}")
    if 3 * patch * patch * LEVELS * LEVELS >= 2**24:
        raise ParameterError(f"patch {patch} is too large for exact matching (at most 37)")
    th, tw = texture.shape[1:]
    if th < patch or tw < patch:
        raise InputError(f"texture is {tw}x{th}, smaller than one {patch}x{patch} patch", hint="use a larger texture or a smaller patch")
    n, _, height, width = target_lum.shape
    if len(seeds) != n:
        raise InputError(f"{len(seeds)} seeds given for {n} targets")
    dev = texture.device
    tex = texture.to(torch.float32)
    p2 = patch * patch
    step = patch - overlap
    pool = 2 if patch % 2 == 0 else 1  # the correspondence term compares 2x2-pooled luminance (4x fewer products)

    # candidate patches (N, 3 P^2), channel-major (c * P^2 + y * P + x), full and quantised
    cand = F.unfold(tex[None], patch, stride=stride)[0].t().contiguous()
    cand_q = _quant(cand)
    n_cand = cand.shape[0]
    k = min(candidates, n_cand)
    # the L-shaped overlap (top rows and left columns): only these pixels enter the overlap error
    ys, xs = torch.meshgrid(torch.arange(patch, device=dev), torch.arange(patch, device=dev), indexing="ij")
    lpos = ((xs < overlap) | (ys < overlap)).view(-1).nonzero()[:, 0]  # (L,)
    n_l = lpos.numel()
    cand_o = cand_q[:, (torch.arange(3, device=dev)[:, None] * p2 + lpos[None]).view(-1)].contiguous()  # (N, 3L)
    left_l, top_l = (xs.reshape(-1)[lpos] < overlap), (ys.reshape(-1)[lpos] < overlap)
    kinds = torch.stack([torch.zeros_like(left_l), left_l, top_l, left_l | top_l]).to(torch.float32)  # (4, L): none/left/top/both
    kinds3 = kinds.repeat(1, 3)  # (4, 3L)
    cand_sq = (cand_o.square() @ kinds3.t()).t().double()  # (4, N), exact
    lum_q = _quant(luminance(tex[None]))
    cand_l = F.unfold(lum_q, patch, stride=stride)[0].t()
    if pool > 1:
        h2 = patch // pool
        cand_l = cand_l.reshape(n_cand, h2, pool, h2, pool).sum(dim=(2, 4)).reshape(n_cand, h2 * h2)
    cand_l = cand_l.contiguous()
    over_w = 1.0 / kinds3.sum(dim=1).double().clamp_min(1) * (torch.arange(4, device=dev) > 0).double()  # (4,) per value
    corr_w = 1.0 / (pool * pool * p2)
    lum_sq = cand_l.square().sum(dim=1).double()  # (N,)

    # target luminance matched to the texture's mean/std, quantised, as pooled patch features per grid cell
    n_r = max(1, math.ceil((height - overlap) / step))
    n_c = max(1, math.ceil((width - overlap) / step))
    hc, wc = n_r * step + overlap, n_c * step + overlap
    tl = target_lum.to(dev, torch.float32)
    w = mask.to(dev, torch.float32) if mask is not None else torch.ones_like(tl)
    wsum = w.sum(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    t_mean = (tl * w).sum(dim=(2, 3), keepdim=True) / wsum
    t_std = ((tl - t_mean).square() * w).sum(dim=(2, 3), keepdim=True).div(wsum).add(1e-8).sqrt()
    x_mean, x_std = lum_q.mean() / LEVELS, (lum_q / LEVELS).std(unbiased=False)
    # a flat target (a uniform silhouette) has no luminance to follow: all its pixels map to the texture's mean
    gain = torch.where(t_std > 0.01, x_std / t_std, torch.zeros_like(t_std))
    corr = _quant((tl - t_mean) * gain + x_mean)
    # ... and is quilted on the overlap error alone (pure texture synthesis, alpha = 1)
    alpha_i = torch.where(t_std.view(n) > 0.01, torch.full((n,), float(alpha), dtype=torch.float64, device=dev),
                          torch.ones(n, dtype=torch.float64, device=dev))
    corr = F.pad(corr, (0, wc - width, 0, hc - height), mode="replicate")
    feats = F.unfold(corr, patch, stride=step)  # (n, P^2, cells)
    if pool > 1:
        h2 = patch // pool
        feats = feats.reshape(n, h2, pool, h2, pool, -1).sum(dim=(2, 4)).reshape(n, h2 * h2, -1)
    feats = feats.transpose(1, 2).contiguous()  # (n, cells, Dc)
    # cells whose patch touches the mask are quilted; the others stay empty (the mask hides them)
    w_pad = F.pad(w, (0, wc - width, 0, hc - height))
    active = (F.max_pool2d(w_pad, patch, stride=step) > 0).view(n, n_r * n_c)

    canvas = torch.zeros((n * hc * wc, 3), dtype=torch.float32, device=dev)
    local = (ys * wc + xs).reshape(-1)  # (P^2,) offsets of a patch's pixels in the flat canvas
    # every random draw of item i comes from its own seed: one uniform per grid cell
    u = torch.stack([torch.rand(n_r * n_c, generator=torch.Generator().manual_seed(int(s)), dtype=torch.float64) for s in seeds])
    u = u.to(dev)
    pick = (u * k).floor().clamp_(max=k - 1).long()  # (n, cells): rank among the k best
    free = (u * n_cand).floor().clamp_(max=n_cand - 1).long()  # a patch with nothing to match is drawn from all

    for wave in range(2 * (n_r - 1) + n_c):
        cells = [(r, wave - 2 * r) for r in range(n_r) if 0 <= wave - 2 * r < n_c]
        rr = torch.tensor([r for r, _ in cells], device=dev)
        cc = torch.tensor([c for _, c in cells], device=dev)
        cell = rr * n_c + cc  # (q,)
        rows = active[:, cell].nonzero()  # (R, 2): item, position in the wavefront
        if rows.numel() == 0:
            continue
        b, j = rows[:, 0], rows[:, 1]
        r_, c_, cell_r = rr[j], cc[j], cell[j]
        has_left = (c_ > 0) & active[b, (cell_r - 1).clamp_min(0)]
        has_top = (r_ > 0) & active[b, (cell_r - n_c).clamp_min(0)]
        kind = has_left.long() + 2 * has_top.long()
        pix = (b * (hc * wc) + r_ * step * wc + c_ * step).view(-1, 1) + local.view(1, -1)  # (R, P^2)
        old = canvas[pix]  # (R, P^2, 3)
        # matching: exact integer dot products, combined in float64
        query_o = (_quant(old[:, lpos]) * kinds[kind].unsqueeze(-1)).transpose(1, 2).reshape(-1, 3 * n_l)
        cross_o = (query_o @ cand_o.t()).double()
        cross_c = (feats[b, cell_r] @ cand_l.t()).double()
        al = alpha_i[b].view(-1, 1)
        a_o = al * over_w[kind].view(-1, 1)
        a_c = (1 - al) * corr_w
        err = a_o * (cand_sq[kind] - 2 * cross_o) + a_c * (lum_sq.view(1, -1) - 2 * cross_c)
        vals, idx = torch.topk(err, k, dim=1, largest=False, sorted=True)
        # canonical order among equal errors: by candidate index, then (stably) by error
        o1 = idx.argsort(dim=1, stable=True)
        vals, idx = vals.gather(1, o1), idx.gather(1, o1)
        idx = idx.gather(1, vals.argsort(dim=1, stable=True))
        chosen = idx.gather(1, pick[b, cell_r].view(-1, 1))[:, 0]  # (R,)
        nothing = (kind == 0) & (alpha_i[b] >= 1.0)
        chosen = torch.where(nothing, free[b, cell_r], chosen)
        new = cand[chosen].view(-1, 3, p2).transpose(1, 2)  # (R, P^2, 3)
        # minimum-error boundary cuts in the left and top overlaps (both in one dynamic program)
        diff = (new - old).square().sum(dim=2).view(-1, patch, patch)
        n_rows = diff.shape[0]
        cuts = _seam_masks(torch.cat([diff[:, :, :overlap], diff[:, :overlap, :].transpose(1, 2)]))  # (2R, P, O)
        sel = torch.ones((n_rows, patch, patch), dtype=torch.float32, device=dev)
        sel[:, :, :overlap] = torch.where(has_left.view(-1, 1, 1), cuts[:n_rows], 1.0)
        sel[:, :overlap, :] *= torch.where(has_top.view(-1, 1, 1), cuts[n_rows:].transpose(1, 2), 1.0)
        canvas[pix] = torch.where(sel.view(n_rows, p2, 1) > 0.5, new, old)
    return canvas.view(n, hc, wc, 3).permute(0, 3, 1, 2)[:, :, :height, :width].contiguous()
