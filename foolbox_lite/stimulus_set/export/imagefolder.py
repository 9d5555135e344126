"""ImageFolder layout, one class folder per label of a chosen cue::

    OUT/images/<label>/<id>.png     the root to give torchvision's ImageFolder
    OUT/masks/<label>/<id>.png      foreground masks (sets whose entries have them)
    OUT/class_index.json            class folder -> ImageNet-1k index (or indices of a category)
    OUT/metadata.csv                one row per image: file, mask, id, cue_<name>, factor_<name>

ImageFolder numbers the sorted class folders 0..k-1; ``class_index.json`` says which
ImageNet output each folder is, so a pretrained model is scored without remapping by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import InputError
from ..format import SetInfo
from ..writer import write_atomic
from .common import Entries, columns_of, copy_image, copy_mask, entry_with_file, flat_row, safe_name, write_csv, write_manifest

__all__ = ["CLASS_INDEX", "class_index", "export_imagefolder"]

CLASS_INDEX = "class_index.json"


def class_index(labels: dict[str, str], label_space: str) -> dict[str, Any]:
    """``class_index.json``: per class folder its label, its ImageNet-1k index (a list for a category), and its ImageFolder target."""
    from ...labels.space import imagenet_labels

    folders = sorted(labels)
    out: dict[str, Any] = {"label_space": label_space, "folders": folders, "imagenet_index": {}, "names": {}}
    if label_space == "imagenet1k":
        table = imagenet_labels()
        for f in folders:
            try:
                i = table.index(labels[f])
            except Exception:  # noqa: BLE001 - a label outside ImageNet-1k has no index
                continue
            out["imagenet_index"][f] = i
            out["names"][f] = table.names[i]
    else:
        from ...labels.mappings import get_mapping, is_mapping

        members = get_mapping(label_space).categories if is_mapping(label_space) else {}
        for f in folders:
            out["names"][f] = labels[f]
            if labels[f] in members:
                out["imagenet_index"][f] = list(members[labels[f]])
    return out


def export_imagefolder(src: Path, info: SetInfo, entries: Entries, out: Path, *, cue: str | None = None) -> Path:
    """Copy each image to ``OUT/images/<label of cue>/<id>.png`` (``cue`` defaults to the set's reference cue)."""
    cue = cue or info.reference_cue
    cols = columns_of(info, entries)
    lines, rows = [], []
    labels: dict[str, str] = {}
    for e in entries.progress("export imagefolder"):
        if cue not in e.cues:
            raise InputError(f"item {e.id!r} has no {cue!r} cue (it has {', '.join(e.cues) or 'none'})", hint="choose the class cue with --cue")
        folder = safe_name(e.cues[cue])
        if labels.setdefault(folder, e.cues[cue]) != e.cues[cue]:
            raise InputError(f"labels {labels[folder]!r} and {e.cues[cue]!r} of cue {cue!r} would share the class folder {folder!r}")
        name = f"{folder}/{safe_name(e.id)}.png"
        copy_image(src / e.file, out / "images" / name, root=out)
        mask = copy_mask(src, e, out, f"masks/{name}")
        lines.append(entry_with_file(e, f"images/{name}", mask))
        rows.append({"file": f"images/{name}", "mask": mask or "", "label": e.cues[cue], **flat_row(e, cols)})
    write_atomic(out / CLASS_INDEX, (json.dumps(class_index(labels, info.label_space), indent=2, sort_keys=True) + "\n").encode("utf-8"))
    write_csv(out / "metadata.csv", rows)
    write_manifest(out, info, lines, f"imagefolder:{cue}", src)
    return out
