"""Random noise: Gaussian, uniform, salt-and-pepper and 1/f (pink) noise.

Every item draws a noise seed from its own generator and records it; the noise
field is then made from ``torch.Generator(device=images.device).manual_seed(seed)``
for that item alone, so an item gets the same noise whatever batch it is in and
its record replays exactly.  Noise is always drawn in float32 (then cast to the
images' dtype), so float32 and float64 runs see the same noise.  The same seed
gives different noise on a CPU and on a GPU (different generators); each is
reproducible on its own device.

The noise level is a standard deviation ``std`` (in [0, 1] pixel units) or a
signal-to-noise ratio ``snr_db``: then ``std = std(image) / 10 ** (snr_db / 20)``
with ``std(image)`` the standard deviation of that item's pixel values over all
channels (its RMS contrast), i.e. SNR is the ratio of signal to noise variance in dB.

Results are clipped to [0, 1] when ``clip=True`` (the default; the flag is part of
the operator's config); with ``clip=False`` values may leave [0, 1] on purpose.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import torch

from ..errors import InputError, ParameterError
from ..params import SpecLike, as_spec
from ..seeding import BatchDraws
from ..stimuli import Stimuli
from .base import BatchContext, Operator
from .cue_controls import APPEARANCE
from .records import Column

__all__ = [
    "OPERATORS",
    "GaussianNoise",
    "PinkNoise",
    "SaltPepperNoise",
    "UniformNoise",
    "additive_noise",
    "noise_std",
    "pink_spectrum",
    "salt_pepper_noise",
]

_SQRT3 = math.sqrt(3.0)
_KINDS = ("gaussian", "uniform", "pink")


def _fast(images: torch.Tensor) -> bool:
    """In-place path: float32 and no gradient needed (same values as the autograd path)."""
    return images.dtype == torch.float32 and not (torch.is_grad_enabled() and images.requires_grad)


@lru_cache(maxsize=16)
def pink_spectrum(height: int, width: int, exponent: float, device: str) -> torch.Tensor:
    """``(H, W // 2 + 1)`` float32 amplitude filter ``1 / f ** exponent`` for ``rfft2`` (0 at f = 0).

    ``f`` is the radial frequency in cycles per pixel; with ``exponent=1`` the noise
    has the ``1/f`` amplitude (``1/f^2`` power) spectrum of natural images.
    """
    fy = torch.fft.fftfreq(height, dtype=torch.float64)
    fx = torch.fft.rfftfreq(width, dtype=torch.float64)
    f = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    amp = torch.where(f > 0, f.clamp_min(1e-12) ** (-exponent), torch.zeros_like(f))
    return amp.to(torch.float32).to(device)


def _field(kind: str, shape: tuple[int, int, int], seed: int, std: float, device: torch.device, exponent: float, out: torch.Tensor | None = None) -> torch.Tensor:
    """One item's float32 Gaussian or uniform noise field of standard deviation ``std``, from ``seed`` alone."""
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    if out is None:
        out = torch.empty(shape, dtype=torch.float32, device=device)
    if kind == "gaussian":
        out.normal_(0.0, std, generator=g)
    else:
        out.uniform_(-_SQRT3 * std, _SQRT3 * std, generator=g)
    return out


def noise_std(images: torch.Tensor, params: Sequence[Mapping[str, Any]]) -> list[float | torch.Tensor]:
    """Each item's noise std: ``params[i]["std"]``, or from ``params[i]["snr_db"]`` and the image (a tensor then)."""
    out: list[float | torch.Tensor] = []
    for i, p in enumerate(params):
        if "std" in p:
            out.append(float(p["std"]))
        elif "snr_db" in p:
            out.append(images[i].std() / (10.0 ** (float(p["snr_db"]) / 20.0)))
        else:
            raise ParameterError(f"noise params of item {i} need 'std' or 'snr_db', got {sorted(p)}")
    return out


def additive_noise(
    images: torch.Tensor,
    stds: Sequence[float | torch.Tensor],
    seeds: Sequence[int],
    *,
    kind: str = "gaussian",
    mono: bool = False,
    clip: bool = True,
    exponent: float = 1.0,
) -> torch.Tensor:
    """``images + std_i * n_i`` for ``(B, 3, H, W)`` images, ``n_i`` a unit noise field from ``seeds[i]``.

    ``kind`` is ``"gaussian"``, ``"uniform"`` (on ``[-sqrt(3), sqrt(3)]``, unit variance) or
    ``"pink"`` (``1/f ** exponent`` amplitude spectrum).  ``mono`` uses one field for all
    three channels (luminance noise).  ``clip`` clamps the result to ``[0, 1]``.
    """
    if kind not in _KINDS:
        raise ParameterError(f"noise kind {kind!r} is not one of {list(_KINDS)}")
    b, c, h, w = images.shape
    if len(stds) != b or len(seeds) != b:
        raise InputError(f"{len(stds)} stds and {len(seeds)} seeds given for a batch of {b}")
    shape = (1 if mono else c, h, w)
    if kind == "pink":
        return _pink(images, stds, seeds, shape, clip, exponent)
    if _fast(images):  # fill the output in place: one allocation, two batched passes
        out = torch.empty_like(images, memory_format=torch.contiguous_format)
        for i in range(b):
            o = out[i]
            _field(kind, shape, int(seeds[i]), float(stds[i]), images.device, exponent, out=o[:1] if mono else o)
            if mono:
                o[1:].copy_(o[:1].expand(c - 1, h, w))
        out.add_(images)
        return out.clamp_(0.0, 1.0) if clip else out
    if any(isinstance(s, torch.Tensor) and s.requires_grad for s in stds):  # snr_db under autograd
        fields = torch.stack([_field(kind, shape, int(sd), 1.0, images.device, exponent) for sd in seeds]).to(images.dtype)
        scale = torch.stack([torch.as_tensor(s, dtype=images.dtype, device=images.device) for s in stds]).view(b, 1, 1, 1)
        out = fields.expand(b, c, h, w) * scale + images
    else:  # the same float32 fields as the in-place path
        fields = torch.stack([_field(kind, shape, int(sd), float(s), images.device, exponent) for sd, s in zip(seeds, stds)])
        out = images + fields.expand(b, c, h, w).to(images.dtype)
    return out.clamp(0.0, 1.0) if clip else out


def _pink(images: torch.Tensor, stds: Sequence[float | torch.Tensor], seeds: Sequence[int], shape: tuple[int, int, int], clip: bool, exponent: float) -> torch.Tensor:
    """Pink noise: white noise per item from its seed, filtered and normalised per item, then scaled and added."""
    b, c, h, w = images.shape
    amp = pink_spectrum(h, w, exponent, str(images.device))
    field = torch.empty((b, *shape), dtype=torch.float32, device=images.device)
    on_cpu = images.device.type == "cpu"
    if on_cpu:  # numpy's single-threaded FFT: fast per item, and the field needs no gradient
        import numpy as np

        amp_np = amp.numpy()
    for i in range(b):  # one FFT per item: batched FFTs may round differently with the batch size
        g = torch.Generator(device=images.device)
        g.manual_seed(int(seeds[i]))
        white = torch.empty(shape, dtype=torch.float32, device=images.device).normal_(0.0, 1.0, generator=g)
        if on_cpu:
            f_np = np.fft.irfft2(np.fft.rfft2(white.numpy()) * amp_np, s=(h, w)).astype(np.float32, copy=False)
            f_np -= f_np.mean(dtype=np.float64)
            f_np /= max(float(f_np.std(dtype=np.float64)), 1e-12)
            field[i] = torch.from_numpy(f_np)
        else:
            f = torch.fft.irfft2(torch.fft.rfft2(white).mul_(amp), s=(h, w))
            f -= f.mean()
            f /= f.std().clamp_min(1e-12)
            field[i] = f
    field = field.expand(b, c, h, w).to(images.dtype)
    if any(isinstance(s, torch.Tensor) and s.requires_grad for s in stds):
        scale = torch.stack([torch.as_tensor(s, dtype=images.dtype, device=images.device) for s in stds]).view(b, 1, 1, 1)
    else:
        scale = torch.tensor([float(s) for s in stds], dtype=images.dtype, device=images.device).view(b, 1, 1, 1)
    if _fast(images):
        out = torch.mul(field, scale)
        out += images
        return out.clamp_(0.0, 1.0) if clip else out
    out = field * scale + images
    return out.clamp(0.0, 1.0) if clip else out


def salt_pepper_noise(images: torch.Tensor, amounts: Sequence[float], salt_fractions: Sequence[float], seeds: Sequence[int]) -> torch.Tensor:
    """Set a fraction ``amounts[i]`` of item i's pixels (all channels) to white or black.

    A pixel with uniform draw ``u < amount * salt`` becomes 1 (salt), one with
    ``amount * salt <= u < amount`` becomes 0 (pepper); ``u`` is drawn from ``seeds[i]``.
    Differentiable w.r.t. the images (gradient 1 where kept, 0 elsewhere).
    """
    b, _, h, w = images.shape
    u = torch.empty((b, 1, h, w), dtype=torch.float32, device=images.device)
    for i in range(b):
        g = torch.Generator(device=images.device)
        g.manual_seed(int(seeds[i]))
        u[i].uniform_(0.0, 1.0, generator=g)
    a = torch.tensor([float(x) for x in amounts], dtype=torch.float32, device=images.device).view(b, 1, 1, 1)
    s = torch.tensor([float(x) for x in salt_fractions], dtype=torch.float32, device=images.device).view(b, 1, 1, 1)
    return torch.where(u >= a, images, (u < a * s).to(images.dtype))


# ---------------------------------------------------------------------------- operators
def _level_specs(std: SpecLike | None, snr_db: SpecLike | None, extra: dict[str, SpecLike | None] | None = None) -> tuple[str, Any]:
    given = {"std": std, "snr_db": snr_db, **(extra or {})}
    named = [k for k, v in given.items() if v is not None]
    if len(named) != 1:
        raise ParameterError(
            f"give exactly one noise level among {list(given)}, got {named or 'none'}",
            hint="e.g. std=0.08 (pixel units) or snr_db=10",
        )
    key = named[0]
    if key == "snr_db":
        return key, as_spec(key, given[key], low=-60.0, high=100.0)
    return key, as_spec(key, given[key], low=0.0, high=10.0)


class _AdditiveNoise(Operator):
    differentiable = True
    cue_controls = APPEARANCE
    _kind = "gaussian"

    def __init__(self, std: SpecLike | None = None, *, snr_db: SpecLike | None = None, mono: bool = False, clip: bool = True, p: float = 1.0,
                 width: SpecLike | None = None) -> None:
        self._level_key, self._level = _level_specs(std, snr_db, {"width": width} if self._kind == "uniform" else None)
        for name, flag in (("mono", mono), ("clip", clip)):
            if not isinstance(flag, bool):
                raise ParameterError(f"parameter {name!r} must be True or False, got {flag!r}")
        self.mono, self.clip = mono, clip
        super().__init__(p=p)

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> dict[str, Column]:
        return {self._level_key: self.draw(draws, self._level), "seed": draws.seeds()}

    def _exponent(self) -> float:
        return 1.0

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        if self._level_key == "width":
            stds: list[float | torch.Tensor] = [float(p["width"]) / _SQRT3 for p in params]
        else:
            stds = noise_std(stim.images, params)
        out = additive_noise(stim.images, stds, [int(p["seed"]) for p in params], kind=self._kind, mono=self.mono, clip=self.clip, exponent=self._exponent())
        return stim.replace(images=out)


class GaussianNoise(_AdditiveNoise):
    """Additive Gaussian noise of standard deviation ``std`` (or at ``snr_db``), per item from a recorded seed.

    ``mono=True`` adds the same noise to the three channels; ``clip`` clamps to [0, 1].
    """

    name = "gaussian_noise"
    _kind = "gaussian"

    def __init__(self, std: SpecLike | None = None, *, snr_db: SpecLike | None = None, mono: bool = False, clip: bool = True, p: float = 1.0) -> None:
        super().__init__(std, snr_db=snr_db, mono=mono, clip=clip, p=p)

    @classmethod
    def example(cls) -> GaussianNoise:
        return cls(std=(0.02, 0.2))


class UniformNoise(_AdditiveNoise):
    """Additive uniform noise on ``[-width, width]`` (Geirhos et al. 2018), or of a given ``std`` / ``snr_db``.

    ``std = width / sqrt(3)``.  ``mono=True`` adds the same noise to the three channels.
    """

    name = "uniform_noise"
    _kind = "uniform"

    def __init__(
        self,
        width: SpecLike | None = None,
        *,
        std: SpecLike | None = None,
        snr_db: SpecLike | None = None,
        mono: bool = False,
        clip: bool = True,
        p: float = 1.0,
    ) -> None:
        super().__init__(std, snr_db=snr_db, mono=mono, clip=clip, p=p, width=width)

    @classmethod
    def example(cls) -> UniformNoise:
        return cls(width=(0.05, 0.3))


class PinkNoise(_AdditiveNoise):
    """Additive ``1/f`` noise: amplitude spectrum ``1 / f ** exponent`` (1 = natural-image statistics).

    Each item's field is normalised to zero mean and unit std, then scaled by ``std``
    (or the std that gives ``snr_db``).
    """

    name = "pink_noise"
    _kind = "pink"

    def __init__(
        self,
        std: SpecLike | None = None,
        *,
        snr_db: SpecLike | None = None,
        exponent: float = 1.0,
        mono: bool = False,
        clip: bool = True,
        p: float = 1.0,
    ) -> None:
        from ..params import check_number

        self.exponent = float(check_number("exponent", exponent, low=0.0, high=4.0))
        super().__init__(std, snr_db=snr_db, mono=mono, clip=clip, p=p)

    def _exponent(self) -> float:
        return self.exponent

    @classmethod
    def example(cls) -> PinkNoise:
        return cls(snr_db=(0.0, 20.0), mono=True)


class SaltPepperNoise(Operator):
    """Set a fraction ``amount`` of the pixels to white (salt) or black (pepper), all channels alike.

    ``salt`` is the fraction of the affected pixels that turn white.  Values stay in [0, 1].
    """

    name = "salt_pepper_noise"
    cue_controls = APPEARANCE
    differentiable = True

    def __init__(self, amount: SpecLike = 0.05, *, salt: SpecLike = 0.5, p: float = 1.0) -> None:
        self._amount = as_spec("amount", amount, low=0.0, high=1.0)
        self._salt = as_spec("salt", salt, low=0.0, high=1.0)
        super().__init__(p=p)

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> dict[str, Column]:
        return {"amount": self.draw(draws, self._amount), "salt": self.draw(draws, self._salt), "seed": draws.seeds()}

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        out = salt_pepper_noise(stim.images, [p["amount"] for p in params], [p["salt"] for p in params], [int(p["seed"]) for p in params])
        return stim.replace(images=out)

    @classmethod
    def example(cls) -> SaltPepperNoise:
        return cls(amount=(0.01, 0.2), salt=(0.2, 0.8))


OPERATORS: tuple[type[Operator], ...] = (GaussianNoise, UniformNoise, SaltPepperNoise, PinkNoise)
