"""Shared helpers of the exporters: opening and verifying a set, preparing the output folder,
naming files after data (:func:`safe_name`, the one place that does), and the flat
per-image columns (cues, design factors, mask) every format carries."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import InputError
from ..format import MANIFEST, SET_INFO, ManifestEntry, SetInfo, iter_manifest, manifest_line, read_set_info, write_set_info
from ..outputs import is_empty, remove_outputs
from ..safe_paths import inside, is_inside, safe_component
from ..writer import DATASHEET, LOCK, write_atomic

__all__ = ["Columns", "Entries", "columns_of", "copy_mask", "flat_row", "open_set", "prepare_out", "safe_name", "write_csv", "write_manifest"]


class Entries:
    """The manifest entries of a set, streamed again on each iteration (memory stays flat)."""

    def __init__(self, folder: Path, n: int, *, progress: bool = False) -> None:
        self.folder = folder
        self.n = n
        self.show_progress = progress

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter_manifest(self.folder)

    def progress(self, desc: str) -> Iterator[ManifestEntry]:
        """The entries with a progress bar (when asked for): the pass that writes the export."""
        from tqdm.auto import tqdm

        return iter(tqdm(iter_manifest(self.folder), total=self.n, desc=desc, unit="img", disable=not self.show_progress, dynamic_ncols=True))

    def __len__(self) -> int:
        return self.n


def open_set(folder: Path, *, verify: bool = True, progress: bool = False) -> tuple[SetInfo, Entries]:
    """The set's header and entries; with ``verify`` every image must exist and match its sha256."""
    info = read_set_info(folder)
    n = 0
    from ...files import sha256_file

    for e in iter_manifest(folder):
        n += 1
        if verify:
            p = inside(folder, e.file, f"image of item {e.id!r}")
            if not p.is_file():
                raise InputError(f"image {e.file!r} of item {e.id!r} is missing from {str(folder)!r}", hint="rebuild it with 'foolbox-lite build --resume'")
            if sha256_file(p) != e.sha256:
                raise InputError(f"image {e.file!r} of item {e.id!r} does not match its sha256 in the manifest", hint="rebuild it with 'foolbox-lite build --resume'")
            mask = e.layers.get("mask")
            if mask and (not (folder / mask["file"]).is_file() or sha256_file(folder / mask["file"]) != mask.get("sha256")):
                raise InputError(f"mask {mask['file']!r} of item {e.id!r} is missing or does not match its sha256 in the manifest", hint="rebuild it with 'foolbox-lite build --resume'")
    if n == 0:
        raise InputError(f"stimulus set {str(folder)!r} has no images")
    return info, Entries(folder, n, progress=progress)


#: Files an export writes besides those its manifest lists (``--force`` removes only these and the listed ones).
EXPORT_OWNED = (SET_INFO, MANIFEST, "shards.txt")


def check_out(out: Path, src: Path) -> Path:
    """Refuse an export folder that is, holds, or lies inside the stimulus set (``--force`` would delete it)."""
    if is_inside(out, src):
        raise InputError(f"the export folder {str(out)!r} holds the stimulus set {str(src)!r}", hint="export to a folder beside the set, not around it")
    if is_inside(src, out):
        raise InputError(f"the export folder {str(out)!r} lies inside the stimulus set {str(src)!r}", hint="export to a folder beside the set")
    if out.exists() and not out.is_dir():
        raise InputError(f"output {str(out)!r} exists and is not a folder")
    return out


def prepare_out(out: Path, *, force: bool, same_as: Path) -> Path:
    """Check the (locked) export folder: empty, or with ``force`` an earlier export's files are removed."""
    check_out(out, same_as)
    if out.is_dir() and not is_empty(out):
        if not force:
            raise InputError(f"output folder {str(out)!r} is not empty", hint="choose another -o, or pass --force to replace an earlier export there")
        remove_outputs(out, manifests=(MANIFEST,), names=EXPORT_OWNED)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {str(out)!r}: {exc.strerror}", hint="choose a writable output folder") from exc
    return out


