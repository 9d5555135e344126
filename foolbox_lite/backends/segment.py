"""One entry point for every mask method, with clean-up, the empty check and the cache.

``method`` is ``"rembg"`` (an ONNX segmenter, see :mod:`.rembg_masks`),
``"grabcut"`` or ``"threshold"`` (classical, no weights, see :mod:`.grabcut`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..assets.io import Fit, fit_image_and_mask, read_pil
from ..errors import ParameterError
from .grabcut import Box, grabcut_array, threshold_array, to_rgb_uint8
from .mask_cache import MaskCache, default_cache_dir, image_digest, mask_key
from .mask_cleanup import CleanupLike, as_cleanup, check_not_empty, clean_mask

__all__ = ["METHODS", "method_settings", "segment_array", "segment_photo", "cache_for"]

METHODS = ("rembg", "grabcut", "threshold")

_DEFAULT_CACHES: dict[str, MaskCache] = {}


def cache_for(cache: bool | str | os.PathLike[str] | MaskCache | None) -> MaskCache | None:
    """``True`` -> the default on-disk cache, a path -> a cache there, ``False``/``None`` -> none."""
    if isinstance(cache, MaskCache):
        return cache
    if cache is None or cache is False:
        return None
    folder = default_cache_dir() if cache is True else os.fspath(cache)
    key = str(folder)
    if key not in _DEFAULT_CACHES:
        _DEFAULT_CACHES[key] = MaskCache(folder)
    return _DEFAULT_CACHES[key]


def method_settings(
    method: str,
    *,
    model: str | os.PathLike[str] = "u2netp",
    box: Box | None = None,
    margin: float = 0.1,
    iterations: int = 5,
    threshold: float | None = None,
    cleanup: CleanupLike = True,
) -> dict[str, Any]:
    """The JSON description of a method's settings (part of the cache key; model by its sha256)."""
    if method not in METHODS:
        raise ParameterError(f"parameter 'method' = {method!r} is not one of {list(METHODS)}")
    s: dict[str, Any] = {"method": method, "cleanup": as_cleanup(cleanup).to_dict()}
    if method == "rembg":
        from .rembg_masks import model_hashes

        (label, digest), = model_hashes(model).items()
        s.update(model=label, model_sha256=digest)
    elif method == "grabcut":
        s.update(box=list(box) if box is not None else None, margin=margin, iterations=iterations)
    else:
        s.update(threshold=threshold)
    return s


def segment_array(
    rgb: np.ndarray,
    settings: Mapping[str, Any],
    *,
    model: str | os.PathLike[str] | None = None,
    cache: MaskCache | None = None,
    what: str = "the image",
) -> np.ndarray:
    """The cleaned ``(H, W)`` float32 mask of an ``(H, W, 3)`` uint8 image under ``settings``.

    Cached by image digest and settings; an empty mask raises
    :class:`~foolbox_lite.errors.AssetError` naming ``what`` and is never cached.
    """
    key = mask_key(image_digest(rgb), settings) if cache is not None else ""
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit
    method = settings["method"]
    if method == "rembg":
        from .rembg_masks import rembg_array

        raw = rembg_array(rgb, model if model is not None else settings["model"])
    elif method == "grabcut":
        raw = grabcut_array(rgb, settings["box"], margin=settings["margin"], iterations=settings["iterations"])
    else:
        raw = threshold_array(rgb, settings["threshold"])
    c = as_cleanup(settings["cleanup"])
    mask = clean_mask(raw, c)
    check_not_empty(mask, what, c.min_area)
    if cache is not None:
        cache.put(key, mask)
    return mask


def segment_photo(
    image: str | os.PathLike[str] | torch.Tensor,
    *,
    method: str = "rembg",
    model: str | os.PathLike[str] = "u2netp",
    box: Box | None = None,
    margin: float = 0.1,
    iterations: int = 5,
    threshold: float | None = None,
    cleanup: CleanupLike = True,
    size: int | tuple[int, int] | None = None,
    fit: Fit = "resize",
    cache: bool | str | os.PathLike[str] | MaskCache | None = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a photo (or take a ``(3, H, W)`` tensor) and segment it: ``(image (3, H, W), mask (1, H, W))``.

    The mask is computed at the photo's resolution; then image (bicubic) and mask
    (bilinear) are brought to ``size`` with ``fit``.
    """
    from PIL import Image

    settings = method_settings(method, model=model, box=box, margin=margin, iterations=iterations, threshold=threshold, cleanup=cleanup)
    if isinstance(image, torch.Tensor):
        rgb, what = to_rgb_uint8(image), "the given image tensor"
    else:
        rgb, what = np.asarray(read_pil(image).convert("RGB"), dtype=np.uint8).copy(), repr(str(image))
    mask = segment_array(rgb, settings, model=model, cache=cache_for(cache), what=what)
    im = Image.fromarray(rgb, "RGB")
    m = Image.fromarray(np.rint(mask * 255).astype(np.uint8), "L")
    img_u8, m_u8 = fit_image_and_mask(im, m, size, fit, mask_mode="gray")
    return img_u8.float().div_(255.0), m_u8.float().div_(255.0)  # type: ignore[union-attr]
