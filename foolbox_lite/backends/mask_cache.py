"""A cache of computed masks keyed by the image's content and the method's settings.

Keys are sha256 digests of the image's uint8 RGB bytes and shape plus a JSON of the
method, model hash and clean-up settings, so a change of any of them is a miss.
Entries are 8-bit PNGs written atomically (temp name + rename): a crash never
leaves a half-written entry, and an unreadable entry is treated as a miss and
rewritten.  Masks are quantised to 1/255 before caching, so a hit returns exactly
what a fresh computation would.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..files import atomic_open, sha256_parts, sha256_text
from .model_store import home

__all__ = ["image_digest", "mask_key", "MaskCache", "default_cache_dir", "recipe_cache"]


def default_cache_dir() -> Path:
    """``$FOOLBOX_LITE_HOME/cache/masks``."""
    return home() / "cache" / "masks"


def recipe_cache(value: Any) -> Any:
    """A recipe's ``cache:`` value, confined: ``true``/``false`` as they are; a folder only inside
    ``$FOOLBOX_LITE_HOME/cache`` (a relative name is taken there), so a shared recipe cannot write anywhere else."""
    from ..errors import ParameterError, short_repr
    from ..stimulus_set.safe_paths import is_inside

    if value is None or isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"cache must be true, false or a folder name, got {short_repr(value)}")
    root = home() / "cache"
    path = Path(value).expanduser()
    path = path if path.is_absolute() else root / path
    if not is_inside(root, path):
        raise ParameterError(f"cache folder {short_repr(value)} lies outside $FOOLBOX_LITE_HOME/cache",
                             hint="a recipe's cache is true (the default folder) or a folder name inside $FOOLBOX_LITE_HOME/cache")
    return str(path)


def image_digest(rgb: np.ndarray) -> str:
    """sha256 of an ``(H, W, 3)`` uint8 image's shape and bytes."""
    return sha256_parts(f"{rgb.shape}|{rgb.dtype}", np.ascontiguousarray(rgb).tobytes())


def mask_key(digest: str, settings: Mapping[str, Any]) -> str:
    """The cache key of an image digest under ``settings`` (method, model hash, clean-up...)."""
    blob = json.dumps({"image": digest, **settings}, sort_keys=True, separators=(",", ":"))
    return sha256_text(blob)


class MaskCache:
    """Masks by key: an in-memory LRU of ``capacity`` entries, backed by PNGs in ``folder`` when given."""

    def __init__(self, folder: str | os.PathLike[str] | None = None, capacity: int = 256) -> None:
        self.folder = Path(folder).expanduser() if folder is not None else None
        self.capacity = int(capacity)
        self._mem: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _file(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.png"

    def get(self, key: str) -> np.ndarray | None:
        """The cached ``(H, W)`` float32 mask, or ``None``."""
        if key in self._mem:
            self._mem.move_to_end(key)
            self.hits += 1
            return self._mem[key].copy()
        if self.folder is not None:
            p = self._file(key)
            if p.is_file():
                from PIL import Image, UnidentifiedImageError

                try:
                    with Image.open(p) as im:
                        arr = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
                except (OSError, UnidentifiedImageError, SyntaxError):
                    p.unlink(missing_ok=True)  # a damaged entry is a miss
                else:
                    self._remember(key, arr)
                    self.hits += 1
                    return arr.copy()
        self.misses += 1
        return None

    def put(self, key: str, mask: np.ndarray) -> None:
        """Store a quantised ``(H, W)`` mask in [0, 1]."""
        arr = np.asarray(mask, dtype=np.float32)
        self._remember(key, arr)
        if self.folder is None:
            return
        from PIL import Image

        p = self._file(key)
        with atomic_open(p) as fh:
            Image.fromarray(np.rint(np.clip(arr, 0, 1) * 255).astype(np.uint8), "L").save(fh, format="PNG")

    def _remember(self, key: str, arr: np.ndarray) -> None:
        self._mem[key] = arr.copy()
        self._mem.move_to_end(key)
        while len(self._mem) > self.capacity:
            self._mem.popitem(last=False)

    def clear_memory(self) -> None:
        self._mem.clear()
