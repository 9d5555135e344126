"""ImageFolder layout: ``OUT/<label>/<id>.png``, one class folder per label of a chosen cue."""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import InputError
from ..format import SetInfo
from .common import Entries, copy_image, entry_with_file, write_manifest

__all__ = ["export_imagefolder", "safe_folder_name"]


def safe_folder_name(label: str) -> str:
    """A label as a folder name (wnids and category names stay as they are)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("._")
    if not name:
        raise InputError(f"label {label!r} cannot be used as a folder name")
    return name


def export_imagefolder(src: Path, info: SetInfo, entries: Entries, out: Path, *, cue: str | None = None) -> Path:
    """Copy each image to ``OUT/<label of cue>/<id>.png`` (``cue`` defaults to the set's reference cue)."""
    cue = cue or info.reference_cue
    lines = []
    for e in entries:
        if cue not in e.cues:
            raise InputError(f"item {e.id!r} has no {cue!r} cue (it has {', '.join(e.cues) or 'none'})", hint="choose the class cue with --cue")
        file = f"{safe_folder_name(e.cues[cue])}/{e.id}.png"
        copy_image(src / e.file, out / file, root=out)
        lines.append(entry_with_file(e, file))
    write_manifest(out, info, lines, f"imagefolder:{cue}")
    return out
