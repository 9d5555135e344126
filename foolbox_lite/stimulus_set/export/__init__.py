"""Exporting a stimulus set to other layouts; each keeps the manifest's information.

- ``imagefolder``: ``OUT/images/<label>/<id>.png`` by a chosen cue, ``class_index.json`` (torchvision's ImageFolder);
- ``model-vs-human``: ``OUT/datasets/<name>/<category>/<shape><n>-<texture><m>.png`` (+ ``raw-data/``);
- ``webdataset``: ``OUT/shard-000000.tar`` ... with ``<id>.png``, ``<id>.cls`` and ``<id>.json`` per sample;
- ``hf``: a Hugging Face dataset that ``load_from_disk`` and ``load_dataset("imagefolder")`` both read;
- ``jspsych``: a browser experiment for human observers (offline, jsPsych vendored).

Every layout also gets ``set.json`` and a ``manifest.jsonl`` whose ``file`` fields
point at the exported files (and the set's datasheet and lock file); every format
carries the cues, the design factors and, when the set has them, the masks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...errors import InputError

__all__ = ["FORMATS", "export_set"]

FORMATS = ("imagefolder", "model-vs-human", "webdataset", "hf", "jspsych")


def export_set(
    src: str | os.PathLike[str], fmt: str, out: str | os.PathLike[str], *, force: bool = False, verify: bool = True, progress: bool = False, **options: Any
) -> Path:
    """Export the stimulus set in ``src`` to ``out`` in format ``fmt`` (one of :data:`FORMATS`)."""
    import difflib

    if fmt not in FORMATS:
        near = difflib.get_close_matches(fmt, FORMATS, n=1, cutoff=0.4)
        raise InputError(f"unknown export format {fmt!r}", hint=f"did you mean {near[0]!r}?" if near else f"formats: {', '.join(FORMATS)}")
    from ..folder_lock import lock_folder
    from ..outputs import removed_on_failure
    from .common import check_out, open_set, prepare_out

    info, entries = open_set(Path(src), verify=verify, progress=progress)
    out_p = check_out(Path(out), Path(src))
    with lock_folder(out_p) as held:
        prepare_out(out_p, force=force, same_as=Path(src))
        with removed_on_failure(out_p, held.created):  # a failed export leaves no half-written (or empty) OUT
            return _export(Path(src), fmt, info, entries, out_p, options)


def _export(src: Path, fmt: str, info: Any, entries: Any, out_p: Path, options: dict[str, Any]) -> Path:
    if fmt == "imagefolder":
        from .imagefolder import export_imagefolder as fn
    elif fmt == "model-vs-human":
        from .model_vs_human import export_model_vs_human as fn
    elif fmt == "webdataset":
        from .webdataset import export_webdataset as fn
    elif fmt == "hf":
        from .hf import export_hf as fn
    else:
        from .jspsych import export_jspsych as fn
    return fn(Path(src), info, entries, out_p, **options)
