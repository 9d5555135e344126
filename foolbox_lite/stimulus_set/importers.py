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
from ..files import sha256_bytes
from .folder_lock import lock_folder
from .format import MANIFEST, ManifestEntry, SetInfo, manifest_line, write_set_info
from .layers import MASK_LAYER, write_mask
from .outputs import refuse_inputs_inside, removed_on_failure
from .safe_paths import is_inside
from .writer import DATASHEET, IMAGES, prepare_folder, write_atomic

__all__ = ["CUE_CONFLICT_NAME", "GEIRHOS_CITATION", "import_cue_conflict"]

CUE_CONFLICT_NAME = re.compile(r"^(?:[^/]+_)?(?P<shape>[a-z]+)(?P<n>\d+)-(?P<texture>[a-z]+)(?P<m>\d+)\.png$")
GEIRHOS_CITATION = (
    "Geirhos, R., Rubisch, P., Michaelis, C., Bethge, M., Wichmann, F. A., Brendel, W. (2019). ImageNet-trained CNNs are "
    "biased towards texture; increasing shape bias improves accuracy and robustness. ICLR."
)


def _categories() -> tuple[str, ...]:
    from ..labels import GEIRHOS16

    return tuple(GEIRHOS16.names)


def import_cue_conflict(src: str | os.PathLike[str], out: str | os.PathLike[str], *, force: bool = False, name: str | None = None, progress: bool = False,
                        masks: str | os.PathLike[str] | None = None, invert_masks: bool = False) -> Path:
    """Turn a cue-conflict folder into a stimulus set in ``out``; bad names and categories are errors.

    ``masks``: a folder with the same layout (``<category>/<name>.png``) holding each image's object
    mask (white = object, or dark = object with ``invert_masks``), written as the set's mask layer.
    """
    src_p, out_p = Path(src), Path(out)
    if not src_p.is_dir():
        raise InputError(f"source folder {str(src_p)!r} {'is not a folder' if src_p.exists() else 'does not exist'}")
    refuse_inputs_inside(out_p, [src_p], "source folder")
    if is_inside(src_p, out_p):
        raise InputError(f"the output folder {str(out_p)!r} lies inside the source folder {str(src_p)!r}", hint="import into a folder beside the source")
    if _exported_info(src_p) is not None:
        with lock_folder(out_p) as held, removed_on_failure(out_p, held.created):
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
    stems = [p.stem for p, _, _ in found]
    if len(set(stems)) != len(stems):
        dup = next(s for s in stems if stems.count(s) > 1)
        raise InputError(f"two images are named {dup + '.png'!r} in different folders; ids must be unique")
    if masks is not None:
        if not Path(masks).is_dir():
            raise InputError(f"mask folder {str(masks)!r} does not exist", hint="give the folder of masks laid out like SRC (<category>/<name>.png)")
        refuse_inputs_inside(out_p, [masks], "mask folder")
    from ..assets.io import read_pil

    for p, _, _ in found:
        read_pil(p)  # unreadable or truncated files are refused before anything is written
    with lock_folder(out_p) as held, removed_on_failure(out_p, held.created):
        prepare_folder(out_p, resume=False, force=force)
        return _write_import(src_p, out_p, found, name, progress, Path(masks) if masks is not None else None, invert_masks)


def _write_import(src_p: Path, out_p: Path, found: list[tuple[Path, str, re.Match[str]]], name: str | None, progress: bool,
                  masks: Path | None, invert_masks: bool) -> Path:
    from tqdm.auto import tqdm

    from ..assets.io import read_pil

    lines = []
    for k, (p, rel, m) in enumerate(tqdm(found, desc="import cue-conflict", unit="img", disable=not progress, dynamic_ncols=True)):
        data = p.read_bytes()
        item_id = p.stem
        file = f"{IMAGES}/{item_id}.png"
        write_atomic(out_p / file, data)
        layers = {MASK_LAYER: _import_mask(masks, rel, out_p, item_id, read_pil(p).size, invert_masks)} if masks is not None else {}
        entry = ManifestEntry(
            layers=layers, id=item_id, file=file, sha256=sha256_bytes(data), seed=0, index=k,
            cues={"shape": m.group("shape"), "texture": m.group("texture")},
            sources={"shape": f"{m.group('shape')}{m.group('n')}", "texture": f"{m.group('texture')}{m.group('m')}", "file": rel},
            condition="shape=texture" if m.group("shape") == m.group("texture") else "conflict",
        )
        lines.append(manifest_line(entry))
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
def _import_mask(folder: Path, rel: str, out: Path, item_id: str, size: tuple[int, int], invert: bool) -> dict[str, str]:
    """Read ``folder/rel`` as an 8-bit mask of the image's size and write it as the item's mask layer."""
    import numpy as np

    from ..assets.io import read_pil

    p = folder / rel
    if not p.is_file():
        raise InputError(f"mask {str(p)!r} of image {rel!r} is missing", hint="every image needs a mask at the same relative path, or leave out --masks")
    im = read_pil(p).convert("L")
    if im.size != size:
        raise InputError(f"mask {str(p)!r} is {im.size[0]}x{im.size[1]} but its image is {size[0]}x{size[1]}")
    arr = np.asarray(im, dtype=np.uint8)
    return write_mask(out, item_id, 255 - arr if invert else np.ascontiguousarray(arr))
