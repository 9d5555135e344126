"""Fooling rate and accuracy drop of a perturbation on a set of images.

The fooling rate is the fraction of images whose top-1 decision changes when the
perturbation is added (``clamp(x + delta, 0, 1)``), whatever the true label; the
accuracy drop is clean top-1 accuracy minus perturbed accuracy, on the images
whose label is known.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..classifiers import Classifier
from ..errors import InputError
from ._model import FastClassifier, as_images, check_images, prepare_classifier
from .budget import SizeRule, fit_size

__all__ = ["FoolingReport", "fooling_rate", "random_perturbation"]


@dataclass
class FoolingReport:
    """What a perturbation did to a set of images.

    ``accuracy_*`` are ``None`` when no image has a known label; ``target_rate`` is the
    fraction now classified as ``target`` (targeted perturbations only).
    """

    n: int
    fooling_rate: float
    n_labelled: int
    clean_accuracy: float | None
    perturbed_accuracy: float | None
    accuracy_drop: float | None
    target: int | None = None
    target_rate: float | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def fooling_rate(
    clf: Classifier | FastClassifier,
    images: torch.Tensor,
    delta: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    target: int | None = None,
    size_rule: SizeRule = "error",
    batch_size: int = 64,
    clean_predictions: torch.Tensor | None = None,
) -> FoolingReport:
    """Fooling rate and accuracy drop of ``delta`` ``(1, 3, h, w)`` on ``images`` ``(N, 3, H, W)``.

    ``images`` must be at the classifier's input size; a ``delta`` of another size is
    brought to it by ``size_rule`` (``resize`` or ``tile``; ``error`` refuses).
    ``labels`` ``(N,)`` are ImageNet indices with ``-1`` for unknown.
    """
    fast = prepare_classifier(clf)
    images = as_images(images)
    check_images(images, fast.input_size)
    if not isinstance(delta, torch.Tensor) or delta.dim() != 4 or tuple(delta.shape[:2]) != (1, 3):
        raise InputError(f"the perturbation must be a tensor (1, 3, H, W), got {getattr(delta, 'shape', type(delta).__name__)}")
    delta = fit_size(delta.to(images.dtype), fast.input_size, size_rule).to(fast.device)
    n = images.shape[0]
    clean = fast.predict(images, batch_size=batch_size) if clean_predictions is None else clean_predictions.cpu()
    pert = fast.predict(images, batch_size=batch_size, delta=delta)
    report = FoolingReport(n=n, fooling_rate=float((pert != clean).float().mean()), n_labelled=0, clean_accuracy=None, perturbed_accuracy=None, accuracy_drop=None)
    if labels is not None:
        labels = labels.to(torch.long).cpu()
        if labels.shape != (n,):
            raise InputError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
        known = labels >= 0
        k = int(known.sum())
        if k:
            ca = float((clean[known] == labels[known]).float().mean())
            pa = float((pert[known] == labels[known]).float().mean())
            report.n_labelled, report.clean_accuracy, report.perturbed_accuracy, report.accuracy_drop = k, ca, pa, ca - pa
    if target is not None:
        report.target = int(target)
        report.target_rate = float((pert == target).float().mean())
    return report


def random_perturbation(shape: tuple[int, ...], norm: str, eps: float, *, seed: int = 0) -> torch.Tensor:
    """A random perturbation of exactly the given norm: random signs times ``eps`` (L-inf), or a Gaussian direction scaled to ``eps`` (L2).

    The baseline a universal perturbation must beat: the same budget without optimisation.
    """
    g = torch.Generator().manual_seed(int(seed))
    if norm == "linf":
        return (torch.randint(0, 2, shape, generator=g).float() * 2 - 1) * eps
    if norm == "l2":
        z = torch.randn(shape, generator=g)
        return z * (eps / z.norm())
    raise InputError(f"norm {norm!r} is not supported", hint="use 'linf' or 'l2'")
