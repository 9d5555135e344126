"""Per-item layers of a stimulus set beside the images: the final foreground mask.

A set built from assets with masks stores each item's mask after every warp and
composite as ``masks/<id>.png``: an 8-bit greyscale PNG, 255 = object, 0 = scene
(soft edges in between), zlib level 1 whatever the recipe's ``png_compression`` (masks are flat).  The manifest names it with its sha256 in the entry's
``layers``: ``{"mask": {"file": "masks/<id>.png", "sha256": "<hex>"}}``.
Sets without masks (photos without segmentation) simply omit the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..files import sha256_bytes, sha256_file
from .png import encode_mask
from .writer import MASKS, write_atomic

__all__ = ["MASK_LAYER", "MASKS", "mask_file", "mask_u8", "read_mask", "write_mask"]

#: The mask layer's name in the manifest (its files live in the ``masks/`` folder).
MASK_LAYER = "mask"


def mask_u8(masks: torch.Tensor) -> torch.Tensor:
    """Soft masks ``(B, 1, H, W)`` in ``[0, 1]`` -> uint8 ``(B, H, W)`` on the CPU (255 = object)."""
    return masks.detach().to("cpu", torch.float32)[:, 0].clamp(0, 1).mul(255.0).round_().to(torch.uint8)


def mask_file(item_id: str) -> str:
    return f"{MASKS}/{item_id}.png"


def write_mask(folder: Path, item_id: str, mask: np.ndarray) -> dict[str, str]:
    """Write one uint8 ``(H, W)`` mask atomically as ``masks/<id>.png``; its manifest layer entry."""
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise InputError(f"mask of item {item_id!r} must be uint8 (H, W), got {mask.dtype} {mask.shape}")
    data = encode_mask(mask)
    rel = mask_file(item_id)
    write_atomic(folder / rel, data)  # makes masks/ when it is missing
    return {"file": rel, "sha256": sha256_bytes(data)}


def read_mask(folder: str | Path, layers: Mapping[str, Any] | None, item_id: str, *, verify: bool = True) -> np.ndarray:
    """The item's mask as float32 ``(H, W)`` in ``[0, 1]`` (1 = object); a clear error if it has none."""
    from PIL import Image

    folder = Path(folder)
    spec = (layers or {}).get(MASK_LAYER)
    if not spec:
        raise InputError(
            f"item {item_id!r} of {str(folder)!r} has no mask layer",
            hint="rebuild the set with this version of foolbox-lite (build writes masks/<id>.png), or pass --no-spatial",
        )
    p = folder / str(spec["file"])
    if not p.is_file():
        raise InputError(f"mask {spec['file']!r} of item {item_id!r} is missing", hint="rebuild the set (foolbox-lite build --resume restores it)")
    if verify and sha256_file(p) != spec.get("sha256"):
        raise InputError(f"mask {spec['file']!r} of item {item_id!r} does not match its sha256 in the manifest", hint="rebuild the set (foolbox-lite build --resume restores it)")
    with Image.open(p) as im:
        arr = np.asarray(im.convert("L"), dtype=np.float32)
    return arr / 255.0
