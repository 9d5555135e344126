"""Classifiers to evaluate: a model with declared preprocessing, input size and label space."""

from __future__ import annotations

import difflib

from ..errors import ModelError
from .base import Classifier, Preprocessing
from .efficientnet_lite import EFFICIENTNET_LITE, load_efficientnet_lite
from .labels import LabelSpace, imagenet_labels

__all__ = ["Classifier", "Preprocessing", "LabelSpace", "imagenet_labels", "load_classifier", "known_classifiers"]


def known_classifiers() -> list[str]:
    """Names accepted by :func:`load_classifier` (plus ``torchvision:NAME``, ``timm:NAME`` and file paths)."""
    return sorted(EFFICIENTNET_LITE)


def load_classifier(name: str, device: str | None = None) -> Classifier:
    """Load a classifier by name, e.g. ``efficientnet_lite0``."""
    if name in EFFICIENTNET_LITE:
        clf = load_efficientnet_lite(name)
    else:
        near = difflib.get_close_matches(name, known_classifiers(), n=3, cutoff=0.5)
        raise ModelError(f"unknown model {name!r}", hint=f"did you mean {', '.join(near)}?" if near else f"known: {', '.join(known_classifiers())}")
    return clf.to(device) if device else clf
