"""Noise operators and the Geirhos corruptions (contrast, low-/high-pass, phase scrambling)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.errors import ParameterError
from foolbox_lite.kernels import gaussian_kernel
from foolbox_lite.operators.filters import gaussian_blur, high_pass, phase_scramble
from foolbox_lite.operators.noise import additive_noise, salt_pepper_noise


def grey(b: int = 2, size: int = 64, value: float = 0.5, dtype=torch.float32) -> fl.Stimuli:
    return fl.Stimuli.from_tensor(torch.full((b, 3, size, size), value, dtype=dtype))


def tiny(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (0.3 + 0.4 * torch.rand(2, 3, 8, 8, generator=g, dtype=torch.float64)).requires_grad_()


# ------------------------------------------------------------------ noise statistics
def test_gaussian_noise_has_the_requested_std_and_records_its_seed():
    out = fl.ops.GaussianNoise(std=0.1, clip=False)(grey(4), seed=1)
    noise = out.images - 0.5
    assert abs(float(noise.std()) - 0.1) < 0.003
    assert abs(float(noise.mean())) < 0.003
    rec = out.items[0].params[-1]["params"]
    assert rec["std"] == 0.1 and isinstance(rec["seed"], int)
    # item 0 and item 1 get different noise
    assert not torch.equal(out.images[0], out.images[1])


def test_uniform_noise_width_bounds_the_values():
    out = fl.ops.UniformNoise(width=0.2, clip=False)(grey(2), seed=2)
    noise = out.images - 0.5
    assert float(noise.abs().max()) <= 0.2 + 1e-6
    assert float(noise.abs().max()) > 0.199
    assert abs(float(noise.std()) - 0.2 / math.sqrt(3)) < 0.003


def test_snr_sets_std_from_the_image_contrast():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 64, 64, generator=g) * 0.5 + 0.25
    stim = fl.Stimuli.from_tensor(x)
    out = fl.ops.GaussianNoise(snr_db=20.0, clip=False)(stim, seed=3)
    for i in range(2):
        want = float(x[i].std()) / 10.0
        assert abs(float((out.images[i] - x[i]).std()) - want) / want < 0.03


def test_mono_noise_is_the_same_in_all_channels():
    out = fl.ops.GaussianNoise(std=0.1, mono=True, clip=False)(grey(2, 16), seed=4)
    assert torch.equal(out.images[:, 0], out.images[:, 1]) and torch.equal(out.images[:, 0], out.images[:, 2])


def test_clip_flag_is_explicit_and_recorded():
    stim = grey(1, 32, value=0.95)
    clipped = fl.ops.GaussianNoise(std=0.2)(stim, seed=5)
    raw = fl.ops.GaussianNoise(std=0.2, clip=False)(stim, seed=5)
    assert float(clipped.images.max()) == 1.0 and float(raw.images.max()) > 1.0
    assert torch.equal(raw.images.clamp(0, 1), clipped.images)
    assert fl.ops.GaussianNoise(std=0.2).config()["clip"] is True


def test_in_place_path_equals_autograd_path_bitwise():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(3, 3, 16, 16, generator=g)
    for kind, mono in (("gaussian", False), ("uniform", True), ("pink", False)):
        fast = additive_noise(x, [0.1, 0.05, 0.2], [1, 2, 3], kind=kind, mono=mono)
        slow = additive_noise(x.clone().requires_grad_(), [0.1, 0.05, 0.2], [1, 2, 3], kind=kind, mono=mono)
        assert torch.equal(fast, slow.detach()), kind
        f64 = additive_noise(x.double(), [0.1, 0.05, 0.2], [1, 2, 3], kind=kind, mono=mono)
        assert torch.allclose(f64.float(), fast, atol=1e-6)


def test_salt_and_pepper_fractions():
    out = fl.ops.SaltPepperNoise(amount=0.2, salt=0.25)(grey(1, 128), seed=6)
    img = out.images[0]
    assert torch.equal(img[0], img[1]) and torch.equal(img[0], img[2])
    white, black = float((img[0] == 1).float().mean()), float((img[0] == 0).float().mean())
    assert abs(white - 0.05) < 0.01 and abs(black - 0.15) < 0.015
    assert abs(float((img[0] == 0.5).float().mean()) - 0.8) < 0.015


def test_pink_noise_has_a_one_over_f_spectrum():
    out = fl.ops.PinkNoise(std=0.05, clip=False)(grey(1, 128), seed=7)
    n = (out.images[0, 0] - 0.5).double()
    amp = torch.fft.rfft2(n).abs()
    fy = torch.fft.fftfreq(128, dtype=torch.float64)[:, None]
    fx = torch.fft.rfftfreq(128, dtype=torch.float64)[None, :]
    f = (fy**2 + fx**2).sqrt()
    bands = [(0.02, 0.04), (0.08, 0.16), (0.25, 0.45)]
    level = [float(amp[(f >= lo) & (f < hi)].mean()) for lo, hi in bands]
    centre = [math.sqrt(lo * hi) for lo, hi in bands]
    slope = (math.log(level[2]) - math.log(level[0])) / (math.log(centre[2]) - math.log(centre[0]))
    assert -1.15 < slope < -0.85
    assert abs(float((out.images[0] - 0.5).double().std()) - 0.05) < 1e-5  # normalised over the item's three channels


# ------------------------------------------------------------------ filters: known values
def test_contrast_formula():
    x = torch.tensor([0.0, 0.2, 1.0]).view(1, 3, 1, 1).expand(3, 3, 2, 2).contiguous()
    out = fl.ops.Contrast(c={"choice": [0.3]})(fl.Stimuli.from_tensor(x), seed=0).images
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.35, 0.41, 0.65]))
    assert torch.equal(fl.ops.Contrast(c=1.0)(fl.Stimuli.from_tensor(x)).images, x)
    assert torch.equal(fl.ops.Contrast(c=0.0)(fl.Stimuli.from_tensor(x)).images, torch.full_like(x, 0.5))


def test_gaussian_blur_matches_scipy_and_both_paths_agree():
    ndimage = pytest.importorskip("scipy.ndimage")
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, 20, 24, generator=g)
    sig = [1.5, 4.0]
    fast = gaussian_blur(x, sig)  # OpenCV path (float32, CPU, no grad)
    slow = gaussian_blur(x.double(), sig)  # torch path
    for i, s in enumerate(sig):
        ref = ndimage.gaussian_filter(x[i].double().numpy(), sigma=(0, s, s), mode="mirror", truncate=4.0)
        assert np.allclose(slow[i].numpy(), ref, atol=1e-10)
        assert np.allclose(fast[i].numpy(), ref, atol=2e-6)
    assert torch.equal(gaussian_blur(x, [0.0, 0.0]), x)
    hp_fast = high_pass(x, sig, 0.4423, clip=True)
    hp_slow = high_pass(x.clone().requires_grad_(), sig, 0.4423, clip=True).detach()
    assert torch.allclose(hp_fast, hp_slow, atol=2e-6) and float(hp_fast.min()) >= 0.0
    assert len(gaussian_kernel(100.0, 19)) == 39  # truncated to the image size on tiny images


def test_low_pass_keeps_a_constant_image_and_high_pass_makes_it_grey():
    stim = grey(2, 16, value=0.3)
    assert torch.allclose(fl.ops.LowPass(sigma=3.0)(stim).images, stim.images, atol=1e-6)
    assert torch.allclose(fl.ops.HighPass(sigma=3.0)(stim).images, torch.full_like(stim.images, 0.5), atol=1e-6)
    hp = fl.ops.HighPass(sigma=2.0, grey=0.4423, clip=False)(fl.Stimuli.from_tensor(tiny().detach().float()))
    assert hp.items[0].params[-1]["params"] == {"sigma": 2.0}


def test_phase_scramble_keeps_amplitude_and_mean_and_shares_noise_across_channels():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 16, 15, generator=g, dtype=torch.float64)
    y = phase_scramble(x, [90.0, 180.0], [11, 12])
    assert torch.allclose(torch.fft.fft2(y).abs(), torch.fft.fft2(x).abs(), atol=1e-9)
    assert torch.allclose(y.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=1e-12)
    dphase = torch.angle(torch.fft.rfft2(y) / torch.fft.rfft2(x))
    assert torch.allclose(torch.cos(dphase[:, 0] - dphase[:, 1]), torch.ones((), dtype=torch.float64), atol=1e-6)
    assert float(dphase.abs().max()) > 1.0
    assert torch.allclose(phase_scramble(x, [0.0, 0.0], [1, 2]), x, atol=1e-12)
    y32 = phase_scramble(x.float(), [90.0, 180.0], [11, 12])  # numpy path (float32 CPU, no grad)
    assert torch.allclose(y32, y.float(), atol=2e-6)
    out = fl.ops.PhaseScramble(width=(30, 60))(fl.Stimuli.from_tensor(x.float()), seed=1)
    assert 30 <= out.items[0].params[-1]["params"]["width"] <= 60


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize(
    "op",
    [
        fl.ops.GaussianNoise(std=0.05),
        fl.ops.GaussianNoise(snr_db=15.0, clip=False),
        fl.ops.UniformNoise(width=0.05, mono=True),
        fl.ops.PinkNoise(std=0.05),
        fl.ops.SaltPepperNoise(amount=0.2),
        fl.ops.Contrast(c=0.4),
        fl.ops.LowPass(sigma=1.2),
        fl.ops.HighPass(sigma=1.2, clip=False),
        fl.ops.PhaseScramble(width=60, clip=False),
    ],
    ids=lambda op: repr(op),
)
def test_gradcheck(op, one_thread):
    x = tiny()
    recs = op.sample_params(fl.Stimuli.from_tensor(x.detach()), seed=1, path=op.name)

    def f(images):
        return op.replay(fl.Stimuli.from_tensor(images), recs).images

    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-5)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: fl.ops.GaussianNoise(std=-0.1), "'std' = -0.1 is below its minimum 0"),
        (lambda: fl.ops.GaussianNoise(std=float("nan")), "'std' must be finite"),
        (lambda: fl.ops.GaussianNoise(std=(0.2, 0.1)), "upside down"),
        (lambda: fl.ops.GaussianNoise(std=0.1, snr_db=10), "exactly one noise level"),
        (lambda: fl.ops.GaussianNoise(), "exactly one noise level"),
        (lambda: fl.ops.UniformNoise(width=0.1, std=0.1), "exactly one noise level"),
        (lambda: fl.ops.GaussianNoise(std=0.1, clip="yes"), "'clip' must be True or False"),
        (lambda: fl.ops.PinkNoise(std=0.1, exponent=-1), "'exponent' = -1 is below"),
        (lambda: fl.ops.SaltPepperNoise(amount=1.5), "'amount' = 1.5 is above its maximum 1"),
        (lambda: fl.ops.Contrast(c=float("inf")), "'c' must be finite"),
        (lambda: fl.ops.LowPass(sigma=-1), "'sigma' = -1 is below"),
        (lambda: fl.ops.HighPass(sigma=(3, 1)), "upside down"),
        (lambda: fl.ops.PhaseScramble(width=270), "'width' = 270 is above its maximum 180"),
    ],
)
def test_bad_parameters(make, match):
    with pytest.raises(ParameterError, match=match):
        make()


def test_functional_errors():
    x = torch.rand(2, 3, 4, 4)
    with pytest.raises(fl.InputError, match="1 stds and 2 seeds given for a batch of 2"):
        additive_noise(x, [0.1], [1, 2])
    with pytest.raises(ParameterError, match="noise kind 'blue'"):
        additive_noise(x, [0.1, 0.1], [1, 2], kind="blue")
    with pytest.raises(fl.InputError, match="1 sigmas given for a batch of 2"):
        gaussian_blur(x, [1.0])
    assert torch.equal(salt_pepper_noise(x, [0.0, 0.0], [0.5, 0.5], [1, 2]), x)
    assert torch.allclose(high_pass(x, [0.0, 0.0]), torch.full_like(x, 0.5))
