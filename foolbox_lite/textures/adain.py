"""Optional neural style transfer with adaptive instance normalisation (Huang & Belongie, ICCV 2017).

Encoder: VGG-19 up to ``relu4_1``; decoder: its mirror.  The weights are the
user's: the state dicts of the public pytorch-AdaIN release, ``vgg_normalised.pth``
(an ``nn.Sequential`` whose layers 0..30 are the encoder; later layers are ignored)
and ``decoder.pth``.  Nothing is downloaded; missing files are a :class:`ModelError`
that says what to supply.  The networks run functionally (``F.conv2d`` on the loaded
tensors), so nothing here touches the global random state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import ModelError

__all__ = [
    "DECODER_LAYERS",
    "ENCODER_LAYERS",
    "WeightsLike",
    "adain",
    "decode",
    "encode",
    "load_adain_weights",
    "random_adain_weights",
    "style_transfer",
]

WeightsLike = str | os.PathLike | Mapping[str, torch.Tensor]

# (kind, index in the nn.Sequential, in channels, out channels): the pytorch-AdaIN layouts.
ENCODER_LAYERS: tuple[tuple[str, int, int, int], ...] = (
    ("conv1", 0, 3, 3), ("conv", 2, 3, 64), ("conv", 5, 64, 64), ("pool", 7, 0, 0),
    ("conv", 9, 64, 128), ("conv", 12, 128, 128), ("pool", 14, 0, 0),
    ("conv", 16, 128, 256), ("conv", 19, 256, 256), ("conv", 22, 256, 256), ("conv", 25, 256, 256), ("pool", 27, 0, 0),
    ("conv", 29, 256, 512),
)
DECODER_LAYERS: tuple[tuple[str, int, int, int], ...] = (
    ("conv", 1, 512, 256), ("up", 3, 0, 0), ("conv", 5, 256, 256), ("conv", 8, 256, 256), ("conv", 11, 256, 256),
    ("conv", 14, 256, 128), ("up", 16, 0, 0), ("conv", 18, 128, 128), ("conv", 21, 128, 64), ("up", 23, 0, 0),
    ("conv", 25, 64, 64), ("last", 28, 64, 3),
)
_HINT = ("supply the state dicts of the pytorch-AdaIN release (github.com/naoto0804/pytorch-AdaIN, models/vgg_normalised.pth "
         "and models/decoder.pth) as encoder=PATH, decoder=PATH; foolbox-lite downloads no weights")


def _expected(layers: tuple[tuple[str, int, int, int], ...]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for kind, i, cin, cout in layers:
        if kind in ("conv", "conv1", "last"):
            k = 1 if kind == "conv1" else 3
            out[f"{i}.weight"] = (cout, cin, k, k)
            out[f"{i}.bias"] = (cout,)
    return out


def _load(src: WeightsLike, what: str, layers: tuple[tuple[str, int, int, int], ...]) -> dict[str, torch.Tensor]:
    if isinstance(src, (str, os.PathLike)):
        p = Path(src)
        if not p.is_file():
            raise ModelError(f"AdaIN {what} weights file {str(p)!r} does not exist", hint=_HINT)
        try:
            sd = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelError(f"AdaIN {what} weights file {str(p)!r} cannot be read as a torch state dict: {exc}", hint=_HINT) from exc
    elif isinstance(src, Mapping):
        sd = src
    else:
        raise ModelError(f"AdaIN {what} weights must be a file path or a state dict, got {type(src).__name__}", hint=_HINT)
    out = {}
    for key, shape in _expected(layers).items():
        t = sd.get(key) if isinstance(sd, Mapping) else None
        if not isinstance(t, torch.Tensor):
            raise ModelError(f"AdaIN {what} weights have no tensor {key!r} (is this the {what} file?)", hint=_HINT)
        if tuple(t.shape) != shape:
            raise ModelError(f"AdaIN {what} weight {key!r} has shape {tuple(t.shape)}, expected {shape}", hint=_HINT)
        out[key] = t.detach().to(torch.float32).clone()
    return out


def load_adain_weights(encoder: WeightsLike | None, decoder: WeightsLike | None) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Read and check the encoder and decoder state dicts (paths or dicts); a clear error when absent or wrong."""
    if encoder is None or decoder is None:
        missing = " and ".join(n for n, v in (("encoder", encoder), ("decoder", decoder)) if v is None)
        raise ModelError(f"AdaIN style transfer needs {missing} weights", hint=_HINT)
    return _load(encoder, "encoder", ENCODER_LAYERS), _load(decoder, "decoder", DECODER_LAYERS)


