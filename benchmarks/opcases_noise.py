"""Benchmark cases: noise (Gaussian, uniform, salt-and-pepper, pink) and the Geirhos corruptions (filters)."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from harness import Case
from harness import operator_runner as _ours
from opcases_color import numpy_batch

import foolbox_lite as fl

STD = 0.08
SIGMA = 3.0




def cases(images: torch.Tensor, masks: torch.Tensor, device: str) -> list[Case]:
    stim = fl.Stimuli.from_tensor(images, masks)
    np_imgs = numpy_batch(images)
    h, w = np_imgs[0].shape[:2]
    rng = np.random.default_rng(0)  # a local generator: benchmarks never touch global state
    noise_buf = np.empty((h, w, 3), np.float32)

    def peer_gauss() -> None:  # OpenCV: randn into a reused float buffer, add, saturate to uint8
        for im in np_imgs:
            cv2.randn(noise_buf, 0.0, STD * 255.0)
            cv2.add(im, noise_buf, dtype=cv2.CV_8U)

    def peer_uniform() -> None:
        for im in np_imgs:
            cv2.randu(noise_buf, -STD * 255.0 * 3**0.5, STD * 255.0 * 3**0.5)
            cv2.add(im, noise_buf, dtype=cv2.CV_8U)

    def peer_salt_pepper() -> None:
        for im in np_imgs:
            u = rng.random((h, w), dtype=np.float32)
            out = im.copy()
            out[u < 0.025] = 255
            out[(u >= 0.025) & (u < 0.05)] = 0

    amp = np.asarray(fl.operators.noise.pink_spectrum(h, w, 1.0, "cpu")).astype(np.float32)[..., None]

    def peer_pink() -> None:
        for im in np_imgs:
            white = rng.standard_normal((h, w, 3), dtype=np.float32)
            f = np.fft.irfft2(np.fft.rfft2(white, axes=(0, 1)) * amp, s=(h, w), axes=(0, 1))
            f *= STD * 255.0 / f.std()
            np.clip(im + f, 0, 255).astype(np.uint8)

    def peer_contrast() -> None:
        for im in np_imgs:
            cv2.convertScaleAbs(im, alpha=0.3, beta=0.7 * 127.5)

    def peer_low() -> None:
        for im in np_imgs:
            cv2.GaussianBlur(im, (0, 0), SIGMA, borderType=cv2.BORDER_REFLECT_101)

    def peer_high() -> None:
        for im in np_imgs:
            b = cv2.GaussianBlur(im, (0, 0), SIGMA, borderType=cv2.BORDER_REFLECT_101)
            cv2.addWeighted(im, 1.0, b, -1.0, 127.5, dtype=cv2.CV_8U)

    def peer_phase() -> None:
        for im in np_imgs:
            f = np.fft.rfft2(im.astype(np.float32), axes=(0, 1))
            ph = rng.uniform(-np.pi / 2, np.pi / 2, size=f.shape[:2]).astype(np.float32)
            out = np.fft.irfft2(f * np.exp(1j * ph)[..., None], s=(h, w), axes=(0, 1))
            np.clip(out, 0, 255).astype(np.uint8)

    return [
        Case("gaussian_noise", _ours(fl.ops.GaussianNoise(std=STD), stim, device), "opencv", peer_gauss),
        Case("uniform_noise", _ours(fl.ops.UniformNoise(std=STD), stim, device), "opencv", peer_uniform),
        Case("salt_pepper_noise", _ours(fl.ops.SaltPepperNoise(amount=0.05), stim, device), "numpy", peer_salt_pepper),
        Case("pink_noise", _ours(fl.ops.PinkNoise(std=STD), stim, device), "numpy-fft", peer_pink),
        Case("contrast", _ours(fl.ops.Contrast(c=0.3), stim, device), "opencv", peer_contrast),
        Case("low_pass", _ours(fl.ops.LowPass(sigma=SIGMA), stim, device), "opencv", peer_low),
        Case("high_pass", _ours(fl.ops.HighPass(sigma=SIGMA), stim, device), "opencv", peer_high),
        Case("phase_scramble", _ours(fl.ops.PhaseScramble(width=90), stim, device), "numpy-fft", peer_phase),
    ]
