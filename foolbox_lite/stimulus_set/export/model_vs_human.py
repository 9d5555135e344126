"""The model-vs-human cue-conflict layout: ``OUT/<shape category>/<shape><n>-<texture><m>.png``.

``n`` numbers the distinct shape sources of a category (and ``m`` the texture
sources of theirs) in order of first appearance, from 1; two images with the same
name (e.g. the same shape and texture at two angles) get ``-2``, ``-3``... appended.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import InputError
from ..format import SetInfo
from ..safe_paths import safe_component
from .common import Entries, copy_image, entry_with_file, write_manifest

__all__ = ["export_model_vs_human"]


def export_model_vs_human(src: Path, info: SetInfo, entries: Entries, out: Path, *, shape_cue: str = "shape", texture_cue: str = "texture") -> Path:
    if info.label_space == "imagenet1k":
        raise InputError(
            f"set {info.name!r} has ImageNet labels; the model-vs-human layout needs category labels (label_space geirhos16)",
            hint="build with label_space: geirhos16, or export with --format imagefolder",
        )
    numbers: dict[tuple[str, str], dict[str, int]] = {}
    used: dict[str, int] = {}
    lines = []

    def number(cue: str, label: str, source: str) -> int:
        stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]  # file:../airplane/airplane3.png -> airplane3
        m = re.fullmatch(re.escape(label) + r"(\d+)", stem)
        if m:  # an imported or Geirhos-named source keeps its number
            return int(m.group(1))
        table = numbers.setdefault((cue, label), {})
        return table.setdefault(source, len(table) + 1)

    for e in entries:
        missing = [c for c in (shape_cue, texture_cue) if c not in e.cues]
        if missing:
            raise InputError(f"item {e.id!r} has no {missing[0]!r} cue; the model-vs-human layout names files by shape and texture")
        s, t = safe_component(e.cues[shape_cue], "shape label"), safe_component(e.cues[texture_cue], "texture label")
        n = number(shape_cue, s, e.sources.get(shape_cue, e.id))
        m = number(texture_cue, t, e.sources.get(texture_cue, e.id))
        stem = f"{s}{n}-{t}{m}"
        used[stem] = used.get(stem, 0) + 1
        if used[stem] > 1:
            stem = f"{stem}-{used[stem]}"
        file = f"{s}/{stem}.png"
        copy_image(src / e.file, out / file, root=out)
        lines.append(entry_with_file(e, file))
    write_manifest(out, info, lines, "model-vs-human")
    return out