def random_adain_weights(seed: int = 0) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Randomly initialised encoder/decoder state dicts in the right layout (for tests and examples only)."""
    g = torch.Generator().manual_seed(seed)
    dicts = []
    for layers in (ENCODER_LAYERS, DECODER_LAYERS):
        sd = {}
        for key, shape in _expected(layers).items():
            if key.endswith("weight"):
                fan_in = shape[1] * shape[2] * shape[3]
                sd[key] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
            else:
                sd[key] = torch.zeros(shape)
        dicts.append(sd)
    return dicts[0], dicts[1]


def _conv(x: torch.Tensor, sd: Mapping[str, torch.Tensor], i: int, pad: bool) -> torch.Tensor:
    w, b = sd[f"{i}.weight"].to(x.device, x.dtype), sd[f"{i}.bias"].to(x.device, x.dtype)
    if pad:
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
    return F.conv2d(x, w, b)


def encode(x: torch.Tensor, enc: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``(B, 3, H, W)`` in ``[0, 1]`` -> relu4_1 features ``(B, 512, H/8, W/8)``."""
    for kind, i, _, _ in ENCODER_LAYERS:
        if kind == "conv1":
            x = _conv(x, enc, i, pad=False)
        elif kind == "conv":
            x = F.relu(_conv(x, enc, i, pad=True))
        else:
            x = F.max_pool2d(x, 2, 2, ceil_mode=True)
    return x


def decode(t: torch.Tensor, dec: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """relu4_1 features -> image ``(B, 3, 8h, 8w)`` (not clipped)."""
    for kind, i, _, _ in DECODER_LAYERS:
        if kind == "up":
            t = F.interpolate(t, scale_factor=2.0, mode="nearest")
        elif kind == "conv":
            t = F.relu(_conv(t, dec, i, pad=True))
        else:
            t = _conv(t, dec, i, pad=True)
    return t


def adain(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Adaptive instance normalisation: ``content`` features with the per-channel mean/std of ``style``'s."""
    c_mean = content.mean(dim=(2, 3), keepdim=True)
    s_mean = style.mean(dim=(2, 3), keepdim=True)
    c_std = (content.flatten(2).var(dim=2, unbiased=True) + eps).sqrt()[..., None, None]
    s_std = (style.flatten(2).var(dim=2, unbiased=True) + eps).sqrt()[..., None, None]
    return (content - c_mean) / c_std * s_std + s_mean


def style_transfer(
    content: torch.Tensor, style: torch.Tensor, enc: Mapping[str, torch.Tensor], dec: Mapping[str, torch.Tensor], alpha: float = 1.0
) -> torch.Tensor:
    """``content`` rendered in the style of ``style`` (both ``(B, 3, H, W)``): ``(B, 3, H, W)`` clipped to ``[0, 1]``.

    ``alpha`` in ``[0, 1]`` mixes the stylised features with the content's (1 = full style).
    The decoder's output, which is unbounded, is clipped to ``[0, 1]`` as in the reference code,
    and resized back to ``H x W`` when the sides are not multiples of 8.
    """
    n = content.shape[0]
    feats = encode(torch.cat([content, style]), enc)  # one encoder pass for both
    fc, fs = feats[:n], feats[n:]
    t = alpha * adain(fc, fs) + (1 - alpha) * fc
    out = decode(t, dec)
    if out.shape[-2:] != content.shape[-2:]:
        out = F.interpolate(out, size=content.shape[-2:], mode="bilinear", align_corners=False)
    return out.clamp(0, 1)
