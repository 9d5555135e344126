"""The smallest random noise that changes a decision (after Dodge & Karam, 2016).

For each image one noise pattern is drawn from a seed derived from
``(seed, image position, kind)``; only its strength varies, so the decision as a
function of the level is well defined and the bisection is reproducible:

- ``gaussian``: ``x + level * z``, ``z ~ N(0, 1)``: ``level`` is the standard deviation;
- ``uniform``: ``x + level * z``, ``z ~ U(-sqrt 3, sqrt 3)`` (unit variance): ``level`` is the standard deviation;
- ``salt_pepper``: pixels with ``u < level`` (``u ~ U(0, 1)`` per pixel) become black or
  white (a fixed coin per pixel): ``level`` is the fraction of pixels hit.

Results are clipped to ``[0, 1]``.  The threshold of an image is the smallest level
found (to the bisection's resolution) at which its top-1 decision differs from the
clean one; ``nan`` when even ``max_level`` does not change it.  Bisection is batched:
every step is one forward pass over the images still being refined.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch

from ..classifiers import Classifier
from ..errors import ParameterError
from ..params import check_number
from ..seeding import derive_seed
from ._model import FastClassifier, check_images, prepare_classifier

__all__ = ["DEFAULT_MAX_LEVEL", "NOISE_KINDS", "NoiseKind", "NoiseThresholds", "accuracy_curve", "noise_batch", "noise_thresholds"]

NoiseKind = Literal["gaussian", "uniform", "salt_pepper"]
NOISE_KINDS: tuple[str, ...] = ("gaussian", "uniform", "salt_pepper")
#: Default upper end of the bisection per kind (std for gaussian/uniform, pixel fraction for salt and pepper).
DEFAULT_MAX_LEVEL: dict[str, float] = {"gaussian": 1.0, "uniform": 1.0, "salt_pepper": 1.0}


def _check_kind(kind: str) -> None:
    if kind not in NOISE_KINDS:
        raise ParameterError(f"noise kind {kind!r} is not supported", hint=f"use one of {', '.join(NOISE_KINDS)}")


def _seed_of(seed: int, index: int, kind: str) -> int:
    return derive_seed(int(seed), int(index), f"noise_threshold/{kind}")


def noise_batch(images: torch.Tensor, levels: torch.Tensor, kind: str, seeds: Sequence[int]) -> torch.Tensor:
    """Noisy copies of ``images`` ``(B, 3, H, W)``: item ``i`` at ``levels[i]`` with the pattern of ``seeds[i]``."""
    _check_kind(kind)
    b, _, h, w = images.shape
    out = torch.empty_like(images)
    for i in range(b):
        g = torch.Generator().manual_seed(int(seeds[i]))
        lvl = float(levels[i])
        x = images[i]
        if kind == "gaussian":
            z = torch.randn(x.shape, generator=g, dtype=torch.float32).to(x)
            torch.clamp(x + lvl * z, 0, 1, out=out[i])
        elif kind == "uniform":
            z = (torch.rand(x.shape, generator=g, dtype=torch.float32) * 2 - 1).mul_(math.sqrt(3)).to(x)
            torch.clamp(x + lvl * z, 0, 1, out=out[i])
        else:
            u = torch.rand((1, h, w), generator=g, dtype=torch.float32).to(x.device)
            salt = (torch.rand((1, h, w), generator=g, dtype=torch.float32) < 0.5).to(x)
            out[i] = torch.where(u < lvl, salt.expand_as(x), x)
    return out


@dataclass
class NoiseThresholds:
    """Per-image thresholds of one noise kind (``nan`` = not changed up to ``max_level``)."""

    kind: str
    thresholds: torch.Tensor
    clean: torch.Tensor
    seeds: list[int]
    max_level: float
    steps: int
    history: list[float] = field(default_factory=list)

    def changed_fraction(self) -> float:
        """Fraction of images whose decision changed at some level up to ``max_level``."""
        return float(torch.isfinite(self.thresholds).float().mean())

    def median(self) -> float:
        """Median threshold, counting unchanged images as ``+inf`` (``nan`` if most never change)."""
        t = torch.where(torch.isfinite(self.thresholds), self.thresholds, torch.full_like(self.thresholds, math.inf))
        m = float(t.median())
        return m if math.isfinite(m) else math.nan


def noise_thresholds(
    clf: Classifier | FastClassifier,
    images: torch.Tensor,
    kind: str = "gaussian",
    *,
    seed: int = 0,
    max_level: float | None = None,
    steps: int = 10,
    batch_size: int = 64,
    start_index: int = 0,
    progress: bool = True,
) -> NoiseThresholds:
    """Smallest noise level changing each image's decision, by ``steps`` batched bisection steps in ``[0, max_level]``.

    The resolution is ``max_level / 2**steps``; image ``i`` uses the pattern seeded by
    ``(seed, start_index + i, kind)``, so results do not depend on batching.
    """
    from tqdm.auto import tqdm

    _check_kind(kind)
    fast = prepare_classifier(clf)
    check_images(images, fast.input_size)
    top = DEFAULT_MAX_LEVEL[kind] if max_level is None else float(check_number("max_level", max_level, low=0.0))
    if top <= 0:
        raise ParameterError(f"max_level must be positive, got {max_level!r}")
    if kind == "salt_pepper" and top > 1:
        raise ParameterError(f"max_level for salt_pepper is a fraction of pixels and must be at most 1, got {max_level!r}")
    check_number("steps", steps, low=1, high=40, integer=True)
    n = images.shape[0]
    seeds = [_seed_of(seed, start_index + i, kind) for i in range(n)]
    clean = fast.predict(images, batch_size=batch_size)

    def changed(idx: torch.Tensor, lv: torch.Tensor) -> torch.Tensor:
        res = []
        for s in range(0, idx.numel(), batch_size):
            part = idx[s : s + batch_size]
            x = noise_batch(images.index_select(0, part), lv[s : s + batch_size], kind, [seeds[int(j)] for j in part]).to(fast.device)
            with torch.no_grad():
                res.append(fast(x).argmax(1).cpu() != clean.index_select(0, part))
        return torch.cat(res)

    lo = torch.zeros(n, dtype=torch.float64)
    hi = torch.full((n,), top, dtype=torch.float64)
    bar = tqdm(total=steps + 1, desc=f"noise threshold ({kind})", unit="pass", disable=not progress, leave=False)
    try:
        active = torch.nonzero(changed(torch.arange(n), hi)).flatten()
        bar.update(1)
        for _ in range(int(steps)):
            if active.numel() == 0:
                break
            mid = (lo[active] + hi[active]) / 2
            ch = changed(active, mid)
            hi[active[ch]] = mid[ch]
            lo[active[~ch]] = mid[~ch]
            bar.update(1)
    finally:
        bar.close()
    result = torch.full((n,), math.nan, dtype=torch.float64)
    result[active] = hi[active]
    return NoiseThresholds(kind, result, clean, seeds, top, int(steps))


def accuracy_curve(
    clf: Classifier | FastClassifier,
    images: torch.Tensor,
    levels: Sequence[float],
    kind: str = "gaussian",
    *,
    labels: torch.Tensor | None = None,
    seed: int = 0,
    batch_size: int = 64,
    start_index: int = 0,
    progress: bool = True,
) -> list[dict[str, float | None]]:
    """For each level: top-1 accuracy (images with known labels) and the fraction of unchanged decisions.

    The noise patterns are those of :func:`noise_thresholds` with the same ``seed``.
    """
    from tqdm.auto import tqdm

    _check_kind(kind)
    fast = prepare_classifier(clf)
    check_images(images, fast.input_size)
    n = images.shape[0]
    seeds = [_seed_of(seed, start_index + i, kind) for i in range(n)]
    clean = fast.predict(images, batch_size=batch_size)
    known = labels >= 0 if labels is not None else torch.zeros(n, dtype=torch.bool)
    rows: list[dict[str, float | None]] = []
    for lvl in tqdm(list(levels), desc=f"accuracy curve ({kind})", unit="level", disable=not progress, leave=False):
        lvl = float(check_number("level", lvl, low=0.0))
        preds = []
        for s in range(0, n, batch_size):
            x = noise_batch(images[s : s + batch_size], torch.full((min(batch_size, n - s),), lvl), kind, seeds[s : s + batch_size]).to(fast.device)
            with torch.no_grad():
                preds.append(fast(x).argmax(1).cpu())
        p = torch.cat(preds)
        acc = float((p[known] == labels[known]).float().mean()) if labels is not None and bool(known.any()) else None
        rows.append({"kind": kind, "level": lvl, "accuracy": acc, "unchanged": float((p == clean).float().mean())})
    return rows
