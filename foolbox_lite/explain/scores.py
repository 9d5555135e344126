"""The scores an explanation is taken of: one column per label of the stimulus set's label space.

:class:`ScoreModel` wraps a classifier as an ``nn.Module`` from images in ``[0, 1]`` at the
set's size ``(B, 3, H, W)`` to scores ``(B, K)``: the logits for an ImageNet-1k set, or for a
mapping set (``geirhos16``) the mean logit of each category's member classes (linear, so every
attribution method sees one differentiable score per category).  Maps are then taken with
respect to the stimulus pixels themselves, whatever the classifier's input size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..classifiers import Classifier
from ..errors import ModelError, ParameterError
from ..evaluator.decisions import NA, make_decider
from ..labels.mappings import get_mapping

__all__ = ["ScoreModel", "resolve_targets"]


class ScoreModel(torch.nn.Module):
    """Images ``(B, 3, H, W)`` in ``[0, 1]`` -> scores ``(B, K)`` over the label space's ``columns``."""

    def __init__(self, classifier: Classifier, label_space: str = "imagenet1k") -> None:
        super().__init__()
        if not isinstance(classifier.model, torch.nn.Module):
            raise ModelError(f"classifier {classifier.name!r} is not a torch.nn.Module; explanations need one", hint="wrap it with foolbox_lite.classifiers.from_module")
        self.classifier = classifier
        self.net = classifier.model  # registered, so layer names read "net.<name>"
        self.label_space = label_space
        own = tuple(classifier.labels.wnids)
        weight: torch.Tensor | None = None
        if label_space == "imagenet1k":
            self.columns = own
        else:
            m = get_mapping(label_space)
            if set(m.names) <= set(own) or set(m.names) <= set(classifier.labels.names):
                names = own if set(m.names) <= set(own) else tuple(classifier.labels.names)
                self.columns = names
            else:
                if len(own) != 1000:
                    raise ModelError(f"mapping {m.name!r} maps ImageNet-1k classes, but classifier {classifier.name!r} has {len(own)} classes")
                weight = torch.zeros(len(own), len(m.names))
                for k, cat in enumerate(m.names):
                    members = list(m.categories[cat])
                    weight[members, k] = 1.0 / len(members)
                self.columns = tuple(m.names)
        self.register_buffer("weight", weight, persistent=False)
        self._index = {c: i for i, c in enumerate(self.columns)}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.net(self.classifier.prepare(images))
        return logits if self.weight is None else logits @ self.weight.to(logits.dtype)

    def column(self, label: str) -> int | None:
        """Column of a label of the set (None when this classifier has no such class)."""
        return self._index.get(label)


def resolve_targets(
    model: ScoreModel,
    images: torch.Tensor,
    cues: Sequence[dict[str, str]],
    target: str,
    cue_labels: Sequence[str] = (),
) -> tuple[list[str], torch.Tensor]:
    """Each image's target label and score column (``-1`` where none: no such cue, or an ``na`` decision).

    ``target`` is ``decision`` (the classifier's own decision, by the evaluator's rule for the
    set) or ``cue:<name>`` (the label of that cue, e.g. ``cue:texture`` = "zebra").
    """
    if target == "decision":
        decider = make_decider(model.classifier.labels, model.label_space, "auto", cue_labels=cue_labels)
        with torch.no_grad():
            logits = model.net(model.classifier.prepare(images))
        labels = decider(logits)
    elif target.startswith("cue:") and len(target) > 4:
        labels = [c.get(target[4:], NA) for c in cues]
    else:
        raise ParameterError(f"unknown target {target!r}", hint="use decision or cue:<name>, e.g. cue:shape, cue:texture")
    cols = [model.column(lab) if lab != NA else None for lab in labels]
    return labels, torch.tensor([-1 if c is None else c for c in cols], dtype=torch.long)
