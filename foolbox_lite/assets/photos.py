"""Sample photos that ship inside installed packages (scikit-image's ``skimage.data``).

scikit-image is the optional extra ``photos`` and is imported only when a photo is
loaded.  Only images bundled with the wheel are used (no download): chelsea,
coffee, astronaut, rocket, horse, brick, grass, gravel.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from ..errors import AssetError
from ..files import sha256_parts
from .io import fit_mask_u8, fit_pil

__all__ = ["SKIMAGE_PHOTOS", "skimage_array", "skimage_image", "skimage_mask", "skimage_sha256"]

#: Names of the bundled scikit-image images this package exposes as ``skimage:<name>``.
SKIMAGE_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "horse", "brick", "grass", "gravel")


@lru_cache(maxsize=len(SKIMAGE_PHOTOS))
def skimage_array(name: str) -> np.ndarray:
    """The raw array of ``skimage.data.<name>`` (uint8 or bool), read-only and cached."""
    if name not in SKIMAGE_PHOTOS:
        raise AssetError(f"unknown scikit-image photo {name!r}", hint=f"one of {', '.join(SKIMAGE_PHOTOS)}")
    try:
        import skimage.data as skd
    except ImportError as exc:
        raise AssetError(
            f"the photo 'skimage:{name}' needs scikit-image, which is not installed",
            hint="pip install 'foolbox-lite[photos]' (or pip install scikit-image)",
        ) from exc
    try:
        arr = np.asarray(getattr(skd, name)())
    except Exception as exc:  # a broken or partial scikit-image install
        raise AssetError(f"scikit-image could not load its sample image {name!r}: {exc}", hint="reinstall scikit-image") from exc
    arr.setflags(write=False)
    return arr


def _pil(name: str) -> Image.Image:
    arr = skimage_array(name)
    if arr.dtype == bool:
        arr = np.where(arr, 255, 0).astype(np.uint8)  # the horse: True = white background, False = the black horse
    if arr.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(arr), mode="L").convert("RGB")
    return Image.fromarray(np.ascontiguousarray(arr[..., :3]), mode="RGB")


def _fit(name: str) -> str:
    """Silhouettes are letterboxed (never cut); photos are centre-cropped to the requested aspect."""
    return "pad" if skimage_array(name).dtype == bool else "crop"


def skimage_image(name: str, size: int | tuple[int, int]) -> torch.Tensor:
    """``skimage.data.<name>`` as float32 ``(3, H, W)`` in ``[0, 1]``, brought to ``size``.

    Photos are centre-cropped to the aspect; the horse silhouette is padded with white.
    """
    im = fit_pil(_pil(name), size, _fit(name), fill=(255, 255, 255))  # type: ignore[arg-type]
    return torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255.0)


def skimage_mask(name: str, size: int | tuple[int, int]) -> torch.Tensor | None:
    """The object mask ``(1, H, W)`` of photos that have one (the horse silhouette), else ``None``."""
    arr = skimage_array(name)
    if arr.dtype != bool:
        return None
    m = Image.fromarray(np.where(arr, 0, 255).astype(np.uint8), mode="L")  # False (black) is the horse
    return fit_mask_u8(m, size, _fit(name)).float().div_(255.0)  # type: ignore[arg-type]


def skimage_sha256(name: str) -> str:
    """SHA-256 of the photo's pixel array (shape, dtype and bytes): identifies its content across versions."""
    arr = skimage_array(name)
    return sha256_parts(f"{arr.dtype.str}{arr.shape}", np.ascontiguousarray(arr).tobytes())
