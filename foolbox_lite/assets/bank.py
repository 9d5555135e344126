"""The built-in asset bank: textures, shapes, backgrounds and photos addressed by name.

``get_asset("zebra").image(224, seed=3)`` renders the procedural zebra coat;
``get_asset("toilet_seat").mask(224)`` is the drawn toilet-seat silhouette.  The
list of assets and their labels, licences and provenance is the manifest
``manifest.yaml`` of the data package :mod:`foolbox_lite.bank` (the repository's
``stimuli/`` folder); the pixels come from code (procedural generators, vector
drawings) or from photos shipped with scikit-image.

Run ``python -m foolbox_lite.assets.bank --previews`` to re-render the preview PNGs.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import yaml

from ..errors import AssetError, ParameterError
from ..files import sha256_file, sha256_text
from . import photos, silhouettes
from .io import load_image, load_mask, save_image
from .procedural import GENERATORS, list_generators, render

__all__ = ["KINDS", "Asset", "get_asset", "list_assets", "load_manifest", "render_previews"]

#: The kinds of asset in the bank.
KINDS = ("texture", "shape", "background", "photo")
#: Where the manifest lives inside the data package.
MANIFEST = "manifest.yaml"
_SOURCES = ("procedural", "background", "shape", "skimage", "file")


@dataclass(frozen=True)
class Asset:
    """One asset of the bank: its labels and licence, and how to render it at any size."""

    name: str
    kind: str
    wnid: str | None
    label: str | None
    category: str | None
    licence: str
    provenance: str
    #: ``procedural:<gen>``, ``background:<gen>``, ``shape:<name>``, ``skimage:<name>`` or ``file:<path>``.
    source: str = ""
    aliases: tuple[str, ...] = ()
    #: Path of the preview PNG inside the bank (``None`` when there is none).
    preview: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def source_kind(self) -> str:
        return self.source.split(":", 1)[0]

    @property
    def source_name(self) -> str:
        return self.source.split(":", 1)[1]

    def image(self, size: int | tuple[int, int], seed: int = 0, device: torch.device | str = "cpu") -> torch.Tensor:
        """The asset as float32 ``(3, H, W)`` in ``[0, 1]`` (``size`` an int or ``(H, W)``).

        Procedural assets are seeded by ``seed`` and resolution-free; shapes are
        black-on-white silhouettes; photos ignore ``seed``.
        """
        return _image_cached(self.source, _size(size), int(seed), str(device)).clone()

    def mask(self, size: int | tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor | None:
        """The object mask ``(1, H, W)`` (1 = object) for shapes and masked photos; ``None`` otherwise."""
        m = _mask_cached(self.source, _size(size), str(device))
        return None if m is None else m.clone()

    def sha256(self) -> str:
        """A hash identifying the asset's content and version, for manifests of stimulus sets.

        Files: the file's SHA-256; scikit-image photos: the hash of their pixel array;
        generated assets: the hash of ``(source, generator version)``.
        """
        kind, ref = self.source_kind, self.source_name
        if kind == "file":
            return sha256_file(_bank_file(ref))
        if kind == "skimage":
            return photos.skimage_sha256(ref)
        v = GENERATORS[ref].version if kind in ("procedural", "background") else silhouettes.SHAPES[ref].version
        return sha256_text(f"foolbox-lite asset {self.source} version {v}")

    def to_dict(self) -> dict[str, Any]:
        """The manifest fields, plus the content hash."""
        return {
            "name": self.name,
            "kind": self.kind,
            "wnid": self.wnid,
            "label": self.label,
            "category": self.category,
            "licence": self.licence,
            "provenance": self.provenance,
            "source": self.source,
            "sha256": self.sha256(),
        }


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, bool):
        raise ParameterError(f"size must be an int or (H, W), got {size!r}")
    if isinstance(size, int):
        return (size, size)
    if isinstance(size, Sequence) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in size):
        return (int(size[0]), int(size[1]))
    raise ParameterError(f"size must be an int or (H, W), got {size!r}", hint="for example size=224 or size=(224, 320)")


def _bank_file(rel: str) -> Path:
    p = Path(str(resources.files("foolbox_lite.bank").joinpath(rel)))
    if not p.is_file():
        raise AssetError(f"asset bank file {rel!r} is missing from {p.parent}", hint="reinstall foolbox-lite")
    return p


@lru_cache(maxsize=32)
def _image_cached(source: str, size: tuple[int, int], seed: int, device: str) -> torch.Tensor:
    kind, ref = source.split(":", 1)
    if kind in ("procedural", "background"):
        return render(GENERATORS[ref], size, seed, device)
    if kind == "shape":
        return silhouettes.shape_image(ref, size, device)
    if kind == "skimage":
        return photos.skimage_image(ref, size).to(device)
    return load_image(_bank_file(ref), size).to(device)


@lru_cache(maxsize=32)
def _mask_cached(source: str, size: tuple[int, int], device: str) -> torch.Tensor | None:
    kind, ref = source.split(":", 1)
    if kind == "shape":
        return silhouettes.shape_mask(ref, size, device)
    if kind == "skimage":
        m = photos.skimage_mask(ref, size)
        return None if m is None else m.to(device)
    if kind == "file" and ref.endswith(".png"):
        return load_mask(_bank_file(ref), size, mode="alpha").to(device)
    return None


# ----------------------------------------------------------------------------- manifest
def _check_entry(e: Any, i: int) -> Asset:
    where = f"{MANIFEST} entry {i}"
    if not isinstance(e, dict):
        raise AssetError(f"{where} is not a mapping")
    known = {"name", "kind", "source", "wnid", "label", "category", "licence", "provenance", "preview", "aliases"}
    extra = set(e) - known
    if extra:
        raise AssetError(f"{where} ({e.get('name')!r}) has unknown keys {sorted(extra)}", hint=f"valid keys: {sorted(known)}")
    for key in ("name", "kind", "source", "licence", "provenance"):
        if not isinstance(e.get(key), str) or not e[key]:
            raise AssetError(f"{where} ({e.get('name')!r}): {key!r} must be a non-empty string")
    if e["kind"] not in KINDS:
        raise AssetError(f"{where} ({e['name']!r}): kind {e['kind']!r} is not one of {', '.join(KINDS)}")
    src_kind, _, ref = e["source"].partition(":")
    if src_kind not in _SOURCES or not ref:
        raise AssetError(f"{where} ({e['name']!r}): source {e['source']!r} must be one of {', '.join(s + ':NAME' for s in _SOURCES)}")
    names = {"procedural": list_generators("texture"), "background": list_generators("background"), "shape": list(silhouettes.SHAPES)}.get(src_kind)
    if names is not None and ref not in names:
        raise AssetError(f"{where} ({e['name']!r}): no {src_kind} generator {ref!r} in the code")
    if src_kind == "skimage" and ref not in photos.SKIMAGE_PHOTOS:
        raise AssetError(f"{where} ({e['name']!r}): {ref!r} is not a supported scikit-image photo")
    return Asset(
        name=e["name"],
        kind=e["kind"],
        wnid=e.get("wnid"),
        label=e.get("label"),
        category=e.get("category"),
        licence=e["licence"],
        provenance=e["provenance"],
        source=e["source"],
        aliases=tuple(e.get("aliases") or ()),
        preview=e.get("preview"),
    )


@lru_cache(maxsize=1)
def load_manifest() -> dict[str, Asset]:
    """Every asset of the bank by name, read from the bank's ``manifest.yaml`` (cached)."""
    try:
        text = resources.files("foolbox_lite.bank").joinpath(MANIFEST).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise AssetError(f"the asset bank manifest {MANIFEST} is missing", hint="reinstall foolbox-lite") from exc
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or data.get("schema") != 1 or not isinstance(data.get("assets"), list):
        raise AssetError(f"{MANIFEST} must be a mapping with schema: 1 and a list of assets")
    out: dict[str, Asset] = {}
    for i, e in enumerate(data["assets"]):
        a = _check_entry(e, i)
        for key in (a.name, *a.aliases):
            if key in out:
                raise AssetError(f"{MANIFEST}: the name {key!r} is used twice")
            out[key] = a
    return out


