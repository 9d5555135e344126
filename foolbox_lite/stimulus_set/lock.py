"""``recipe.lock.yaml``: the resolved recipe, the asset hashes, and everything that may change bytes.

The same recipe gives the same bytes with the same versions of foolbox-lite,
torch, kornia, numpy, Pillow (and its zlib) on the same kind of device.  Another
torch version, another CPU instruction set (BLAS kernels), or a GPU instead of
the CPU can change floating-point results in the last bit and therefore the
8-bit images and their PNG bytes; another zlib changes PNG bytes but not pixels.
The lock file records all of these, and ``build_key`` summarises the ones a
``--resume`` must match.
"""

from __future__ import annotations

import functools
import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from ..files import sha256_text
from .writer import LOCK, write_atomic

__all__ = ["LOCK", "REPRODUCIBILITY", "build_key", "device_info", "read_lock", "versions", "write_lock"]

REPRODUCIBILITY = (
    "Images and manifest are byte-identical for the same recipe, asset bytes, package versions "
    "(foolbox-lite, torch, kornia, numpy, OpenCV, Pillow/zlib) and device type, whatever the batch size or "
    "number of workers (torch runs with one intra-op thread during a build, so the core count does not matter either). Another torch version, CPU instruction set or a GPU instead of the CPU may "
    "change the last bit of floating-point results and so some pixels; another OpenCV release can change "
    "warped pixels by more (OpenCV 4.x warps in 1/32-px steps, OpenCV 5 at float positions); another zlib changes "
    "PNG bytes but not pixels."
)

_PACKAGES = ("foolbox-lite", "torch", "kornia", "numpy", "pillow", "opencv-python-headless", "scikit-image", "pydantic", "pyyaml", "albumentations")


def versions() -> dict[str, str]:
    """Versions of the packages that can change the bytes of a build (a fresh dict)."""
    return dict(_versions())


@functools.lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    """Read once per process: each ``metadata.version`` parses a package's METADATA (~1 ms each)."""
    out: dict[str, str] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    import zlib

    out["zlib"] = zlib.ZLIB_RUNTIME_VERSION
    return out


def device_info(device: str) -> dict[str, Any]:
    import torch

    dev = torch.device(device)
    info: dict[str, Any] = {"type": dev.type, "platform": f"{platform.system()}-{platform.machine()}", "torch_threads": 1}
    if dev.type == "cuda":
        info["name"] = torch.cuda.get_device_name(dev)
        info["cuda"] = torch.version.cuda
    else:
        info["byteorder"] = sys.byteorder
    return info


def build_key(recipe_text: str, assets: dict[str, list[dict[str, Any]]], vers: dict[str, str], device: dict[str, Any]) -> str:
    """A hash of everything that determines the bytes of a build (what ``--resume`` must match)."""
    key = {"recipe": recipe_text, "assets": assets, "versions": {k: v for k, v in vers.items() if k != "python"}, "device": device}
    return sha256_text(json.dumps(key, sort_keys=True))


def write_lock(folder: Path, lock: dict[str, Any]) -> Path:
    text = "# Written by foolbox-lite build: the resolved recipe and what may change its bytes.\n"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the C emitter is ~10x faster; same text
    text += yaml.dump(lock, Dumper=dumper, sort_keys=True, allow_unicode=True, width=100)
    write_atomic(folder / LOCK, text.encode("utf-8"), fsync=True)
    return folder / LOCK


def read_lock(folder: Path) -> dict[str, Any]:
    p = folder / LOCK
    if not p.is_file():
        raise InputError(f"{str(folder)!r} has no {LOCK}", hint="it was not built by 'foolbox-lite build'; use --force to overwrite it")
    try:
        from ..recipes.yaml_guard import StrictLoader, load_yaml

        data = load_yaml(p.read_text(encoding="utf-8"), str(p), loader_class=StrictLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{str(p)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{str(p)!r} is not a lock file")
    return data