def write_manifest(out: Path, info: SetInfo, lines: list[str], fmt: str, src: Path | None = None) -> None:
    """Write the exported set's header (with the export format noted) and manifest, and copy
    the set's datasheet and lock file from ``src`` (so an export can be imported back losslessly)."""
    for name in (DATASHEET, LOCK) if src is not None else ():
        if (src / name).is_file():
            write_atomic(out / name, (src / name).read_bytes())
    info = SetInfo(**{**info.to_dict(), "extra": {**info.extra, "exported_as": fmt}})
    write_set_info(out, info)
    write_atomic(out / MANIFEST, "".join(lines).encode("utf-8"), fsync=True)


def entry_with_file(e: ManifestEntry, file: str, mask: str | None = None) -> str:
    """The manifest line of ``e`` with its image (and mask, when given) at their exported paths."""
    layers = e.layers
    if mask is not None:
        layers = {**layers, "mask": {**layers["mask"], "file": mask}}
    return manifest_line(ManifestEntry(**{**e.__dict__, "file": file, "layers": layers}))


def safe_name(text: str) -> str:
    """``text`` (a label, a set or subject name) as one file or folder name.

    Every exporter names files after data through this function only: wnids,
    category names and ids stay as they are; separators, dots at the ends and
    anything outside ``[A-Za-z0-9_.-]`` become ``_``.
    """
    return safe_component(re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("._"), f"{str(text)[:80]!r} as a name")


@dataclass
class Columns:
    """The flat columns of a set's images: cue names, design-factor names with their type, masks or not."""

    cues: list[str] = field(default_factory=list)
    factors: dict[str, str] = field(default_factory=dict)  # name -> "int", "float", "bool" or "string"
    has_mask: bool = False


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "string"


def columns_of(info: SetInfo, entries: Iterable[ManifestEntry]) -> Columns:
    """One pass over the entries: every cue and factor that occurs (in first-seen order) and its type."""
    cols = Columns(cues=list(info.cues))
    for e in entries:
        cols.cues += [c for c in e.cues if c not in cols.cues]
        for k, v in e.factors.items():
            kind, old = _kind(v), cols.factors.get(k)
            if old is None or old == kind:
                cols.factors[k] = kind
            elif {old, kind} == {"int", "float"}:
                cols.factors[k] = "float"
            else:
                cols.factors[k] = "string"
        cols.has_mask = cols.has_mask or "mask" in e.layers
    return cols


def factor_value(v: Any, kind: str) -> Any:
    """A factor level as its column's type (missing levels are ``None``; mixed columns are text)."""
    if v is None:
        return None
    if kind == "float":
        return float(v)
    if kind == "string" and not isinstance(v, str):
        return json.dumps(v, sort_keys=True)
    return v


def flat_row(e: ManifestEntry, cols: Columns) -> dict[str, Any]:
    """The image's flat columns: ``id``, ``condition``, ``control``/``twin`` (empty unless a control twin),
    ``cue_<name>``, ``factor_<name>`` (files are added by the format)."""
    row: dict[str, Any] = {"id": e.id, "sha256": e.sha256, "seed": int(e.seed), "index": int(e.index), "condition": e.condition,
                           "control": e.control, "twin": e.twin}
    for c in cols.cues:
        row[f"cue_{c}"] = e.cues.get(c)
    for k, kind in cols.factors.items():
        row[f"factor_{k}"] = factor_value(e.factors.get(k), kind)
    return row


def copy_mask(src: Path, e: ManifestEntry, dst_root: Path, rel: str) -> str | None:
    """Copy the item's mask layer (if it has one) to ``dst_root/rel``; returns ``rel`` or ``None``."""
    mask = e.layers.get("mask")
    if not mask:
        return None
    copy_image(src / mask["file"], dst_root / rel, root=dst_root)
    return rel


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows (all with the same keys) as a CSV file, written atomically; ``None`` is an empty cell."""
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    write_atomic(path, buf.getvalue().encode("utf-8"))


def copy_image(src: Path, dst: Path, *, root: Path | None = None) -> None:
    """Copy an image; with ``root`` the destination must resolve inside ``root`` (the export folder)."""
    if root is not None:
        inside(root, dst.relative_to(root) if dst.is_relative_to(root) else dst, "export destination")
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dst, src.read_bytes())


def class_number(label: str, names: tuple[str, ...], item: str) -> int:
    try:
        return names.index(label)
    except ValueError:
        raise InputError(f"item {item!r}: label {label!r} is not in the set's label space", hint="is set.json's label_space right?") from None
