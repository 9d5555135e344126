"""A Hugging Face ``datasets`` dataset that both loaders read, with a dataset card::

    OUT/                    datasets.load_from_disk(OUT): save_to_disk's files
    OUT/images/<id>.png     the images, bytes unchanged
    OUT/masks/<id>.png      foreground masks, when the set has them
    OUT/metadata.jsonl      load_dataset("imagefolder", data_dir=OUT): file_name + flat columns
    OUT/README.md           the dataset card (YAML header + the datasheet)

``load_from_disk`` gives columns ``image`` (PNG bytes), ``id``, ``file``, ``sha256``,
``seed``, ``index``, ``condition``, ``control`` and ``twin`` (control twins; empty otherwise), one ``cue_<name>`` ``ClassLabel`` per cue (names:
the label space's labels, so the integer is the ImageNet-1k output index, or the
``geirhos16`` category index), one ``factor_<name>`` column per design factor (numbers
stay numbers), ``mask`` (an image, for sets with masks), and ``cues``, ``sources``,
``params`` as JSON text.  ``info.license`` and ``info.citation`` come from the datasheet.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import InputError
from ...labels import label_space_names
from ..datasheet import read_licences_and_citations
from ..format import SetInfo
from ..writer import DATASHEET, write_atomic
from .common import (
    Columns,
    Entries,
    class_number,
    columns_of,
    copy_image,
    copy_mask,
    entry_with_file,
    flat_row,
    safe_name,
    write_manifest,
)

__all__ = ["FEATURE_NAMES", "export_hf"]

FEATURE_NAMES = ("image", "id", "file", "sha256", "seed", "index", "condition", "control", "twin", "cues", "sources", "params")
_VALUE = {"int": "int64", "float": "float64", "bool": "bool", "string": "string"}


def _features(datasets: Any, cols: Columns, names: tuple[str, ...]) -> Any:
    feats: dict[str, Any] = {"image": datasets.Image()}
    for k in ("id", "file", "sha256"):
        feats[k] = datasets.Value("string")
    feats["seed"] = datasets.Value("int64")
    feats["index"] = datasets.Value("int64")
    feats["condition"] = datasets.Value("string")
    feats["control"] = datasets.Value("string")
    feats["twin"] = datasets.Value("string")
    for c in cols.cues:
        feats[f"cue_{c}"] = datasets.ClassLabel(names=list(names))
    for k, kind in cols.factors.items():
        feats[f"factor_{k}"] = datasets.Value(_VALUE[kind])
    if cols.has_mask:
        feats["mask"] = datasets.Image()
    for k in ("cues", "sources", "params"):
        feats[k] = datasets.Value("string")
    return datasets.Features(feats)


def _rows(folder: str, info_json: str) -> Iterator[dict[str, Any]]:
    """The dataset's rows (arguments are JSON text: ``datasets`` would shard a list argument)."""
    meta = json.loads(info_json)
    cols = Columns(meta["cues"], meta["factors"], meta["has_mask"])
    names = tuple(meta["names"])
    for e in Entries(Path(folder), 0):
        flat = flat_row(e, cols)
        row = {
            "image": {"bytes": (Path(folder) / e.file).read_bytes(), "path": None},
            **flat, "file": e.file,
            "cues": json.dumps(e.cues, sort_keys=True), "sources": json.dumps(e.sources, sort_keys=True),
            "params": json.dumps(e.params, sort_keys=True, separators=(",", ":")),
        }
        for c in cols.cues:
            row[f"cue_{c}"] = None if e.cues.get(c) is None else class_number(e.cues[c], names, e.id)
        if cols.has_mask:
            mask = e.layers.get("mask")
            row["mask"] = {"bytes": (Path(folder) / mask["file"]).read_bytes(), "path": None} if mask else None
        yield row


