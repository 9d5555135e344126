"""``foolbox-lite merge OUT1 OUT2 ... -o OUT``: shards of one build -> the set a single build gives.

The parts' manifests are concatenated in item order (each shard is a contiguous range, so
this streams with constant memory); every file a line names (image, sidecar, layers) is
checked against its sha256 and copied atomically into ``OUT`` unless it is already there.
``OUT`` may be one of the inputs (a folder every shard was built into): the set is then
finished in place and its ``shards/`` folder removed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import atomic_write_bytes, disk_error, sha256_bytes, sha256_file
from ..recipes.build import finish_set
from ..stimulus_set.format import MANIFEST
from ..stimulus_set.lock import read_lock
from ..stimulus_set.writer import PARTIAL, SHARDS, prepare_folder
from .shards import shard_engine

__all__ = ["ShardPart", "find_parts", "merge_sets"]


@dataclass(frozen=True)
class ShardPart:
    """One finished shard: its folder, range and header."""

    folder: Path
    k: int
    n: int
    start: int
    stop: int
    header: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.k}/{self.n}"

    @property
    def manifest(self) -> Path:
        return self.folder / SHARDS / f"{self.k}-of-{self.n}.jsonl"


def find_parts(folders: Sequence[str | os.PathLike[str]]) -> list[ShardPart]:
    """The shard parts in ``folders``, ordered by range; refuses unfinished shards and mixed builds."""
    parts: list[ShardPart] = []
    for f in map(Path, folders):
        if not f.is_dir():
            raise InputError(f"shard folder {str(f)!r} does not exist")
        headers = sorted((f / SHARDS).glob("*-of-*.json")) if (f / SHARDS).is_dir() else []
        if not headers:
            hint = "it is already a complete set" if (f / MANIFEST).is_file() else "build into it with 'foolbox-lite build RECIPE -o DIR --shard K/N'"
            raise InputError(f"{str(f)!r} holds no shard of a build ({SHARDS}/K-of-N.json)", hint=hint)
        for h in headers:
            try:
                head = json.loads(h.read_text(encoding="utf-8"))
                k, n = (int(v) for v in head["shard"])
                part = ShardPart(f, k, n, int(head["start"]), int(head["stop"]), head)
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(f"{str(h)!r} is not a shard header: {exc}", hint="rebuild that shard with --force") from None
            if not part.manifest.is_file():
                raise InputError(f"shard {part.name} in {str(f)!r} is unfinished (no {part.manifest.name})",
                                 hint=f"run its 'foolbox-lite build ... --shard {part.name} --resume' again, then merge")
            parts.append(part)
    keys = {p.header["build_key"] for p in parts}
    if len(keys) > 1:
        raise InputError("the shards come from different builds (recipe, assets, package versions or device differ)",
                         hint="merge only the shards of one recipe built with the same versions")
    parts.sort(key=lambda p: (p.start, p.stop))
    total = int(parts[0].header["meta"]["n"])
    at = 0
    for p in parts:
        if p.start > at:
            raise InputError(f"items {at}..{p.start - 1} are in none of the shards given", hint="build and pass the missing shard(s)")
        if p.start < at:
            twin = next(q for q in parts if q is not p and q.start <= p.start < q.stop)
            raise InputError(f"shard {p.name} in {str(p.folder)!r} overlaps shard {twin.name} in {str(twin.folder)!r}", hint="pass each shard once")
        at = p.stop
    if at != total:
        raise InputError(f"items {at}..{total - 1} are in none of the shards given", hint="build and pass the missing shard(s)")
    return parts


def _line_files(raw: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(relative path, sha256)`` of every file a manifest line names: image, sidecar, layers."""
    yield str(raw["file"]), str(raw["sha256"])
    if raw.get("sidecar"):
        yield str(raw["sidecar"]), str(raw["sidecar_sha256"])
    for layer in (raw.get("layers") or {}).values():
        yield str(layer["file"]), str(layer["sha256"])


def _bring(src: Path, dst: Path, sha: str, what: str) -> None:
    """Check ``src`` against ``sha`` and copy it atomically to ``dst`` (nothing to copy when they are the same file)."""
    if not src.is_file():
        raise InputError(f"{what}: {str(src)!r} is missing", hint="rebuild that shard with --resume")
    if src == dst:
        ok = sha256_file(src) == sha
        data = b""
    else:
        data = src.read_bytes()
        ok = sha256_bytes(data) == sha
    if not ok:
        raise InputError(f"{what}: {str(src)!r} does not match its sha256 in the shard's manifest", hint="rebuild that shard with --resume")
    if data:
        atomic_write_bytes(dst, data, fsync=False)


def merge_sets(inputs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str] | None = None, *, force: bool = False, progress: bool = True) -> Path:
    """Merge the shards in ``inputs`` into the set ``out_dir`` (default: the single input, in place); returns it."""
    if not inputs:
        raise InputError("merge needs at least one shard folder")
    if out_dir is None:
        if len(inputs) != 1:
            raise InputError("merge of several folders needs -o OUT", hint="or pass the one folder every shard was built into")
        out_dir = inputs[0]
    parts = find_parts(inputs)
    out = Path(out_dir)
    in_place = any(out.resolve() == p.folder.resolve() for p in parts)
    if not in_place:
        prepare_folder(out, resume=False, force=force)
    lock = read_lock(parts[0].folder)
    lock["engine"] = shard_engine(len(parts))
    lock["device"] = parts[0].header["device"]  # in a local build's key order (YAML sorted them)
    from tqdm.auto import tqdm

    partial = out / PARTIAL
    n_lines = 0
    with tqdm(total=parts[-1].stop, unit="item", desc="merge", disable=not progress, dynamic_ncols=True) as bar:
        try:
            fh = open(partial, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise disk_error(exc, partial) from exc
        with fh:
            for p in parts:
                same = out.resolve() == p.folder.resolve()
                expect = p.start
                with open(p.manifest, encoding="utf-8") as src:
                    for no, line in enumerate(src, 1):
                        try:
                            raw = json.loads(line)
                            index = int(raw["index"])
                        except (ValueError, KeyError, TypeError):
                            raise InputError(f"{str(p.manifest)!r} line {no} is not a manifest line", hint=f"rebuild shard {p.name} with --force") from None
                        if index not in (expect, expect - 1) or not line.endswith("\n"):  # expect - 1: extra lines of one item
                            raise InputError(f"{str(p.manifest)!r} line {no} is item {index}, expected {expect}", hint=f"rebuild shard {p.name} with --force")
                        for rel, sha in _line_files(raw):
                            _bring(p.folder / rel, (p.folder if same else out) / rel, sha, f"item {index} of shard {p.name}")
                        fh.write(line)
                        n_lines += 1
                        if index == expect:
                            expect += 1
                            bar.update(1)
                if expect != p.stop:
                    raise InputError(f"{str(p.manifest)!r} ends at item {expect - 1}; shard {p.name} covers {p.start}..{p.stop - 1}",
                                     hint=f"rebuild shard {p.name} with --resume")
            fh.flush()
            os.fsync(fh.fileno())
    finish_set(out, parts[0].header["meta"], lock, partial)
    try:
        os.replace(partial, out / MANIFEST)
    except OSError as exc:
        raise disk_error(exc, out / MANIFEST) from exc
    if in_place:  # now a finished set: drop the parts and any temporary file a killed shard left
        shutil.rmtree(out / SHARDS, ignore_errors=True)
        prepare_folder(out, resume=True, force=False)
    return out
