"""Label spaces and the mappings between them: the lowest layer that names classes.

- :class:`LabelSpace` / :func:`imagenet_labels`: the 1000 ImageNet-1k classes (index, wnid, name),
  the order of every ImageNet classifier's logits;
- :class:`LabelMapping` (``GEIRHOS16`` and user-registered ones): categories as groups of
  ImageNet-1k indices;
- :func:`label_space_names`: the labels a stimulus set's ``label_space`` uses, in class-index order.

Recipes, stimulus sets, exports, classifiers and the evaluator all read labels from here.
"""

from __future__ import annotations

from ..errors import InputError
from .mappings import GEIRHOS16, LabelMapping, available_mappings, get_mapping, is_mapping, register_mapping
from .space import LabelSpace, imagenet_labels

__all__ = [
    "GEIRHOS16",
    "IMAGENET1K",
    "LabelMapping",
    "LabelSpace",
    "available_mappings",
    "get_mapping",
    "imagenet_labels",
    "is_mapping",
    "known_label_spaces",
    "label_space_names",
    "register_mapping",
]

#: The name of the full ImageNet-1k label space (cue labels are wnids).
IMAGENET1K = "imagenet1k"


def known_label_spaces() -> list[str]:
    """``imagenet1k`` and every registered mapping (``geirhos16``...)."""
    return [IMAGENET1K, *available_mappings()]


def label_space_names(label_space: str) -> tuple[str, ...]:
    """The labels of a label space in class-index order: ImageNet-1k wnids (index = the model's
    output), or a mapping's categories (``geirhos16``: alphabetical)."""
    if label_space == IMAGENET1K:
        return tuple(imagenet_labels().wnids)
    if not is_mapping(label_space):
        raise InputError(f"unknown label space {label_space!r}", hint=f"known: {', '.join(known_label_spaces())}")
    return tuple(get_mapping(label_space).names)