def _card(info: SetInfo, cols: Columns, n: int, licences: list[str], cites: list[str], datasheet: str) -> str:
    """README.md: a dataset card whose YAML header ``datasets`` and the Hub read, and the datasheet as its body."""
    import yaml

    spdx = {"cc0": "cc0-1.0", "mit": "mit", "cc-by-4.0": "cc-by-4.0", "cc by 4.0": "cc-by-4.0"}
    ids = sorted({next((v for k, v in spdx.items() if lic.lower().startswith(k)), "other") for lic in licences}) or ["unknown"]
    header: dict[str, Any] = {
        "pretty_name": info.name,
        "license": ids[0] if len(ids) == 1 else ids,
        "task_categories": ["image-classification"],
        "size_categories": ["n<1K" if n < 1000 else "1K<n<10K" if n < 10000 else "10K<n<100K" if n < 100000 else "n>100K"],
        "tags": ["cue-conflict", "foolbox-lite", f"label-space-{info.label_space}"],
    }
    if "other" in ids:
        header["license_name"] = "; ".join(licences)
    lines = ["---", yaml.safe_dump(header, sort_keys=True).strip(), "---", ""]
    lines += [f"# {info.name}", "", "Load it with either of:", "", "```python", "import datasets",
              'ds = datasets.load_from_disk("THIS_FOLDER")  # cue_* columns are ClassLabel', 'ds = datasets.load_dataset("imagefolder", data_dir="THIS_FOLDER", split="train")', "```", ""]
    lines += [f"Cue columns: {', '.join(f'`cue_{c}`' for c in cols.cues)}; design factors: {', '.join(f'`factor_{k}`' for k in cols.factors) or 'none'}"
              + ("; `mask`: the foreground mask." if cols.has_mask else "."), ""]
    lines += ["## Licences", ""] + [f"- {lic}" for lic in licences] + ["", "## Citation", "", "```", *cites, "```", ""]
    if datasheet:
        lines += ["## Datasheet", "", datasheet.split("\n", 1)[-1].strip().replace("\n## ", "\n### "), ""]
    return "\n".join(lines)


def export_hf(src: Path, info: SetInfo, entries: Entries, out: Path) -> Path:
    try:
        import datasets
    except ImportError:
        raise InputError("exporting to Hugging Face datasets needs the 'datasets' package", hint="pip install 'foolbox-lite[export]'") from None
    cols = columns_of(info, entries)
    names = label_space_names(info.label_space)
    sheet = (src / DATASHEET).read_text(encoding="utf-8") if (src / DATASHEET).is_file() else ""
    licences, cites = read_licences_and_citations(sheet)
    meta = json.dumps({"cues": cols.cues, "factors": cols.factors, "has_mask": cols.has_mask, "names": list(names)})
    with tempfile.TemporaryDirectory(prefix="fl-hf-") as cache:
        ds = datasets.Dataset.from_generator(_rows, features=_features(datasets, cols, names), cache_dir=cache, gen_kwargs={"folder": str(src), "info_json": meta})
        ds.info.description = f"foolbox-lite stimulus set {info.name}: {info.description}".strip()
        ds.info.license = "; ".join(licences)
        ds.info.citation = "\n".join(cites)
        ds.save_to_disk(str(out))
    lines, meta_lines = [], []
    for e in entries.progress("export hf"):
        file = f"images/{safe_name(e.id)}.png"
        copy_image(src / e.file, out / file, root=out)
        mask = copy_mask(src, e, out, f"masks/{safe_name(e.id)}.png")
        lines.append(entry_with_file(e, file, mask))
        row = {"file_name": file, **flat_row(e, cols)}
        if mask:
            row["mask_file_name"] = mask
        meta_lines.append(json.dumps(row, sort_keys=True) + "\n")
    write_atomic(out / "metadata.jsonl", "".join(meta_lines).encode("utf-8"))
    write_atomic(out / "README.md", _card(info, cols, len(entries), licences, cites, sheet).encode("utf-8"))
    write_manifest(out, info, lines, "hf", src)
    return out
