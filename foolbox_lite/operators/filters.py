"""Image corruptions after Geirhos et al. (2018): contrast reduction, low-/high-pass filtering, phase scrambling.

- contrast: ``c * x + (1 - c) * 0.5`` (``c = 1`` keeps the image, ``c = 0`` is uniform grey);
- low-pass: Gaussian blur of standard deviation ``sigma`` pixels, kernel truncated at
  ``4 sigma`` (as in the paper) or at ``min(H, W) - 1`` on tiny images, borders mirrored
  (``reflect``, OpenCV's ``BORDER_REFLECT_101``; the paper padded with grey instead);
- high-pass: ``x - blur(x) + grey`` (the paper used ``grey`` = their mean pixel value 0.4423
  on greyscale images: put :class:`~foolbox_lite.operators.color.Grayscale` first for that);
- phase scrambling: a uniform random phase in ``[-width, width]`` degrees is added to the
  Fourier phase of every frequency, the same noise for the three channels, the mean kept.

Blurs (and high-passes) of float32 CPU images that need no gradient run through OpenCV
(``sepFilter2D``) with the same kernel, plane by plane into one output: 3-8x faster, equal to
the torch path within 1e-6; phase scrambling of such images uses numpy's FFT item by item
likewise.  A given input always
takes the same path, so results are reproducible byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from ..errors import InputError, ParameterError
from ..kernels import gaussian_kernel
from ..params import SpecLike, as_spec, check_number
from ..seeding import BatchDraws
from ..stimuli import Stimuli
from .base import BatchContext, Operator
from .buffers import empty_output
from .cue_controls import APPEARANCE
from .itempool import for_items, use_fast_path
from .records import Column

__all__ = [
    "OPERATORS",
    "Contrast",
    "HighPass",
    "LowPass",
    "PhaseScramble",
    "contrast",
    "gaussian_blur",
    "gaussian_kernel",
    "high_pass",
    "phase_scramble",
]



def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ParameterError(f"parameter {name!r} must be True or False, got {value!r}")
    return value


def contrast(images: torch.Tensor, c: torch.Tensor | Sequence[float]) -> torch.Tensor:
    """``c * x + (1 - c) * 0.5`` per item; ``c`` has one value per item of the ``(B, 3, H, W)`` batch."""
    c = torch.as_tensor(c, dtype=images.dtype, device=images.device).view(-1, 1, 1, 1)
    if images.requires_grad and torch.is_grad_enabled():
        return images * c + (1.0 - c) * 0.5
    shift = (1.0 - c) * 0.5
    if images.dim() == 4 and use_fast_path(images):
        out = empty_output(images)
        _contrast_items(images.contiguous().numpy(), c.reshape(-1).expand(images.shape[0]).numpy(), shift.reshape(-1).expand(images.shape[0]).numpy(), out.numpy())
        return out
    out = torch.mul(images, c, out=empty_output(images))  # same arithmetic, into one fresh buffer
    return out.add_(shift)


def _contrast_items(src: np.ndarray, c: np.ndarray, shift: np.ndarray, out: np.ndarray) -> None:
    """:func:`contrast` item by item while it is in the cache: the same float32 multiply, then add (same bits)."""

    def work(start: int, stop: int) -> None:
        for i in range(start, stop):
            np.multiply(src[i], c[i], out=out[i])
            np.add(out[i], shift[i], out=out[i])

    for_items(work, src.shape[0])


@lru_cache(maxsize=32)
def _blur_matrix(n: int, kernel: tuple[float, ...]) -> torch.Tensor:
    """``(n, n)`` float64 matrix of a 1-D convolution with mirrored (reflect-101) borders."""
    r = len(kernel) // 2
    m = torch.zeros(n, n, dtype=torch.float64)
    rows = torch.arange(n)
    for t, w in enumerate(kernel):
        j = rows + t - r
        j = torch.where(j < 0, -j, j)
        j = torch.where(j > n - 1, 2 * (n - 1) - j, j)
        m.index_put_((rows, j), torch.full((n,), w, dtype=torch.float64), accumulate=True)
    return m


def _cv2_path(images: torch.Tensor) -> bool:
    return images.device.type == "cpu" and images.dtype == torch.float32 and not (torch.is_grad_enabled() and images.requires_grad)


def _blur_cv2(images: torch.Tensor, kernels: Sequence[tuple[float, ...]], grey: float | None, clip: bool) -> torch.Tensor:
    """OpenCV path, plane by plane into one output: blur, or ``x - blur + grey`` when ``grey`` is given."""
    import cv2
    import numpy as np

    b, c = images.shape[:2]
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    src = images.contiguous()
    for i in range(b):
        k = np.asarray(kernels[i], dtype=np.float32).reshape(-1, 1)
        for ch in range(c):
            s_np, o_np = src[i, ch].numpy(), out[i, ch].numpy()
            if len(k) == 1:
                np.copyto(o_np, s_np)
            else:
                cv2.sepFilter2D(s_np, -1, k, k, dst=o_np, borderType=cv2.BORDER_REFLECT_101)
            if grey is not None:
                np.subtract(s_np, o_np, out=o_np)
                o_np += np.float32(grey)
            if clip:
                np.clip(o_np, 0.0, 1.0, out=o_np)
    return out


def _kernels(images: torch.Tensor, sigmas: Sequence[float]) -> list[tuple[float, ...]]:
    b, _, h, w = images.shape
    if len(sigmas) != b:
        raise InputError(f"{len(sigmas)} sigmas given for a batch of {b}")
    return [gaussian_kernel(float(s), min(h, w) - 1) for s in sigmas]


def gaussian_blur(images: torch.Tensor, sigmas: Sequence[float]) -> torch.Tensor:
    """Gaussian blur of each item of ``(B, C, H, W)`` with its own ``sigmas[i]`` (pixels), reflect borders."""
    kernels = _kernels(images, sigmas)
    if _cv2_path(images):
        return _blur_cv2(images, kernels, None, False)
    h, w = images.shape[-2:]
    outs = []
    for i, k in enumerate(kernels):
        mh = _blur_matrix(h, k).to(images.device, images.dtype)
        mw = _blur_matrix(w, k).to(images.device, images.dtype)
        outs.append(mh @ images[i] @ mw.T)
    return torch.stack(outs)


def high_pass(images: torch.Tensor, sigmas: Sequence[float], grey: float = 0.5, clip: bool = False) -> torch.Tensor:
    """``x - blur(x, sigma) + grey`` per item, clamped to [0, 1] when ``clip``."""
    if _cv2_path(images):
        return _blur_cv2(images, _kernels(images, sigmas), grey, clip)
    out = images - gaussian_blur(images, sigmas) + grey
    return out.clamp(0.0, 1.0) if clip else out


def _hermitian_columns(noise: torch.Tensor, h: int, w: int) -> None:
    """Make the phase noise odd along ``ky`` in the self-conjugate columns (``kx = 0`` and Nyquist) of ``rfft2``.

    There the spectrum of a real image is Hermitian along ``ky``; odd noise keeps it so,
    and so keeps the amplitude spectrum exactly.  Self-conjugate bins (DC...) get no noise.
    """
    ky = torch.arange(h, device=noise.device)
    neg = ky > h // 2
    mirror = (h - ky[neg]) % h
    cols = [0] + ([w // 2] if w % 2 == 0 else [])
    for col in cols:
        v = noise[:, :, :, col]
        v[:, :, neg] = -v[:, :, mirror]
        v[:, :, 0] = 0.0
        if h % 2 == 0:
            v[:, :, h // 2] = 0.0


def phase_scramble(images: torch.Tensor, widths: Sequence[float], seeds: Sequence[int]) -> torch.Tensor:
    """Add uniform phase noise in ``[-width_i, width_i]`` degrees to the spectrum of item i (not clipped).

    The noise ``(H, W // 2 + 1)`` comes from ``seeds[i]`` and is shared by the three
    channels; the DC term is untouched, so each channel's mean is kept, and the noise is
    made odd where the half spectrum is self-conjugate, so the amplitude spectrum is kept exactly.
    """
    b, _, h, w = images.shape
    if len(widths) != b or len(seeds) != b:
        raise InputError(f"{len(widths)} widths and {len(seeds)} seeds given for a batch of {b}")
    noise = torch.empty((b, 1, h, w // 2 + 1), dtype=torch.float32, device=images.device)
    for i in range(b):
        g = torch.Generator(device=images.device)
        g.manual_seed(int(seeds[i]))
        rad = math.radians(float(widths[i]))
        noise[i].uniform_(-rad, rad, generator=g)
    _hermitian_columns(noise, h, w)
    noise = noise.to(images.dtype)
    phasor = torch.polar(torch.ones_like(noise), noise)
    # one FFT per item: batched FFTs may round differently with the batch size
    if torch.is_grad_enabled() and images.requires_grad:
        return torch.stack([torch.fft.irfft2(torch.fft.rfft2(images[i]) * phasor[i], s=(h, w)) for i in range(b)])
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    if images.device.type == "cpu" and images.dtype == torch.float32:
        import numpy as np  # numpy's single-threaded FFT, item by item (equal to the torch path within 1e-6)

        ph = phasor.numpy()
        planes = images.contiguous().numpy()  # numpy's FFT is ~30% slower on a channels-last item's strided planes
        for i in range(b):
            out[i] = torch.from_numpy(np.fft.irfft2(np.fft.rfft2(planes[i]) * ph[i], s=(h, w)).astype(np.float32, copy=False))
        return out
    for i in range(b):
        out[i] = torch.fft.irfft2(torch.fft.rfft2(images[i]).mul_(phasor[i]), s=(h, w))
    return out


# ---------------------------------------------------------------------------- operators
class Contrast(Operator):
    """Contrast reduction ``c * x + (1 - c) * 0.5`` with ``c`` in [0, 1] (Geirhos et al. 2018)."""

    name = "contrast"
    cue_controls = APPEARANCE
    differentiable = True

    def __init__(self, c: SpecLike = 0.3, *, p: float = 1.0) -> None:
        self._c = as_spec("c", c, low=0.0, high=1.0)
        super().__init__(p=p)

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> dict[str, Column]:
        return {"c": self.draw(draws, self._c)}

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        return stim.replace(images=contrast(stim.images, [p["c"] for p in params]))

    @classmethod
    def example(cls) -> Contrast:
        return cls(c=(0.05, 0.8))


class LowPass(Operator):
    """Gaussian blur with standard deviation ``sigma`` pixels (0 keeps the image)."""

    name = "low_pass"
    cue_controls = APPEARANCE
    differentiable = True

    def __init__(self, sigma: SpecLike = 3.0, *, p: float = 1.0) -> None:
        self._sigma = as_spec("sigma", sigma, low=0.0, high=1000.0)
        super().__init__(p=p)

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> dict[str, Column]:
        return {"sigma": self.draw(draws, self._sigma)}

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        return stim.replace(images=gaussian_blur(stim.images, [p["sigma"] for p in params]))

    @classmethod
    def example(cls) -> LowPass:
        return cls(sigma=(0.5, 3.0))


class HighPass(Operator):
    """High-pass ``x - blur(x, sigma) + grey``, clamped to [0, 1] when ``clip`` (the default)."""

    name = "high_pass"
    cue_controls = APPEARANCE
    differentiable = True

    def __init__(self, sigma: SpecLike = 3.0, *, grey: float = 0.5, clip: bool = True, p: float = 1.0) -> None:
        self._sigma = as_spec("sigma", sigma, low=0.0, high=1000.0)
        self.grey = float(check_number("grey", grey, low=0.0, high=1.0))
        self.clip = _check_flag("clip", clip)
        super().__init__(p=p)

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> dict[str, Column]:
        return {"sigma": self.draw(draws, self._sigma)}

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        return stim.replace(images=high_pass(stim.images, [p["sigma"] for p in params], self.grey, self.clip))

    @classmethod
    def example(cls) -> HighPass:
        return cls(sigma=(0.5, 3.0))


class PhaseScramble(Operator):
    """Add random phase noise of ``width`` degrees (0-180) to the Fourier spectrum; clamps to [0, 1] when ``clip``."""

    name = "phase_scramble"
    differentiable = True

    def __init__(self, width: SpecLike = 90.0, *, clip: bool = True, p: float = 1.0) -> None:
        self._width = as_spec("width", width, low=0.0, high=180.0)
        self.clip = _check_flag("clip", clip)
        super().__init__(p=p)

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> dict[str, Column]:
        return {"width": self.draw(draws, self._width), "seed": draws.seeds()}

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        out = phase_scramble(stim.images, [p["width"] for p in params], [int(p["seed"]) for p in params])
        return stim.replace(images=out.clamp_(0.0, 1.0) if self.clip and not out.requires_grad else (out.clamp(0.0, 1.0) if self.clip else out))

    @classmethod
    def example(cls) -> PhaseScramble:
        return cls(width=(30.0, 180.0))


OPERATORS: tuple[type[Operator], ...] = (Contrast, LowPass, HighPass, PhaseScramble)
