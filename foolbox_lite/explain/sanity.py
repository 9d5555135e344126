"""Model-parameter randomisation test (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018).

The classifier's parametrised layers are re-initialised in a cascade from the top (logits)
down; at each stage the maps are recomputed and compared with the original ones by Spearman
rank correlation of their absolute values.  A method whose maps stay correlated while the
layers that carry the class are random shows the image's structure, not the model's evidence.  Every
re-initialisation draws from a ``torch.Generator`` seeded per layer: deterministic.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["SURVIVES", "cascade_stages", "randomised", "spearman"]

#: A method whose rank correlation, averaged over the cascade's stages, is above this "survives" randomisation.
SURVIVES = 0.5


def _parametrised(model: torch.nn.Module) -> list[str]:
    """Names of the layers with their own weights, in definition (roughly forward) order."""
    return [n for n, m in model.named_modules() if n and any(True for _ in m.parameters(recurse=False))]


def cascade_stages(model: torch.nn.Module, n_stages: int = 4) -> list[tuple[str, list[str]]]:
    """``[(label, layers randomised)]``: the top layer alone, then cumulative shares down to all layers."""
    layers = _parametrised(model)[::-1]
    if not layers:
        return []
    cuts = sorted({1} | {max(1, math.ceil(len(layers) * k / n_stages)) for k in range(1, n_stages + 1)})
    return [(layers[c - 1] if c < len(layers) else "all", layers[:c]) for c in cuts]


@torch.no_grad()
def randomised(model: torch.nn.Module, layers: Sequence[str], seed: int = 0) -> torch.nn.Module:
    """A copy of ``model`` with the named layers re-initialised (Kaiming-normal weights, zero biases, identity norms)."""
    twin = copy.deepcopy(model)
    mods = dict(twin.named_modules())
    for k, name in enumerate(layers):
        g = torch.Generator().manual_seed(seed * 1_000_003 + k)
        m = mods[name]
        if isinstance(m, torch.nn.modules.batchnorm._NormBase):
            if m.weight is not None:
                m.weight.fill_(1.0)
                m.bias.zero_()
            if m.running_mean is not None:
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
            continue
        for pname, p in m.named_parameters(recurse=False):
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * math.sqrt(2.0 / fan_in))
            else:
                p.zero_()
    return twin


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (as Spearman's rho needs)."""
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    avg = (starts + ends - 1) / 2.0
    ranks = np.empty(len(a), dtype=np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of ``|a|`` and ``|b|`` (NaN when either is constant)."""
    ra, rb = _ranks(np.abs(np.ravel(a)).astype(np.float64)), _ranks(np.abs(np.ravel(b)).astype(np.float64))
    ra -= ra.mean()
    rb -= rb.mean()
    den = math.sqrt(float((ra * ra).sum()) * float((rb * rb).sum()))
    return float((ra * rb).sum() / den) if den > 0 else math.nan