def get_asset(name: str) -> Asset:
    """The asset called ``name`` (or one of its aliases, e.g. ``chair`` for ``rocking_chair``).

    Unknown names raise :class:`AssetError` listing the nearest known names.
    """
    if not isinstance(name, str):
        raise AssetError(f"asset names are strings, got {name!r}")
    bank = load_manifest()
    if name in bank:
        return bank[name]
    near = difflib.get_close_matches(name, list(bank), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(near)}?" if near else "list the names with foolbox_lite.assets.bank.list_assets()"
    raise AssetError(f"unknown asset {name!r}", hint=hint)


def list_assets(kind: str | None = None) -> list[str]:
    """Names of the assets in the bank (without aliases), of one ``kind`` or all, sorted."""
    if kind is not None and kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)} or None, got {kind!r}")
    return sorted({a.name for a in load_manifest().values() if kind is None or a.kind == kind})


# ----------------------------------------------------------------------------- previews
def render_previews(folder: str | Path | None = None, size: int = 128) -> list[Path]:
    """Render the preview PNG of every generated asset into ``folder`` (default: the bank itself)."""
    root = Path(str(resources.files("foolbox_lite.bank"))) if folder is None else Path(folder)
    out = []
    for name in list_assets():
        a = get_asset(name)
        if a.preview is None or a.source_kind in ("skimage", "file"):
            continue
        out.append(save_image(a.image(size, seed=0), root / a.preview))
    return out


def _main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m foolbox_lite.assets.bank", description="List the asset bank or re-render its previews.")
    ap.add_argument("--previews", action="store_true", help="re-render the preview PNGs into the bank folder")
    ap.add_argument("--size", type=int, default=128)
    args = ap.parse_args(argv)
    if args.previews:
        for p in render_previews(size=args.size):
            print(p)
        return
    for name in list_assets():
        a = get_asset(name)
        print(f"{a.name:20s} {a.kind:10s} {a.wnid or '-':10s} {a.label or '-'}")


if __name__ == "__main__":
    _main()
