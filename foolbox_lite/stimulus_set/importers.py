"""Importing published stimuli as stimulus sets, so they are evaluated exactly like ours.

``import_cue_conflict(SRC, DIR)`` reads the published cue-conflict layout
(Geirhos et al., 2019; model-vs-human): ``SRC/<category>/<shape><n>-<texture><m>.png``
with the 16 categories, and writes a set with ``shape`` and ``texture`` cues in the
``geirhos16`` label space.  Image bytes are copied unchanged and keep their file
names (``images/<shape><n>-<texture><m>.png``), so model-vs-human raw-data files name them.
A name may carry a prefix, ``<prefix>_<shape><n>-<texture><m>.png``, as model-vs-human
allows and as our export writes for repeated shape-texture pairs.

A folder written by ``foolbox-lite export --format model-vs-human`` is imported
losslessly from its ``manifest.jsonl``: every field of every entry (ids, seeds,
params, design factors, masks) comes back; only the ``file`` paths change.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import InputError
from .atomic import sha256_bytes
from .format import MANIFEST, ManifestEntry, SetInfo, manifest_line, write_set_info
from .writer import DATASHEET, IMAGES, prepare_folder, write_atomic

__all__ = ["CUE_CONFLICT_NAME", "GEIRHOS_CITATION", "import_cue_conflict"]

CUE_CONFLICT_NAME = re.compile(r"^(?:[^/]+_)?(?P<shape>[a-z]+)(?P<n>\d+)-(?P<texture>[a-z]+)(?P<m>\d+)\.png$")
GEIRHOS_CITATION = (
    "Geirhos, R., Rubisch, P., Michaelis, C., Bethge, M., Wichmann, F. A., Brendel, W. (2019). ImageNet-trained CNNs are "
    "biased towards texture; increasing shape bias improves accuracy and robustness. ICLR."
)


def _categories() -> tuple[str, ...]:
    from ..recipes.schema import GEIRHOS16

    return GEIRHOS16


def import_cue_conflict(src: str | os.PathLike[str], out: str | os.PathLike[str], *, force: bool = False, name: str | None = None, progress: bool = False) -> Path:
    """Turn a cue-conflict folder into a stimulus set in ``out``; bad names and categories are errors."""
    src_p, out_p = Path(src), Path(out)
    if not src_p.is_dir():
        raise InputError(f"source folder {str(src_p)!r} does not exist")
    if _exported_info(src_p) is not None:
        return _import_export(src_p, out_p, force=force, name=name, progress=progress)
    cats = set(_categories())
    files = sorted(p for p in src_p.rglob("*") if p.is_file() and not p.name.startswith("."))
    found = []
    for p in files:
        rel = p.relative_to(src_p).as_posix()
        if p.suffix.lower() != ".png":
            continue
        m = CUE_CONFLICT_NAME.match(p.name)
        if m is None or len(p.relative_to(src_p).parts) != 2:
            raise InputError(f"{rel!r} is not named <category>/<shape><n>-<texture><m>.png", hint="the cue-conflict layout is e.g. airplane/airplane1-bicycle2.png")
        folder = p.parent.name
        for key in ("shape", "texture"):
            if m.group(key) not in cats:
                raise InputError(f"{rel!r}: {m.group(key)!r} is not one of the 16 categories", hint=", ".join(sorted(cats)))
        if folder != m.group("shape"):
            raise InputError(f"{rel!r} is in folder {folder!r} but its shape is {m.group('shape')!r}", hint="the category folder is the shape's category")
        found.append((p, rel, m))
    if not found:
        raise InputError(f"no cue-conflict images (<category>/<shape><n>-<texture><m>.png) in {str(src_p)!r}")
    prepare_folder(out_p, resume=False, force=force)
    lines = []
    from tqdm.auto import tqdm

    for k, (p, rel, m) in enumerate(tqdm(found, desc="import cue-conflict", unit="img", disable=not progress, dynamic_ncols=True)):
        data = p.read_bytes()
        from ..assets.io import read_pil

        read_pil(p)  # unreadable or truncated files are refused here, not at evaluation time
        item_id = p.stem
        file = f"{IMAGES}/{item_id}.png"
        write_atomic(out_p / file, data)
        entry = ManifestEntry(
            id=item_id, file=file, sha256=sha256_bytes(data), seed=0, index=k,
            cues={"shape": m.group("shape"), "texture": m.group("texture")},
            sources={"shape": f"{m.group('shape')}{m.group('n')}", "texture": f"{m.group('texture')}{m.group('m')}", "file": rel},
            condition="shape=texture" if m.group("shape") == m.group("texture") else "conflict",
        )
        lines.append(manifest_line(entry))
    if len({ln.split('"id":"', 1)[1].split('"', 1)[0] for ln in lines}) != len(lines):
        raise InputError("two images have the same file name in different folders; ids must be unique")
    info = SetInfo(name=name or src_p.name, label_space="geirhos16", cues=["shape", "texture"], reference_cue="shape", n=len(lines),
                   description=f"cue-conflict stimuli imported from {src_p.name}", extra={"imported_from": "cue-conflict"})
    write_set_info(out_p, info)
    n_same = sum(1 for _, _, m in found if m.group("shape") == m.group("texture"))
    sheet = (
        f"# {info.name}\n\nCue-conflict stimuli imported with `foolbox-lite import cue-conflict` "
        f"({len(lines)} images, {n_same} with shape = texture, which shape-bias analyses usually exclude).\n\n"
        f"Image bytes are unchanged; `shape` and `texture` cues are the 16 categories.\n\n## How to cite\n\n- {GEIRHOS_CITATION}\n"
    )
    write_atomic(out_p / DATASHEET, sheet.encode("utf-8"))
    write_atomic(out_p / MANIFEST, "".join(lines).encode("utf-8"), fsync=True)
    return out_p


def _exported_info(src: Path) -> SetInfo | None:
    """The header of a foolbox-lite model-vs-human export in ``src``, or ``None``."""
    from .format import SET_INFO, read_set_info

    if not (src / MANIFEST).is_file() or not (src / SET_INFO).is_file():
        return None
    info = read_set_info(src)
    return info if info.extra.get("exported_as") == "model-vs-human" else None


def _import_export(src: Path, out: Path, *, force: bool, name: str | None, progress: bool) -> Path:
    """Restore a model-vs-human export: its entries as they were, images named as exported."""
    from dataclasses import replace

    from .export.common import open_set
    from .writer import LOCK

    info, entries = open_set(src, verify=True, progress=progress)  # every image and mask must match its sha256
    prepare_folder(out, resume=False, force=force)
    lines, names = [], set()
    for e in entries.progress("import model-vs-human"):
        file = f"{IMAGES}/{Path(e.file).name}"
        if file in names:
            raise InputError(f"two images of the export are named {Path(e.file).name!r}; ids must be unique")
        names.add(file)
        write_atomic(out / file, (src / e.file).read_bytes())
        layers = e.layers
        if "mask" in layers:
            mask = f"masks/{Path(e.file).name}"
            write_atomic(out / mask, (src / layers["mask"]["file"]).read_bytes())
            layers = {**layers, "mask": {**layers["mask"], "file": mask}}
        lines.append(manifest_line(replace(e, file=file, layers=layers)))
    extra = {k: v for k, v in info.extra.items() if k != "exported_as"}
    write_set_info(out, replace(info, name=name or info.name, extra=extra))
    for extra_file in (DATASHEET, LOCK):
        if (src / extra_file).is_file():
            write_atomic(out / extra_file, (src / extra_file).read_bytes())
    write_atomic(out / MANIFEST, "".join(lines).encode("utf-8"), fsync=True)
    return out
