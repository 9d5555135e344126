"""Resolving a recipe's ``assets:`` into concrete, hashed images (and masks).

Each named entry becomes a list of :class:`RecipeAsset` (a glob or a list of
built-ins gives several).  Files are read and checked when resolved, so a
missing, unreadable or truncated image fails before anything is written; fitted
images are cached as uint8 (memory bounded by the number of assets, not of items).
"""

from __future__ import annotations

import glob as _glob
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..assets.bounded_glob import bounded_glob, check_utf8_name
from ..assets.io import fit_image_and_mask, fit_image_u8, mask_from_pil, read_image_and_mask
from ..assets.procedural import GENERATORS, list_generators
from ..errors import AssetError, FoolboxLiteError, ParameterError
from ..files import sha256_file, sha256_parts, sha256_text
from ..stimulus_set.safe_paths import not_a_file
from .load import canonical_label
from .schema import AssetSpec, Recipe

__all__ = ["MAX_ASSET_FILES", "RecipeAsset", "resolve_assets"]

#: A glob matching more files than this is refused (likely a mistake such as ``/**/*``).
MAX_ASSET_FILES = 100_000

Loader = Callable[[tuple[int, int]], tuple[torch.Tensor, torch.Tensor | None]]


@dataclass
class RecipeAsset:
    """One concrete asset: its id, labels, licence and a loader of ``(image (3,H,W), mask (1,H,W) or None)``."""

    id: str
    name: str
    group: str
    kind: str | None
    sha256: str
    loader: Loader = field(repr=False)
    label: str | None = None
    wnid: str | None = None
    category: str | None = None
    licence: str = "unknown"
    provenance: str = ""
    citation: str = ""
    location: str = ""
    #: model files behind the asset (``{model: "sha256:..."}``), recorded in the lock file
    models: dict[str, str] = field(default_factory=dict)
    #: files the asset reads (image, mask, source image): refused inside a build's output folder
    files: list[Path] = field(default_factory=list, repr=False)
    _cache: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor | None]] = field(default_factory=dict, repr=False)

    def load(self, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(image uint8 (3,H,W), mask uint8 (1,H,W) or None)`` at ``size``, cached."""
        if size not in self._cache:
            img, mask = self.loader(size)
            self._cache[size] = (_to_u8(img), None if mask is None else _to_u8(mask))
        return self._cache[size]

    def image(self, size: tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor:
        """Float32 ``(3, H, W)`` in ``[0, 1]``."""
        return self.load(size)[0].to(device).float().div_(255.0)

    def mask(self, size: tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor | None:
        m = self.load(size)[1]
        return None if m is None else m.to(device).float().div_(255.0)

    def cue_label(self, label_space: str) -> str:
        """This asset's label in the set's label space (a wnid or a category name)."""
        if self.label is not None:
            return canonical_label(self.label, label_space)
        if label_space == "imagenet1k" and self.wnid:
            return self.wnid
        if label_space != "imagenet1k" and self.category:
            return canonical_label(self.category, label_space)
        raise ParameterError(
            f"asset {self.id!r} has no {label_space} label",
            hint=f"give it one in the recipe: assets: {{{self.group}: {{..., label: LABEL}}}} or label_from: parent",
        )

    def lock_entry(self) -> dict[str, Any]:
        d = {"id": self.id, "sha256": self.sha256, "kind": self.kind, "licence": self.licence}
        if self.location:
            d["location"] = self.location
        if self.models:
            d["models"] = dict(self.models)
        return d


def _to_u8(t: torch.Tensor) -> torch.Tensor:
    if t.dtype == torch.uint8:
        return t.contiguous()
    return t.detach().to("cpu", torch.float32).clamp(0, 1).mul(255.0).round_().to(torch.uint8).contiguous()


def _mask_rule(spec: AssetSpec, kind: str | None) -> tuple[Any, Any]:
    """``(mask_mode, own_mask)`` of :func:`~foolbox_lite.assets.io.fit_image_and_mask` for an asset's ``mask:``.

    ``none``: no mask of its own; ``auto``: its transparency (a shape: its silhouette); a mode: always that mode.
    """
    mode = "auto" if spec.mask in ("auto", "none") else spec.mask
    own = "never" if spec.mask == "none" else "alpha" if (spec.mask == "auto" and kind != "shape") else "always"
    return mode, own


def _file_loader(path: Path, mask_path: Path | None, spec: AssetSpec, kind: str | None) -> Loader:
    """A loader that decodes the file (and its mask file) and fits them to a size (the one loader's rule)."""
    mode, own = _mask_rule(spec, kind)

    def load(size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        im, mim = read_image_and_mask(path, mask_path)
        if spec.region is not None:
            return _region(im, mim, spec, str(path), size), None
        return fit_image_and_mask(im, mim, size, spec.fit, mode, own)  # type: ignore[arg-type]

    return load


def _region(im: Image.Image, mask: Image.Image | None, spec: AssetSpec, where: str, size: tuple[int, int]) -> torch.Tensor:
    """The texture patch ``spec.region`` cuts out of the photo ``im``, fitted to ``size`` (as ``Texture.from_region``).

    A box is in the photo's pixels; ``mask`` takes the largest rectangle inside the object
    (the mask file, else the photo's own mask by ``spec.mask``), so no background leaks in.
    """
    from ..textures.source import inscribed_box

    w, h = im.size
    if spec.region == "mask":
        m = mask if mask is not None else mask_from_pil(im, "auto" if spec.mask == "none" else spec.mask)
        inside = torch.from_numpy(np.asarray(m.convert("L")) > 127)
        if not bool(inside.any()):
            raise AssetError(f"{where}: region: mask, but the photo's mask is empty", hint="give masks: FILES, or a box region: [x0, y0, x1, y1]")
        x0, y0, x1, y1 = inscribed_box(inside)
    else:
        x0, y0, x1, y1 = spec.region  # type: ignore[misc]
        if x1 > w or y1 > h:
            raise AssetError(f"{where}: region {[x0, y0, x1, y1]} lies outside the {w}x{h} photo", hint=f"x1 <= {w} and y1 <= {h} (pixels, end exclusive)")
    return fit_image_u8(im.crop((x0, y0, x1, y1)), size, spec.fit)


def _label_from(path: Path, how: str | None) -> str | None:
    if how is None:
        return None
    if how == "parent":
        return path.parent.name
    if how == "stem":
        return path.stem
    if how == "stem_prefix":  # n02391049_zebra -> n02391049
        return path.stem.split("_", 1)[0]
    if how == "stem_letters":  # airplane3 -> airplane
        return re.sub(r"[^A-Za-z_ ]+$", "", path.stem) or path.stem
    raise ParameterError(f"unknown label_from {how!r}")


def _expand_files(patterns: str | list[str], folder: Path) -> list[tuple[Path, str]]:
    pats = [patterns] if isinstance(patterns, str) else list(patterns)
    out: list[tuple[Path, str]] = []
    for pat in pats:
        full = pat if Path(pat).is_absolute() else str(folder / pat)
        if _glob.has_magic(pat):
            hits = [Path(p) for p in bounded_glob(full, max_matches=MAX_ASSET_FILES) if Path(p).is_file()]
            if not hits:
                raise AssetError(f"no files match {pat!r} (looked in {str(folder)!r})", hint="paths are relative to the recipe file's folder")
        else:
            if not Path(full).is_file():
                raise AssetError(f"file {pat!r} {not_a_file(full)} (looked in {str(folder)!r})", hint="paths are relative to the recipe file's folder")
            hits = [Path(full)]
        for h in hits:
            check_utf8_name(h)
            out.append((h, pat))
        if len(out) > MAX_ASSET_FILES:
            raise AssetError(f"pattern {pat!r} matches more than {MAX_ASSET_FILES} files", hint="narrow the glob")
    return out


def _rel(path: Path, folder: Path, real: dict[Path, str] | None = None) -> str:
    """The path as the lock file shows it: relative to the recipe's folder, with ``..`` when outside it.

    Symbolic links are resolved as ``Path.resolve`` does; ``real`` caches the resolved folders, so
    a glob of many files in few folders costs one ``lstat`` per file, not one per path component.
    """
    import os

    real = {} if real is None else real

    def resolved(d: Path) -> str:
        if d not in real:
            real[d] = os.path.realpath(d)
        return real[d]

    full = os.path.join(resolved(path.parent), path.name)
    if os.path.islink(full):
        full = os.path.realpath(full)
    return os.path.relpath(full, resolved(folder)).replace("\\", "/")



def _resolve_files(group: str, spec: AssetSpec, folder: Path) -> list[RecipeAsset]:
    files = _expand_files(spec.files or [], folder)
    masks: list[Path | None] = [None] * len(files)
    if spec.masks is not None:
        mfiles = _expand_files(spec.masks, folder)
        if len(mfiles) != len(files):
            raise AssetError(f"asset {group!r}: {len(mfiles)} mask files for {len(files)} images", hint="masks must match files one to one (both sorted by name)")
        masks = [m for m, _ in mfiles]
    out = []
    real: dict[Path, str] = {}
    for (p, _), mp in zip(files, masks):
        loader = _file_loader(p, mp, spec, spec.kind)
        sha = sha256_file(p) if mp is None else sha256_text(sha256_file(p) + sha256_file(mp))
        rel = _rel(p, folder, real)
        out.append(
            RecipeAsset(
                id=f"file:{rel}", name=p.stem, group=group, kind=spec.kind, sha256=sha, loader=loader,
                label=spec.label if spec.label is not None else _label_from(p, spec.label_from),
                licence=spec.licence or "unknown (see the source)", provenance=spec.provenance or rel,
                citation=spec.citation or "", location=rel, files=[p] + ([mp] if mp is not None else []),
            )
        )
    return out  # decoded by resolve_assets, all files at once in threads


def _bank():
    try:
        from ..assets import bank
    except ImportError as exc:  # pragma: no cover - the bank ships with the package
        raise AssetError(f"the built-in asset bank is not available: {exc}") from None
    return bank


def _bank_names(pattern: str) -> list[str]:
    bank = _bank()
    if pattern.endswith(":*"):
        kind = pattern[:-2]
        listed = bank.list_assets(kind)
        return sorted(a if isinstance(a, str) else a.name for a in listed)
    return [pattern]


def _resolve_builtin(group: str, spec: AssetSpec, seed: int) -> list[RecipeAsset]:
    bank = _bank()
    names: list[str] = []
    for pat in [spec.builtin] if isinstance(spec.builtin, str) else list(spec.builtin or []):
        names.extend(_bank_names(pat))
    out = []
    for name in names:
        a = bank.get_asset(name)  # raises AssetError with the nearest names
        asset_seed = int(spec.params.get("seed", 0)) if isinstance(spec.params.get("seed", 0), int) else 0

        def load(size: tuple[int, int], a: Any = a, s: int = asset_seed) -> tuple[torch.Tensor, torch.Tensor | None]:
            sz = size[0] if size[0] == size[1] else size
            img = a.image(sz, seed=s)
            m = a.mask(sz) if spec.mask != "none" else None
            return img, m

        out.append(
            RecipeAsset(
                id=f"builtin:{name}" + (f"@{asset_seed}" if asset_seed else ""), name=name, group=group,
                kind=spec.kind or getattr(a, "kind", None), sha256=str(a.sha256()), loader=load,
                label=spec.label, wnid=getattr(a, "wnid", None), category=getattr(a, "category", None),
                licence=spec.licence or str(getattr(a, "licence", "") or "unknown"),
                provenance=spec.provenance or str(getattr(a, "provenance", "") or "foolbox-lite asset bank"),
                citation=spec.citation or "",
            )
        )
    return out


def _resolve_skimage(group: str, spec: AssetSpec) -> list[RecipeAsset]:
    try:
        import skimage.data as skd
    except ImportError:
        raise AssetError("skimage assets need scikit-image", hint="pip install 'foolbox-lite[photos]'") from None
    name = str(spec.skimage)
    fn = getattr(skd, name, None)
    if fn is None or not callable(fn) or name.startswith("_"):
        import difflib

        known = [n for n in getattr(skd, "__all__", []) if not n.startswith(("_", "download", "lfw", "stereo"))]
        near = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        raise AssetError(f"scikit-image has no photo {name!r}", hint=f"did you mean {', '.join(near)}?" if near else f"known: {', '.join(known)}")
    try:
        arr = np.asarray(fn())
    except Exception as exc:  # noqa: BLE001 - some need a download
        raise AssetError(f"scikit-image photo {name!r} cannot be loaded offline: {exc}") from None
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, -1)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr.astype(np.float64), 0, 1) * 255).round().astype(np.uint8) if arr.max() <= 1 else arr.astype(np.uint8)
    im = Image.fromarray(np.ascontiguousarray(arr[:, :, :4]))
    sha = sha256_parts(arr.tobytes(), str(arr.shape))

    def load(size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        if spec.region is not None:
            return _region(im, None, spec, f"skimage:{name}", size), None
        return fit_image_and_mask(im, None, size, spec.fit, *_mask_rule(spec, None))

    return [RecipeAsset(id=f"skimage:{name}", name=name, group=group, kind=spec.kind or "photo", sha256=sha, loader=load,
                        label=spec.label, licence=spec.licence or "see scikit-image data licences (public domain / CC)",
                        provenance=spec.provenance or f"scikit-image data.{name}", citation=spec.citation or "")]


def _resolve_procedural(group: str, spec: AssetSpec) -> list[RecipeAsset]:
    import difflib
    import inspect

    name = str(spec.procedural)
    patterns = list_generators("pattern")
    if name not in patterns:
        near = difflib.get_close_matches(name, patterns, n=1, cutoff=0.5)
        raise AssetError(f"unknown procedural generator {name!r}", hint=f"did you mean {near[0]!r}?" if near else f"known: {', '.join(patterns)}")
    fn = GENERATORS[name].fn
    allowed = [p for p in inspect.signature(fn).parameters if p != "size"]
    for k in spec.params:
        if k not in allowed:
            near = difflib.get_close_matches(k, allowed, n=1, cutoff=0.5)
            raise ParameterError(f"procedural generator {name!r} has no parameter {k!r}", hint=f"did you mean {near[0]!r}?" if near else f"parameters: {', '.join(allowed)}")
    params = dict(spec.params)
    sha = sha256_text(json.dumps({"procedural": name, "params": params}, sort_keys=True))
    return [RecipeAsset(id=f"procedural:{name}", name=name, group=group, kind=spec.kind, sha256=sha,
                        loader=lambda size: fn(size, **params), label=spec.label, licence=spec.licence or "CC0 (generated by foolbox-lite)",
                        provenance=spec.provenance or f"foolbox-lite procedural generator {name} {params}", citation=spec.citation or "")]


def _resolve_source(group: str, spec: AssetSpec, folder: Path, size: tuple[int, int]) -> list[RecipeAsset]:
    """A backend source (rembg, grabcut, threshold, diffusers), run once at the recipe's size."""
    from ..backends.sources import build_source

    assert spec.source is not None
    (kind, fields), = spec.source.items()
    fields = dict(fields)
    location, image_sha = "", ""
    if isinstance(fields.get("image"), str):
        path = (folder / fields["image"]).resolve()
        if not path.is_file():
            raise AssetError(f"asset {group!r}: image {fields['image']!r} {not_a_file(path)} (looked in {str(folder)!r})")
        check_utf8_name(path)
        location, image_sha = _rel(path, folder), sha256_file(path)
        fields["image"] = str(path)
    fields["size"] = [size[0], size[1]]
    if "cache" in fields:
        from ..backends.mask_cache import recipe_cache

        fields["cache"] = recipe_cache(fields["cache"])
    res = build_source(kind, fields)
    identity = {"source": kind, "fields": {k: v for k, v in res.settings.items() if k != "image"}, "image": image_sha, "models": res.model_hashes}
    sha = sha256_text(json.dumps(identity, sort_keys=True, default=str))
    image, mask = res.image, res.mask

    def load(sz: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        if sz != size:
            raise AssetError(f"asset {group!r} was made at {size}, not {sz}")
        return image, mask

    name = Path(location).stem if location else kind
    return [RecipeAsset(id=f"{kind}:{location or name}", name=name, group=group, kind=spec.kind, sha256=sha, loader=load,
                        label=spec.label, licence=spec.licence or "unknown (see the source image and model)",
                        provenance=spec.provenance or f"{kind} source {json.dumps(identity['fields'], default=str)}",
                        citation=spec.citation or "", location=location, models=dict(res.model_hashes),
                        files=[Path(fields["image"])] if location else [])]


def resolve_assets(recipe: Recipe, names: Iterable[str] | None = None) -> dict[str, list[RecipeAsset]]:
    """Resolve the recipe's named assets (all of them, or ``names``) into lists of :class:`RecipeAsset`.

    Errors name the asset and the recipe line: ``FILE:LINE:COL: assets.NAME: ...``.
    """
    folder = recipe.folder
    loc8 = recipe._locator
    out: dict[str, list[RecipeAsset]] = {}
    files: list[tuple[str, RecipeAsset]] = []
    for group in names if names is not None else recipe.assets:
        spec = recipe.assets[group]
        try:
            if spec.files is not None:
                assets = _resolve_files(group, spec, folder)
                files += [(group, a) for a in assets]
            elif spec.builtin is not None:
                assets = _resolve_builtin(group, spec, recipe.seed)
            elif spec.skimage is not None:
                assets = _resolve_skimage(group, spec)
            elif spec.source is not None:
                assets = _resolve_source(group, spec, folder, recipe.height_width)
            else:
                assets = _resolve_procedural(group, spec)
        except FoolboxLiteError as exc:
            if loc8 is None:
                raise
            raise loc8.error(type(exc), ["assets", group], str(exc.args[0]), exc.hint) from None
        if not assets:
            raise AssetError(f"asset {group!r} resolved to no images")
        out[group] = assets
    _decode(files, recipe.height_width, loc8)
    return out


def _decode(files: list[tuple[str, RecipeAsset]], size: tuple[int, int], loc8: Any) -> None:
    """Decode and fit every file asset now, so a missing, unreadable or truncated file fails before the build starts.

    PIL releases the GIL while decoding and resizing, so the files are decoded by a few threads
    (each asset by itself: the same pixels in any order); the first failing file in recipe order is reported.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    workers = min(4, os.cpu_count() or 1, len(files))
    if workers <= 1:
        results = [_try_load(a, size) for _, a in files]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="fl-assets") as pool:
            results = list(pool.map(lambda ga: _try_load(ga[1], size), files))
    for (group, _), exc in zip(files, results):
        if exc is not None:
            if loc8 is None:
                raise exc
            raise loc8.error(type(exc), ["assets", group], str(exc.args[0]), exc.hint) from None


def _try_load(asset: RecipeAsset, size: tuple[int, int]) -> FoolboxLiteError | None:
    try:
        asset.load(size)
    except FoolboxLiteError as exc:
        return exc
    return None
