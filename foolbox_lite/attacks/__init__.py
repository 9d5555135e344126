"""Adversarial perturbations and noise thresholds of classifiers.

- :func:`fit_uap`: a universal perturbation (SGD method by default, or DeepFool-based);
- :func:`fooling_rate`: what a perturbation does to a set of images;
- :func:`save_perturbation` / :func:`load_perturbation`: tensor file plus JSON metadata;
- :func:`noise_thresholds` / :func:`accuracy_curve`: the smallest random noise changing a decision.
"""

from __future__ import annotations

from .budget import NORMS, Budget, fit_size, parse_eps, perturbation_norm, project
from .deepfool import deepfool, fit_uap_deepfool
from .fooling import FoolingReport, fooling_rate, random_perturbation
from .noise_threshold import NOISE_KINDS, NoiseThresholds, accuracy_curve, noise_batch, noise_thresholds
from .perturbation_file import Perturbation, load_perturbation, save_perturbation
from .uap import Augment, UAPResult, fit_uap, fit_uap_sgd

__all__ = [
    "NOISE_KINDS",
    "NORMS",
    "Augment",
    "Budget",
    "FoolingReport",
    "NoiseThresholds",
    "Perturbation",
    "UAPResult",
    "accuracy_curve",
    "deepfool",
    "fit_size",
    "fit_uap",
    "fit_uap_deepfool",
    "fit_uap_sgd",
    "fooling_rate",
    "load_perturbation",
    "noise_batch",
    "noise_thresholds",
    "parse_eps",
    "perturbation_norm",
    "project",
    "random_perturbation",
    "save_perturbation",
]
