"""Module output == kernel output: each operator with a pure kernel in ``foolbox_lite.functional``
gives exactly what that kernel gives on the parameters it recorded."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

import foolbox_lite.functional as F
from foolbox_lite.operators.registry import REGISTRY


def _seeds(params: list[dict]) -> list[int]:
    return [int(p["seed"]) for p in params]


def _noise(op, stim, params):
    if op._level_key == "width":
        stds = [float(p["width"]) / math.sqrt(3.0) for p in params]
    else:
        stds = F.noise_std(stim.images, params)
    return F.additive_noise(stim.images, stds, _seeds(params), kind=op._kind, mono=op.mono, clip=op.clip, exponent=op._exponent())


#: operator name -> the kernel call that must reproduce its output from (operator, input batch, recorded params)
KERNEL_CALLS: dict[str, Callable[..., torch.Tensor]] = {
    "grayscale": lambda op, s, p: F.grayscale(s.images),
    "invert": lambda op, s, p: F.invert(s.images),
    "contrast": lambda op, s, p: F.contrast(s.images, [q["c"] for q in p]),
    "low_pass": lambda op, s, p: F.gaussian_blur(s.images, [q["sigma"] for q in p]),
    "high_pass": lambda op, s, p: F.high_pass(s.images, [q["sigma"] for q in p], op.grey, op.clip),
    "phase_scramble": lambda op, s, p: F.phase_scramble(s.images, [q["width"] for q in p], _seeds(p)).clamp(0.0, 1.0),
    "gaussian_noise": _noise,
    "uniform_noise": _noise,
    "pink_noise": _noise,
    "salt_pepper_noise": lambda op, s, p: F.salt_pepper_noise(s.images, [q["amount"] for q in p], [q["salt"] for q in p], _seeds(p)),
    "patch_scramble": lambda op, s, p: torch.cat([F.patch_scramble(s.images[i:i + 1], int(q["grid"]), [q["perm"]]) for i, q in enumerate(p)]),
    "silhouette": lambda op, s, p: F.silhouette(s.mask, threshold=op.threshold, fg=op.fg, bg=op.bg).to(s.dtype),
    "edges": lambda op, s, p: (F.sobel_edges(s.images, threshold=op.threshold) if op.method == "sobel"
                               else F.canny_edges(s.images, low=op.low, high=op.high, sigma=op.sigma, backend=op.backend)),
    "add_perturbation": lambda op, s, p: F.add_perturbation(s.images, op.delta_for(*s.size)[0].to(s.device, s.dtype)),
    "skipped": lambda op, s, p: s.images,
}

#: operators built from several kernels, a model or an external library: no single pure kernel to compare with
NO_SINGLE_KERNEL = {
    "flip", "rotate", "scale_translate", "tilt",  # object frames + *_matrix + warp_many
    "composite", "backgrounds_challenge",  # background fitting + feathered masks + composite
    "texture_fill", "texture_shaded", "colour_match", "texture_quilt", "texture_adain",  # foolbox_lite.textures
    "albumentations", "foreground_mask", "inpaint_background", "restyle_object",  # external libraries and models
}


def test_every_operator_is_classified():
    """A new operator must say whether it has a pure kernel (and then be checked below)."""
    assert set(KERNEL_CALLS) | NO_SINGLE_KERNEL == set(REGISTRY)
    assert not set(KERNEL_CALLS) & NO_SINGLE_KERNEL


def test_functional_reexports_not_copies():
    from foolbox_lite.operators import filters

    assert F.gaussian_blur is filters.gaussian_blur
    assert all(callable(getattr(F, name)) for name in F.__all__)


@pytest.mark.parametrize("name", sorted(KERNEL_CALLS))
def test_module_output_equals_kernel_output(name, batch):
    op = REGISTRY[name].example()
    out = op(batch, seed=11)
    params = [it.params[-1]["params"] for it in out.items]
    assert all(it.params[-1]["applied"] for it in out.items)
    expected = KERNEL_CALLS[name](op, batch, params)
    assert torch.equal(out.images, expected), f"{name}: operator and kernel differ by {(out.images - expected).abs().max():.3g}"
    assert not torch.equal(out.images, batch.images) or name == "skipped"
