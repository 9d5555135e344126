"""Decisions: from a classifier's logits to a label of the stimulus set's label space.

Three rules:

- ``top1``: the most probable of the model's classes (for a mapping set, the top-1
  ImageNet class's category, or ``na`` when it belongs to none);
- ``restricted``: the most probable among the classes (or categories) that the
  set's cues name, e.g. only ``zebra`` and ``toilet seat`` for a zebra/toilet-seat set;
- ``mapping``: through a :class:`~foolbox_lite.labels.mappings.LabelMapping`
  (mean member probability, Geirhos et al.); the default for mapping sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from ..errors import ModelError, ParameterError
from ..labels.mappings import LabelMapping, get_mapping, is_mapping
from ..labels.space import LabelSpace, imagenet_labels

__all__ = ["NA", "Decider", "DecisionRule", "make_decider"]

DecisionRule = Literal["auto", "top1", "restricted", "mapping"]
RULES = ("auto", "top1", "restricted", "mapping")
#: The response that names no category (a human's "don't know"; counts as wrong).
NA = "na"


def _is_imagenet(labels: LabelSpace) -> bool:
    return len(labels) == 1000 and labels.wnids == imagenet_labels().wnids


@dataclass
class Decider:
    """Callable ``logits (B, n_classes) -> list of B labels`` in the set's label space."""

    rule: str
    label_space: str
    #: Labels of the score columns, and (optionally) the columns allowed to win.
    columns: tuple[str, ...]
    allowed: torch.Tensor | None = None
    mapping: LabelMapping | None = None
    #: For ``top1`` on a mapping set: category of each ImageNet class (``na`` if none).
    class_to_label: tuple[str, ...] | None = None

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, len(columns))``: logits, or category probabilities for a mapping."""
        if logits.dim() != 2:
            raise ModelError(f"the classifier returned logits of shape {tuple(logits.shape)}; expected (B, n_classes)")
        if self.mapping is not None and self.rule != "top1":
            return self.mapping.probabilities(logits)
        if logits.shape[1] != len(self.columns) and self.class_to_label is None:
            raise ModelError(f"the classifier returned {logits.shape[1]} logits but its label space has {len(self.columns)} classes")
        return logits

    def __call__(self, logits: torch.Tensor) -> list[str]:
        s = self.scores(logits)
        if self.class_to_label is not None:
            return [self.class_to_label[i] for i in s.argmax(dim=1).tolist()]
        if self.allowed is not None:
            s = s.float().masked_fill(~self.allowed.to(s.device), float("-inf"))
        return [self.columns[i] for i in s.argmax(dim=1).tolist()]


def make_decider(
    classifier_labels: LabelSpace,
    label_space: str = "imagenet1k",
    rule: DecisionRule = "auto",
    *,
    cue_labels: Sequence[str] = (),
    mapping: str | LabelMapping | None = None,
) -> Decider:
    """The decision rule for one classifier on one set.

    ``label_space`` is the set's (``imagenet1k`` or a mapping name); ``cue_labels``
    are the labels its cues use (needed by ``restricted``); ``mapping`` overrides
    the mapping named by the label space.
    """
    if rule not in RULES:
        raise ParameterError(f"decision rule must be one of {', '.join(RULES)}, got {rule!r}")
    if label_space == "imagenet1k" and mapping is None:
        if rule == "mapping":
            raise ParameterError(
                "decision rule 'mapping' needs a label mapping, but the set's label space is imagenet1k",
                hint="pass --mapping geirhos16 (and give cue labels as categories), or use --decision top1/restricted",
            )
        columns = classifier_labels.wnids
        if rule == "restricted":
            return Decider("restricted", label_space, columns, _allowed(columns, cue_labels, classifier_labels))
        return Decider("top1", label_space, columns)

    m = get_mapping(mapping if mapping is not None else label_space)
    if not is_mapping(m.name) and mapping is None:  # pragma: no cover - get_mapping raised already
        raise ParameterError(f"unknown label space {label_space!r}")
    # A model whose own classes are the categories (e.g. a 16-way model): decide directly.
    if set(classifier_labels.names) == set(m.names) or set(classifier_labels.wnids) == set(m.names):
        columns = classifier_labels.wnids if set(classifier_labels.wnids) == set(m.names) else classifier_labels.names
        allowed = _allowed(columns, cue_labels, None) if rule == "restricted" else None
        return Decider("restricted" if allowed is not None else "top1", m.name, tuple(columns), allowed)
    if not _is_imagenet(classifier_labels):
        raise ModelError(
            f"label mapping {m.name!r} maps ImageNet-1k classes, but the classifier has {len(classifier_labels)} other classes",
            hint="declare the classifier's labels as the ImageNet-1k classes or as the mapping's categories",
        )
    if rule == "top1":
        table = [NA] * len(classifier_labels)
        for cat, members in m.categories.items():
            for i in members:
                table[i] = cat
        return Decider("top1", m.name, classifier_labels.wnids, mapping=m, class_to_label=tuple(table))
    allowed = _allowed(m.names, cue_labels, None) if rule == "restricted" else None
    return Decider("restricted" if allowed is not None else "mapping", m.name, m.names, allowed, mapping=m)


def _allowed(columns: Sequence[str], cue_labels: Sequence[str], space: LabelSpace | None) -> torch.Tensor:
    """Boolean mask of the columns named by the cue labels (wnids, names or categories)."""
    labels = sorted({c for c in cue_labels if c and c != NA})
    if not labels:
        raise ParameterError("decision rule 'restricted' needs cue labels, but the set's manifest names none")
    pos = {c: i for i, c in enumerate(columns)}
    mask = torch.zeros(len(columns), dtype=torch.bool)
    for c in labels:
        if c in pos:
            mask[pos[c]] = True
        elif space is not None:
            mask[space.index(c)] = True
        else:
            raise ParameterError(f"cue label {c!r} is not one of the label space's categories ({', '.join(columns)})")
    return mask
