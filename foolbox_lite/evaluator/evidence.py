"""Graded cue evidence: how near each cue's label came to being the decision.

Top-1 turns most decisions on hard stimuli into ``other`` ("coil" for a zebra toilet
seat).  For every trial we also record, for each cue label, its **rank** among the
classes of the decision space (1 = the decision; the allowed classes only for the
``restricted`` rule) and its **probability** (the softmax probability of that class,
or the category probability under a label mapping).  Per observer the summary gives
each cue's median rank and mean probability, and the fraction of conflict trials in
which the shape label outranks the texture label (a rank-based shape-vs-texture score
that every trial contributes to, not only those decided for one of the two).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np
import torch

from .cues import Trial
from .decisions import Decider

__all__ = ["EvidenceRecorder", "evidence_summary"]


class EvidenceRecorder:
    """Decides as ``decider`` does and records, per item, the rank and probability of each of ``labels``.

    Used in place of the decider during inference (``infer_batches`` calls it on each
    batch's logits); :meth:`of` gives item ``i``'s ``({label: rank}, {label: prob})``.
    """

    def __init__(self, decider: Decider, labels: Sequence[str]) -> None:
        self.decider = decider
        self.labels = sorted(set(labels))
        if decider.class_to_label is not None:  # top-1 ImageNet class, read as its category
            self._members = {c: [i for i, x in enumerate(decider.class_to_label) if x == c] for c in self.labels}
        else:
            pos = {c: i for i, c in enumerate(decider.columns)}
            self._members = {c: [pos[c]] for c in self.labels if c in pos}
        self.labels = [c for c in self.labels if self._members.get(c)]
        self._ranks: list[torch.Tensor] = []
        self._probs: list[torch.Tensor] = []
        self._table: torch.Tensor | None = None
        self._rows: tuple[list[list[int]], list[list[float]]] | None = None
        self._count = 0  # items recorded so far

    def __call__(self, logits: torch.Tensor) -> list[str]:
        decided = self.decider(logits)
        if self.labels:
            ranks, probs = self._evidence(logits)
            self._ranks.append(ranks.cpu())
            self._probs.append(probs.cpu())
            self._count += ranks.shape[0]
        return decided

    def _evidence(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.decider
        scores = d.scores(logits).float()
        if d.allowed is not None:
            scores = scores.masked_fill(~d.allowed.to(scores.device), float("-inf"))
        if d.mapping is not None:  # category probabilities (mapping rule), or the categories of top-1 classes
            cat = d.mapping.probabilities(logits) if d.class_to_label is not None else d.scores(logits).float()
            names = d.mapping.names
            probs = cat[:, [names.index(c) for c in self.labels]]
        else:
            soft = logits.float().softmax(dim=1)
            probs = soft[:, [self._members[c][0] for c in self.labels]]
        # each label's best score among its classes, then how many classes score above it: all labels at
        # once, by binary search in each item's sorted scores (classes - those at or below the best)
        members = self._member_table(scores.device)
        best = scores[:, members].amax(dim=2)  # (B, labels)
        if scores.device.type == "cpu":  # numpy sorts short rows ~30x faster than torch on the CPU
            ordered = torch.from_numpy(np.sort(scores.numpy(), axis=1))
        else:
            ordered = scores.sort(dim=1).values.contiguous()
        ranks = 1 + scores.shape[1] - torch.searchsorted(ordered, best.contiguous(), right=True)
        return ranks, probs

    def _member_table(self, device: torch.device) -> torch.Tensor:
        """``(labels, m)`` class indices of each label, padded with its first class (which leaves a max unchanged)."""
        if getattr(self, "_table", None) is None or self._table.device != device:
            m = max(len(self._members[c]) for c in self.labels)
            rows = [self._members[c] + [self._members[c][0]] * (m - len(self._members[c])) for c in self.labels]
            self._table = torch.tensor(rows, dtype=torch.long, device=device)
        return self._table

    def of(self, i: int) -> tuple[dict[str, int], dict[str, float]]:
        """Item ``i``'s rank and probability per label (in inference order)."""
        if not self.labels:
            return {}, {}
        if self._rows is None or len(self._rows[0]) != self._count:  # Python values once for all items
            self._rows = (torch.cat(self._ranks).tolist(), torch.cat(self._probs).double().tolist())
        r, p = self._rows[0][i], self._rows[1][i]
        return dict(zip(self.labels, r)), dict(zip(self.labels, p))

    def for_cues(self, i: int, cues: dict[str, str]) -> tuple[dict[str, int], dict[str, float]]:
        """Item ``i``'s rank and probability per cue name (cues whose label the decision space lacks are left out)."""
        ranks, probs = self.of(i)
        return ({k: ranks[v] for k, v in cues.items() if v in ranks}, {k: probs[v] for k, v in cues.items() if v in probs})


def evidence_summary(trials: Sequence[Trial], cues: Sequence[str], shape: str = "shape", texture: str = "texture") -> dict[str, object] | None:
    """Per cue the median rank and mean probability, and the shape-over-texture rank score; ``None`` without evidence."""
    with_ev = [t for t in trials if t.ranks]
    if not with_ev:
        return None
    per_cue: dict[str, object] = {}
    for c in cues:
        ranks = [t.ranks[c] for t in with_ev if c in t.ranks]
        probs = [t.probs[c] for t in with_ev if c in t.probs]
        if ranks:
            per_cue[c] = {"n": len(ranks), "median_rank": float(statistics.median(ranks)), "mean_probability": sum(probs) / len(probs)}
    pairs = [t for t in with_ev if shape in t.ranks and texture in t.ranks and t.cues.get(shape) != t.cues.get(texture)]
    score = sum(t.ranks[shape] < t.ranks[texture] for t in pairs) / len(pairs) if pairs else None
    return {"cues": per_cue, "shape_over_texture": {"n": len(pairs), "fraction": score}}
