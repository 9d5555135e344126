"""A Hugging Face ``datasets`` dataset (``save_to_disk``) with every cue label and the params.

Columns: ``image`` (the PNG bytes, unchanged), ``id``, ``file``, ``sha256``, ``seed``,
``index``, ``condition``, ``control`` and ``twin`` (control twins; empty otherwise), one
``cue_<name>`` string column per cue of the set, and ``cues``, ``sources``, ``params`` and
``factors`` as JSON text (their nested, per-operator
structure does not fit one Arrow type).  Load it with ``datasets.load_from_disk``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import InputError
from ..format import SetInfo
from .common import Entries, entry_with_file, write_manifest

__all__ = ["FEATURE_NAMES", "export_hf"]

FEATURE_NAMES = ("image", "id", "file", "sha256", "seed", "index", "condition", "control", "twin", "cues", "sources", "params", "factors")


def export_hf(src: Path, info: SetInfo, entries: Entries, out: Path) -> Path:
    try:
        import datasets
    except ImportError:
        raise InputError("exporting to Hugging Face datasets needs the 'datasets' package", hint="pip install 'foolbox-lite[export]'") from None
    cue_names = list(info.cues)
    for e in entries:
        for c in e.cues:
            if c not in cue_names:
                cue_names.append(c)
    feats: dict[str, Any] = {
        "image": datasets.Image(),
        "id": datasets.Value("string"),
        "file": datasets.Value("string"),
        "sha256": datasets.Value("string"),
        "seed": datasets.Value("int64"),
        "index": datasets.Value("int64"),
        "condition": datasets.Value("string"),
        "control": datasets.Value("string"),
        "twin": datasets.Value("string"),
        "cues": datasets.Value("string"),
        "sources": datasets.Value("string"),
        "params": datasets.Value("string"),
        "factors": datasets.Value("string"),
    }
    for c in cue_names:
        feats[f"cue_{c}"] = datasets.Value("string")
    features = datasets.Features(feats)

    def rows(folder: str, names_json: str) -> Iterator[dict[str, Any]]:
        names = json.loads(names_json)  # a JSON string: datasets would shard a list argument
        ents = Entries(Path(folder), 0)
        for e in ents:
            row = {
                "image": {"bytes": (Path(folder) / e.file).read_bytes(), "path": None},
                "id": e.id, "file": e.file, "sha256": e.sha256, "seed": int(e.seed), "index": int(e.index), "condition": e.condition,
                "cues": json.dumps(e.cues, sort_keys=True), "sources": json.dumps(e.sources, sort_keys=True),
                "params": json.dumps(e.params, sort_keys=True, separators=(",", ":")),
                "control": e.control, "twin": e.twin, "factors": json.dumps(e.factors, sort_keys=True),
            }
            for c in names:
                row[f"cue_{c}"] = e.cues.get(c)
            yield row

    with tempfile.TemporaryDirectory(prefix="fl-hf-") as cache:
        ds = datasets.Dataset.from_generator(rows, features=features, cache_dir=cache, gen_kwargs={"folder": str(src), "names_json": json.dumps(cue_names)})
        ds.info.description = f"foolbox-lite stimulus set {info.name}: {info.description}"
        ds.save_to_disk(str(out / "dataset"))
    lines = [entry_with_file(e, f"dataset#{row}") for row, e in enumerate(entries)]  # the row: twins share their item's index
    write_manifest(out, info, lines, "hf")
    return out
