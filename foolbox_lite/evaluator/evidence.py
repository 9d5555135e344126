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
    batch's logits, items in order); :meth:`of` gives item ``i``'s ``({label: rank}, {label: prob})``.

    ``per_item`` (the labels each item's cues name, in inference order) records only those:
    a trial reads the labels of its own cues, and an ImageNet set naming 1,000 labels would
    otherwise keep 2,000 numbers per item (232 MB of rows for 2,000 items, measured).
    """

    def __init__(self, decider: Decider, labels: Sequence[str], per_item: Sequence[Sequence[str]] | None = None) -> None:
        self.decider = decider
        self.labels = sorted(set(labels))
        if decider.class_to_label is not None:  # top-1 ImageNet class, read as its category
            self._members = {c: [i for i, x in enumerate(decider.class_to_label) if x == c] for c in self.labels}
        else:
            pos = {c: i for i, c in enumerate(decider.columns)}
            self._members = {c: [pos[c]] for c in self.labels if c in pos}
        self.labels = [c for c in self.labels if self._members.get(c)]
        # each item's labels as positions in self.labels, padded with -1: (items, widest) or None for all labels
        self._wanted: torch.Tensor | None = None
        self._wanted_rows: list[list[int]] | None = None
        if per_item is not None:
            index = {c: j for j, c in enumerate(self.labels)}
            rows = [[index[c] for c in dict.fromkeys(item) if c in index] for item in per_item]
            width = max((len(r) for r in rows), default=0)
            self._wanted_rows = rows
            self._wanted = torch.tensor([r + [-1] * (width - len(r)) for r in rows], dtype=torch.long).reshape(len(rows), width)
        self._ranks: list[torch.Tensor] = []
        self._probs: list[torch.Tensor] = []
        self._table: torch.Tensor | None = None
        self._columns: torch.Tensor | None = None
        self._rows: tuple[list[list[int]], list[list[float]]] | None = None
        self._count = 0  # items recorded so far

    def __call__(self, logits: torch.Tensor) -> list[str]:
        decided = self.decider(logits)
        if self.labels:
            which = None
            if self._wanted is not None:
                if self._count + logits.shape[0] > self._wanted.shape[0]:
                    raise RuntimeError(f"evidence was given labels for {self._wanted.shape[0]} items but is asked to record item {self._count + logits.shape[0]}")
                which = self._wanted[self._count : self._count + logits.shape[0]]
            ranks, probs = self._evidence(logits, which)
            self._ranks.append(ranks.cpu())
            self._probs.append(probs.cpu())
            self._count += ranks.shape[0]
        return decided

    def _evidence(self, logits: torch.Tensor, which: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Ranks and probabilities ``(B, labels)``, or ``(B, k)`` for the label positions ``which`` ``(B, k)`` (-1: none)."""
        d = self.decider
        scores = d.scores(logits).float()
        if d.allowed is not None:
            scores = scores.masked_fill(~d.allowed.to(scores.device), float("-inf"))
        if d.mapping is not None:  # category probabilities (mapping rule), or the categories of top-1 classes
            source = d.mapping.probabilities(logits) if d.class_to_label is not None else d.scores(logits).float()
        else:
            source = logits.float().softmax(dim=1)
        columns, members = self._label_columns(scores.device)
        # each label's best score among its classes, then how many classes score above it: all labels at
        # once, by binary search in each item's sorted scores (classes - those at or below the best)
        if which is None:
            probs = source[:, columns]
            best = scores[:, members].amax(dim=2)  # (B, labels)
        else:
            pick = which.clamp(min=0).to(scores.device)  # (B, k); padding reads label 0 and is dropped by of()
            probs = source.gather(1, columns[pick])
            m = members.shape[1]
            best = scores.gather(1, members[pick].view(pick.shape[0], -1)).view(*pick.shape, m).amax(dim=2)
        if scores.device.type == "cpu":  # numpy sorts short rows ~30x faster than torch on the CPU
            ordered = torch.from_numpy(np.sort(scores.numpy(), axis=1))
        else:
            ordered = scores.sort(dim=1).values.contiguous()
        ranks = 1 + scores.shape[1] - torch.searchsorted(ordered, best.contiguous(), right=True)
        return ranks, probs

    def _label_columns(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Each label's probability column ``(labels,)`` and its class indices ``(labels, m)``, padded with its
        first class (which leaves a max unchanged)."""
        if self._table is None or self._table.device != device:
            d = self.decider
            if d.mapping is not None:
                names = d.mapping.names
                cols = [names.index(c) for c in self.labels]
            else:
                cols = [self._members[c][0] for c in self.labels]
            m = max(len(self._members[c]) for c in self.labels)
            rows = [self._members[c] + [self._members[c][0]] * (m - len(self._members[c])) for c in self.labels]
            self._columns = torch.tensor(cols, dtype=torch.long, device=device)
            self._table = torch.tensor(rows, dtype=torch.long, device=device)
        assert self._columns is not None
        return self._columns, self._table

    def of(self, i: int) -> tuple[dict[str, int], dict[str, float]]:
        """Item ``i``'s rank and probability per label (in inference order): its own labels with ``per_item``."""
        if not self.labels:
            return {}, {}
        if self._rows is None or len(self._rows[0]) != self._count:  # Python values once for all items
            self._rows = (torch.cat(self._ranks).tolist(), torch.cat(self._probs).double().tolist())
        r, p = self._rows[0][i], self._rows[1][i]
        if self._wanted_rows is None:
            return dict(zip(self.labels, r)), dict(zip(self.labels, p))
        names = [self.labels[j] for j in self._wanted_rows[i]]
        return dict(zip(names, r)), dict(zip(names, p))

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
