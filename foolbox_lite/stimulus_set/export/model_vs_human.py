"""The model-vs-human layout (Geirhos et al.), laid out as its ``$MODELVSHUMANDIR``::

    OUT/datasets/<name>/<shape category>/<shape><n>-<texture><m>.png
    OUT/raw-data/<name>/<name>_<subject>_session-<s>.csv     observers' trials (written by
                                                             ``foolbox_lite.evaluator.responses.write_export_raw_data``)
    OUT/masks/<name>/<shape category>/<same file name>       foreground masks, when the set has them
    OUT/metadata.csv, set.json, manifest.jsonl, DATASHEET.md

model-vs-human reads the shape category from the folder and the texture category from
the file name: the last ``-``-separated word after the last ``_``, extension and digits
removed.  ``n`` numbers the distinct shape sources of a category (and ``m`` the texture
sources of theirs) in order of first appearance, from 1 (an imported, Geirhos-named
source keeps its number).  Images that would share a name (the same shape and texture
at two angles, a ``repeat``) are all prefixed with their id, ``<id>_<shape><n>-<texture><m>.png``,
which keeps the texture readable by that rule.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ...errors import InputError
from ..format import SetInfo
from .common import Entries, columns_of, copy_image, copy_mask, entry_with_file, flat_row, safe_name, write_csv, write_manifest

__all__ = ["export_model_vs_human", "texture_category"]

_CATEGORY = re.compile(r"[A-Za-z]+")


def texture_category(imagename: str) -> str:
    """The texture category of a model-vs-human image name, by the rule its analysis uses (documented above)."""
    last = imagename.rsplit("_", 1)[-1].split(".", 1)[0].rsplit("-", 1)[-1]
    return "".join(ch for ch in last if not ch.isdigit())


def _stems(entries: Entries, shape_cue: str, texture_cue: str) -> list[str]:
    """``<shape><n>-<texture><m>`` per entry, in manifest order."""
    numbers: dict[tuple[str, str], dict[str, int]] = {}

    def number(cue: str, label: str, source: str) -> int:
        stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]  # file:../airplane/airplane3.png -> airplane3
        m = re.fullmatch(re.escape(label) + r"(\d+)", stem)
        if m:  # an imported or Geirhos-named source keeps its number
            return int(m.group(1))
        table = numbers.setdefault((cue, label), {})
        return table.setdefault(source, len(table) + 1)

    stems = []
    for e in entries:
        missing = [c for c in (shape_cue, texture_cue) if c not in e.cues]
        if missing:
            raise InputError(f"item {e.id!r} has no {missing[0]!r} cue; the model-vs-human layout names files by shape and texture")
        s, t = e.cues[shape_cue], e.cues[texture_cue]
        for label in (s, t):
            if not _CATEGORY.fullmatch(label):
                raise InputError(f"item {e.id!r}: label {label!r} is not a single word of letters, which model-vs-human's file-name rule needs")
        stems.append(f"{s}{number(shape_cue, s, e.sources.get(shape_cue, e.id))}-{t}{number(texture_cue, t, e.sources.get(texture_cue, e.id))}")
    return stems


def export_model_vs_human(
    src: Path, info: SetInfo, entries: Entries, out: Path, *, shape_cue: str = "shape", texture_cue: str = "texture",
    dataset: str | None = None,
) -> Path:
    """Write the set in model-vs-human's layout (``dataset`` names it; default: the set's name)."""
    if info.label_space == "imagenet1k":
        raise InputError(
            f"set {info.name!r} has ImageNet labels; the model-vs-human layout needs category labels (label_space geirhos16)",
            hint="build with label_space: geirhos16, or export with --format imagefolder",
        )
    name = safe_name(dataset or info.name)
    cols = columns_of(info, entries)
    stems = _stems(entries, shape_cue, texture_cue)
    shared = {s for s, k in Counter(stems).items() if k > 1}
    lines, rows = [], []
    names: set[str] = set()
    for e, stem in zip(entries.progress("export model-vs-human"), stems):
        file_name = safe_name(f"{e.id}_{stem}.png" if stem in shared else f"{stem}.png")
        rel = f"{safe_name(e.cues[shape_cue])}/{file_name}"
        copy_image(src / e.file, out / "datasets" / name / rel, root=out)
        mask = copy_mask(src, e, out, f"masks/{name}/{rel}")
        lines.append(entry_with_file(e, f"datasets/{name}/{rel}", mask))
        rows.append({"file": f"datasets/{name}/{rel}", "mask": mask or "", **flat_row(e, cols)})
        if file_name in names:
            raise InputError(f"two items of the set would get the model-vs-human file name {file_name!r}", hint="give the items distinct ids")
        names.add(file_name)
    write_csv(out / "metadata.csv", rows)
    write_manifest(out, info, lines, "model-vs-human", src)
    return out

