"""``foolbox_lite.functional``: the pure tensor kernels behind the operators, in one namespace.

Kornia style: each operator is a thin module that samples and records parameters, then
calls one of these functions, which take batched tensors ``(B, C, H, W)`` plus explicit
per-item parameters and touch no random state.  Use them directly to apply an effect with
parameters of your own (e.g. from an item's record) without building an operator::

    import foolbox_lite.functional as F
    out = F.gaussian_blur(images, sigmas=[1.0, 2.5])

This module only re-exports: each function lives (and is documented) beside its operator.
"""

from __future__ import annotations

from .kernels import composite, gaussian_kernel
from .operators.color import grayscale, invert
from .operators.filters import contrast, gaussian_blur, high_pass, phase_scramble
from .operators.homography import flip_matrix, rotation_matrix, scale_translate_matrix, tilt_matrix, warp, warp_many
from .operators.noise import additive_noise, noise_std, pink_spectrum, salt_pepper_noise
from .operators.perturbation import add_perturbation, fit_delta, project
from .operators.structure import canny_edges, patch_scramble, silhouette, sobel_edges, sobel_magnitude

__all__ = [
    "add_perturbation",
    "additive_noise",
    "canny_edges",
    "composite",
    "contrast",
    "fit_delta",
    "flip_matrix",
    "gaussian_blur",
    "gaussian_kernel",
    "grayscale",
    "high_pass",
    "invert",
    "noise_std",
    "patch_scramble",
    "phase_scramble",
    "pink_spectrum",
    "project",
    "rotation_matrix",
    "salt_pepper_noise",
    "scale_translate_matrix",
    "silhouette",
    "sobel_edges",
    "sobel_magnitude",
    "tilt_matrix",
    "warp",
    "warp_many",
]
