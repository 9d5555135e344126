"""``build --shard K/N``: build one contiguous part of a set's items, without any cluster manager.

Shard ``K`` of ``N`` (``K`` counts from 0, as Slurm's ``$SLURM_ARRAY_TASK_ID`` does with
``--array=0-(N-1)``) builds items ``[K*n//N, (K+1)*n//N)``.  Contiguous ranges rather than
items ``K, K+N, ...``: merging is then a concatenation of the parts' manifests in shard order
(streamed, constant memory), and the items of one design cell stay together, so a batch
runs one pipeline instead of many small groups.

A shard writes, into ``OUT`` (its own folder, or one folder shared by every shard, which is
why a shard does not take the exclusive folder lock of a whole build):

    images/<id>.png ...           its items, written atomically like any build
    recipe.lock.yaml              the build's lock (the same for every shard)
    shards/K-of-N.json            the shard's range and what finishing the set needs
    shards/K-of-N.jsonl           its manifest lines, in item order (``.partial`` while building)

``foolbox-lite merge`` (:mod:`foolbox_lite.scale.merge`) turns the parts into the set a
single build gives.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import atomic_write_text
from ..recipes.build import (
    Builder,
    build_with_progress,
    check_build_args,
    check_same_build,
    default_writers,
    one_torch_thread,
    set_meta,
    todo_items,
)
from ..recipes.load import load_recipe
from ..stimulus_set.folder_lock import LOCK_NAME
from ..stimulus_set.format import MANIFEST
from ..stimulus_set.lock import LOCK, write_lock
from ..stimulus_set.writer import IMAGES, SHARDS, OrderedSink, prepare_folder, read_resumable

__all__ = ["build_shard", "parse_shard", "shard_files", "shard_range"]

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(shard: str | tuple[int, int]) -> tuple[int, int]:
    """``"K/N"`` (or ``(K, N)``) -> ``(K, N)`` with ``0 <= K < N``."""
    if isinstance(shard, str):
        m = _SHARD.match(shard)
        if not m:
            raise InputError(f"--shard must look like K/N (for example 0/3), got {shard!r}", hint="K counts from 0: the shards of 3 are 0/3, 1/3 and 2/3")
        k, n = int(m.group(1)), int(m.group(2))
    else:
        k, n = shard
    if isinstance(k, bool) or isinstance(n, bool) or not isinstance(k, int) or not isinstance(n, int) or n < 1 or not 0 <= k < n:
        raise InputError(f"shard {k}/{n} does not exist: K must be 0..N-1 and N at least 1", hint="K counts from 0: the shards of 3 are 0/3, 1/3 and 2/3")
    return k, n


def shard_range(n_items: int, k: int, n: int) -> tuple[int, int]:
    """The contiguous item range ``[start, stop)`` of shard ``k`` of ``n`` (sizes differ by at most one)."""
    return k * n_items // n, (k + 1) * n_items // n


def shard_files(out: Path, k: int, n: int) -> tuple[Path, Path, Path]:
    """``(header .json, manifest part .jsonl, its .partial)`` of shard ``k`` of ``n`` in ``out``."""
    stem = out / SHARDS / f"{k}-of-{n}"
    return stem.with_suffix(".json"), stem.with_suffix(".jsonl"), stem.with_suffix(".jsonl.partial")


def shard_engine(n: int) -> dict[str, Any]:
    """The lock's ``engine`` field of a set built as ``n`` shards (the only lock field that differs from a local build)."""
    return {"name": "shards", "shards": n}


def _open_shard(builder: Builder, out: Path, lock: dict[str, Any], k: int, n: int, *, resume: bool, force: bool) -> dict[int, str]:
    """Prepare ``out`` for shard ``k``/``n``; the verified lines of its earlier items when resuming.

    A folder holding other shards of the same build is expected (a shared ``OUT``; shards that
    start together all write the same lock file); one holding another build is refused unless
    ``force``.  Temporary files are left alone: other shards may be writing.
    """
    _, part, partial = shard_files(out, k, n)
    starting = _starting(out)
    if not starting and force and not _same_build(out, lock):
        prepare_folder(out, resume=False, force=True, shared=True)
        starting = True
    if starting:
        prepare_folder(out, resume=True, force=False, shared=True)
        write_lock(out, lock)
        return {}
    if not (out / LOCK).is_file() and not resume:
        prepare_folder(out, resume=False, force=False)  # the usual "not empty" error
    check_same_build(out, lock, "a shared OUT holds shards of one build only; use another folder, or --force to overwrite it")
    if (out / MANIFEST).is_file():
        raise InputError(f"{str(out)!r} is already a complete stimulus set", hint="build shards into another folder, or use --force to overwrite it")
    if (part.is_file() or partial.is_file()) and not (resume or force):
        raise InputError(f"shard {k}/{n} was already built into {str(out)!r}", hint="pass --resume to complete it, or --force to rebuild it")
    prepare_folder(out, resume=True, force=False, shared=True)
    if force:
        part.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
        return {}
    files = [p.relative_to(out).as_posix() for p in (part, partial) if p.is_file()]
    return read_resumable(out, builder.resumable, slot=builder.slot, files=files) if resume else {}


def _starting(out: Path) -> bool:
    """``out`` is missing, empty, or holds only what shards starting right now write before the lock."""
    if not out.is_dir():
        return True
    if (out / LOCK).is_file():
        return False
    def temp(p: Path) -> bool:
        return p.name.startswith(".") and p.name.endswith(".tmp")

    return all(temp(p) or p.name == LOCK_NAME or (p.name in (IMAGES, SHARDS) and p.is_dir() and all(map(temp, p.iterdir()))) for p in out.iterdir())


def _same_build(out: Path, lock: dict[str, Any]) -> bool:
    from ..stimulus_set.lock import read_lock

    try:
        return (out / LOCK).is_file() and read_lock(out).get("build_key") == lock["build_key"]
    except InputError:
        return False


def build_shard(
    recipe_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    shard: str | tuple[int, int],
    *,
    batch_size: int = 32,
    device: str = "cpu",
    workers: int | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Build shard ``K/N`` of a recipe's items into ``out_dir`` (see the module docstring); returns its manifest part."""
    k, n = parse_shard(shard)
    check_build_args(batch_size, workers)
    with one_torch_thread():
        recipe = load_recipe(recipe_path)
        builder = Builder(recipe, device=device)
        out = Path(out_dir)
        lock = builder.lock() | {"engine": shard_engine(n)}
        start, stop = shard_range(builder.plan.n, k, n)
        slots = builder.slots  # manifest positions: an item, then its control twins
        old = {i: line for i, line in _open_shard(builder, out, lock, k, n, resume=resume, force=force).items() if start * slots <= i < stop * slots}
        header, part, partial = shard_files(out, k, n)
        # key order kept: the datasheet lists the device's fields in the order a local build has them
        info = {"shard": [k, n], "start": start, "stop": stop, "build_key": lock["build_key"], "device": lock["device"], "meta": set_meta(builder)}
        atomic_write_text(header, json.dumps(info, indent=1) + "\n")
        part.unlink(missing_ok=True)
        todo = todo_items(builder, old, start, stop)
        sink = OrderedSink(out, stop * slots, workers=default_writers() if workers is None else workers, old=old, max_pending=builder.max_pending(batch_size), start=start * slots, path=partial, final=part,
                           png_compression=recipe.png_compression)
        build_with_progress(builder, out, todo, sink, batch_size=batch_size, initial=stop - start - len(todo), desc=f"build {recipe.name} shard {k}/{n}", progress=progress)
        return sink.commit()
