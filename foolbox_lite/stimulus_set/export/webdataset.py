"""WebDataset shards: ``OUT/shard-000000.tar`` ..., each sample ``<id>.png`` + ``<id>.json`` (its manifest entry).

The tar files are written with fixed metadata (mtime 0, uid 0, mode 644), so the
same set always gives the same shard bytes; ``webdataset.WebDataset`` reads them.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from ...errors import InputError
from ..format import SetInfo
from ..writer import write_atomic
from .common import Entries, entry_with_file, write_manifest

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
    lines: list[str] = []
    shards: list[str] = []
    tar: tarfile.TarFile | None = None
    buf: io.BytesIO | None = None

    def close() -> None:
        if tar is not None and buf is not None:
            tar.close()
            write_atomic(out / shards[-1], buf.getvalue())

    for k, e in enumerate(entries):
        if "." in e.id:
            raise InputError(f"item id {e.id!r} contains a dot, which WebDataset reads as an extension")
        if k % shard_size == 0:
            close()
            shards.append(f"shard-{len(shards):06d}.tar")
            buf = io.BytesIO()
            tar = tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT)
        assert tar is not None
        line = entry_with_file(e, f"{shards[-1]}#{e.id}.png")
        _add(tar, f"{e.id}.png", (src / e.file).read_bytes())
        _add(tar, f"{e.id}.json", json.dumps(json.loads(line), sort_keys=True).encode("utf-8"))
        lines.append(line)
    close()
    write_atomic(out / "shards.txt", "".join(s + "\n" for s in shards).encode())
    write_manifest(out, info, lines, "webdataset")
    return out
