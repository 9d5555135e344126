"""WebDataset shards: ``OUT/shard-000000.tar`` ..., each sample keyed by the item's id with

- ``<id>.png``: the image, bytes unchanged;
- ``<id>.cls``: the reference cue's class index in the label space (ImageNet-1k: the
  model's output index; ``geirhos16``: the alphabetical category index), as decimal text,
  so ``.to_tuple("png", "cls")`` works;
- ``<id>.json``: the item's manifest entry (every cue, design factor, param);
- ``<id>.mask.png``: the foreground mask, for sets that have masks.

The tar files are written with fixed metadata (mtime 0, uid 0, mode 644), so the
same set always gives the same shard bytes; ``webdataset.WebDataset`` reads them.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from ...errors import InputError
from ...labels import label_space_names
from ..format import SetInfo
from ..writer import write_atomic
from .common import Entries, class_number, entry_with_file, safe_name, write_manifest

__all__ = ["export_webdataset"]


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = 0
    ti.mode = 0o644
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    tar.addfile(ti, io.BytesIO(data))


def export_webdataset(src: Path, info: SetInfo, entries: Entries, out: Path, *, shard_size: int = 1000) -> Path:
    """Write shards of ``shard_size`` samples; ``shards.txt`` lists them."""
    if shard_size < 1:
        raise InputError(f"shard_size must be >= 1, got {shard_size}")
    names = label_space_names(info.label_space)
    lines: list[str] = []
    shards: list[str] = []
    tar: tarfile.TarFile | None = None
    buf: io.BytesIO | None = None

    def close() -> None:
        if tar is not None and buf is not None:
            tar.close()
            write_atomic(out / shards[-1], buf.getvalue())

    for k, e in enumerate(entries.progress("export webdataset")):
        key = safe_name(e.id)
        if "." in key or key != e.id:
            raise InputError(f"item id {e.id!r} cannot be a WebDataset key (a dot reads as an extension; keys are file names)", hint="ids of letters, digits, '-' and '_'")
        if info.reference_cue not in e.cues:
            raise InputError(f"item {e.id!r} has no {info.reference_cue!r} cue (the set's reference cue), which .cls holds")
        if k % shard_size == 0:
            close()
            shards.append(f"shard-{len(shards):06d}.tar")
            buf = io.BytesIO()
            tar = tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT)
        assert tar is not None
        has_mask = "mask" in e.layers
        line = entry_with_file(e, f"{shards[-1]}#{key}.png", f"{shards[-1]}#{key}.mask.png" if has_mask else None)
        _add(tar, f"{key}.cls", str(class_number(e.cues[info.reference_cue], names, e.id)).encode())
        _add(tar, f"{key}.json", json.dumps(json.loads(line), sort_keys=True).encode("utf-8"))
        if has_mask:
            _add(tar, f"{key}.mask.png", (src / e.layers["mask"]["file"]).read_bytes())
        _add(tar, f"{key}.png", (src / e.file).read_bytes())
        lines.append(line)
    close()
    write_atomic(out / "shards.txt", "".join(s + "\n" for s in shards).encode())
    write_manifest(out, info, lines, "webdataset", src)
    return out
