"""Shared helpers of the exporters: opening and verifying a set, preparing the output folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ...errors import InputError
from ..format import MANIFEST, SET_INFO, ManifestEntry, SetInfo, iter_manifest, manifest_line, read_set_info, write_set_info
from ..outputs import is_empty, remove_outputs
from ..safe_paths import inside, is_inside
from ..writer import write_atomic

__all__ = ["Entries", "open_set", "prepare_out", "write_manifest"]


class Entries:
    """The manifest entries of a set, streamed again on each iteration (memory stays flat)."""

    def __init__(self, folder: Path, n: int) -> None:
        self.folder = folder
        self.n = n

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter_manifest(self.folder)

    def __len__(self) -> int:
        return self.n


def open_set(folder: Path, *, verify: bool = True) -> tuple[SetInfo, Entries]:
    """The set's header and entries; with ``verify`` every image must exist and match its sha256."""
    info = read_set_info(folder)
    n = 0
    from ..atomic import sha256_file

    for e in iter_manifest(folder):
        n += 1
        if verify:
            p = inside(folder, e.file, f"image of item {e.id!r}")
            if not p.is_file():
                raise InputError(f"image {e.file!r} of item {e.id!r} is missing from {str(folder)!r}", hint="rebuild it with 'foolbox-lite build --resume'")
            if sha256_file(p) != e.sha256:
                raise InputError(f"image {e.file!r} of item {e.id!r} does not match its sha256 in the manifest", hint="rebuild it with 'foolbox-lite build --resume'")
    if n == 0:
        raise InputError(f"stimulus set {str(folder)!r} has no images")
    return info, Entries(folder, n)


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


def write_manifest(out: Path, info: SetInfo, lines: list[str], fmt: str) -> None:
    """Write the exported set's header (with the export format noted) and manifest."""
    info = SetInfo(**{**info.to_dict(), "extra": {**info.extra, "exported_as": fmt}})
    write_set_info(out, info)
    write_atomic(out / MANIFEST, "".join(lines).encode("utf-8"), fsync=True)


def entry_with_file(e: ManifestEntry, file: str) -> str:
    return manifest_line(ManifestEntry(**{**e.__dict__, "file": file}))


def copy_image(src: Path, dst: Path, *, root: Path | None = None) -> None:
    """Copy an image; with ``root`` the destination must resolve inside ``root`` (the export folder)."""
    if root is not None:
        inside(root, dst.relative_to(root) if dst.is_relative_to(root) else dst, "export destination")
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dst, src.read_bytes())
