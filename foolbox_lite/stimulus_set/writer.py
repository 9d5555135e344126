"""Streaming writer of a stimulus set: PNGs encoded in worker threads, manifest in item order.

- Each image is encoded to PNG bytes (:mod:`~foolbox_lite.stimulus_set.png`: by default stored
  without compression, the cheapest lossless PNG to write and to read; the encoders release the
  GIL so writer threads overlap), hashed and written under a temporary name, then renamed:
  a killed build never leaves a partial image under its final name.
- The manifest is streamed to ``manifest.jsonl.partial`` in item order whatever
  order the workers finish in, and renamed to ``manifest.jsonl`` when the build
  completes; a folder without ``manifest.jsonl`` is an unfinished build.
- ``--resume`` keeps every earlier image whose bytes match its manifest line and
  rebuilds the rest, giving the bytes of an uninterrupted build.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..files import atomic_write_bytes, disk_error, sha256_bytes
from .format import MANIFEST, SET_INFO
from .outputs import files_intact, is_empty, remove_outputs
from .png import PNG_COMPRESSION, check_compression, encode_png

__all__ = ["DATASHEET", "IMAGES", "LOCK", "PARTIAL", "SHARDS", "OrderedSink", "encode_png", "prepare_folder", "read_resumable", "write_atomic"]

PARTIAL = MANIFEST + ".partial"
LOCK = "recipe.lock.yaml"
DATASHEET = "DATASHEET.md"
IMAGES = "images"
#: Folder of the manifest parts of ``build --shard K/N`` (see foolbox_lite.scale.shards).
SHARDS = "shards"
#: Folder of per-item layers such as ``masks/<id>.png`` (see :mod:`foolbox_lite.stimulus_set.layers`).
MASKS = "masks"
#: Files a build owns besides those its manifest lists (``--force`` removes only these, see stimulus_set.outputs).
OWNED = (MANIFEST, PARTIAL, SET_INFO, LOCK, DATASHEET)
#: Names a build gives its per-item files: ``images/<id>.png``, ``images/<id>.f32.npy``, ``masks/<id>.png``,
#: where ids are item numbers, with ``-<cue>`` for control twins.
OWNED_PATTERNS = {IMAGES: r"\d+(-\w+)?(\.png|\.f32\.npy)", MASKS: r"\d+(-\w+)?\.png", SHARDS: r"\d+-of-\d+\.(json|jsonl|jsonl\.partial)"}


def write_atomic(path: Path, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` under a temporary name in the same folder, then rename it to ``path``."""
    atomic_write_bytes(path, data, fsync=fsync)


def _remove_temps(folder: Path) -> None:
    for d in (folder, folder / IMAGES, folder / MASKS):
        if d.is_dir():
            for p in d.glob(".*.tmp"):
                p.unlink(missing_ok=True)


def prepare_folder(folder: Path, *, resume: bool, force: bool, shared: bool = False) -> None:
    """Create the output folder; refuse a non-empty one unless ``resume`` or ``force``.

    ``shared``: other processes (shards) may be writing into the folder now, so their
    temporary files are left alone.
    """
    if folder.exists() and not folder.is_dir():
        raise InputError(f"output {str(folder)!r} exists and is not a folder", hint="choose another -o")
    if folder.is_dir() and not is_empty(folder):
        if force and not resume:
            remove_outputs(folder, manifests=(MANIFEST, PARTIAL), names=OWNED, patterns=OWNED_PATTERNS)
        elif not resume:
            raise InputError(
                f"output folder {str(folder)!r} is not empty",
                hint="pass --resume to complete an interrupted build of the same recipe, or --force to overwrite it",
            )
    try:
        (folder / IMAGES).mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder / IMAGES, prefix=".probe.", suffix=".tmp", delete=True)
        probe.close()
    except OSError as exc:
        raise disk_error(exc, folder) from exc
    if not shared:
        _remove_temps(folder)


def read_resumable(folder: Path, check: Callable[[dict], bool] | None = None, slot: Callable[[dict], int] | None = None,
                   files: Sequence[str] = (MANIFEST, PARTIAL)) -> dict[int, str]:
    """Manifest lines of an earlier build whose files (image, sidecar, layers) exist inside the set with their sha256,
    by item index (or by ``slot(line)``, the line's position, when a set holds several images per index).

    Reads ``files`` (``manifest.jsonl`` and ``manifest.jsonl.partial``, relative to ``folder``);
    torn or unparsable lines (a build killed mid-write) are ignored, as are images that do not match.
    """
    lines: dict[int, str] = {}
    for name in files:
        p = folder / name
        if not p.is_file():
            continue
        with open(p, encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    continue
                try:
                    raw = json.loads(line)
                    idx = slot(raw) if slot else int(raw["index"])
                except (ValueError, KeyError, TypeError):
                    continue
                if check is not None and not check(raw):
                    continue
                if files_intact(folder, raw):
                    lines[idx] = line
    return lines


class OrderedSink:
    """Encodes and writes images in worker threads and emits their manifest lines in item order.

    ``submit(index, path, array, make_line)`` queues one image; ``make_line(sha256)``
    builds its manifest line.  ``old`` holds lines of a resumed build for indices that
    are not resubmitted.  At most ``max_pending`` images are in flight (memory stays flat).
    Images are encoded at ``png_compression`` (0, stored, by default; see :mod:`.png`).
    The sink covers items ``start..n-1`` and streams their lines to ``path``
    (default ``manifest.jsonl.partial``), renamed to ``final`` (default ``manifest.jsonl``) on commit.
    """

    def __init__(self, folder: Path, n: int, *, workers: int = 0, old: dict[int, str] | None = None, max_pending: int = 256,
                 start: int = 0, path: Path | None = None, final: Path | None = None, png_compression: int = PNG_COMPRESSION) -> None:
        self.folder = folder
        self.png_compression = check_compression(png_compression)
        self.n = n
        self.final = final or folder / MANIFEST
        self.old = dict(old or {})
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fl-png") if workers > 0 else None
        self.max_pending = max(1, max_pending)
        self.pending: deque[tuple[int, Future[str] | str, Callable[[str], str]]] = deque()
        self.next_index = start
        self.path = path or folder / PARTIAL
        try:
            self.fh = open(self.path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise disk_error(exc, self.path) from exc
        self.written = 0

    def _encode_write(self, path: Path, arr: np.ndarray, before: Callable[[], object] | None = None) -> str:
        if before is not None:
            before()  # the image's other files (its mask), on disk before its manifest line
        data = encode_png(arr, self.png_compression)
        write_atomic(path, data)
        return sha256_bytes(data)

    def start(self, path: Path, arr: np.ndarray, before: Callable[[], object] | None = None) -> Future[str]:
        """Begin encoding and writing one image in a worker thread now, before its manifest position is queued
        (a build starts each group of a batch as soon as it is computed); hand the future to :meth:`submit`.
        ``arr`` must not change until the future is done.  Needs ``workers > 0``."""
        if self.pool is None:
            raise RuntimeError("OrderedSink.start needs writer threads (workers > 0)")
        return self.pool.submit(self._encode_write, path, arr, before)

    def submit(self, index: int, path: Path, arr: np.ndarray | None, make_line: Callable[[str], str], *, before: Callable[[], object] | None = None,
               started: Future[str] | None = None) -> None:
        """Queue one image at manifest position ``index`` (ascending); ``before`` (if given) runs first in the same worker
        thread (e.g. writes the image's mask), and finishes before ``make_line`` is called.  ``started``: the future
        :meth:`start` returned for this image, which is then not written again (``arr`` and ``before`` are ignored)."""
        if started is not None:
            self.pending.append((index, started, make_line))
        elif self.pool is None:
            assert arr is not None
            self.pending.append((index, self._encode_write(path, arr, before), make_line))
        else:
            assert arr is not None
            self.pending.append((index, self.pool.submit(self._encode_write, path, arr, before), make_line))
        while len(self.pending) > self.max_pending:
            self._emit_one()

    def submit_line(self, index: int, line: str) -> None:
        """Queue the manifest line of an item whose files were written elsewhere (by a Ray worker)."""
        self.pending.append((index, "", lambda _sha: line))
        while len(self.pending) > self.max_pending:
            self._emit_one()

    def _emit_until(self, index: int) -> None:
        """Write the old lines of resumed items before ``index``."""
        while self.next_index < index:
            line = self.old.get(self.next_index)
            if line is None:
                raise RuntimeError(f"item {self.next_index} was neither built nor found in the earlier build")
            self._write(line)
            self.next_index += 1

    def _emit_one(self) -> None:
        index, fut, make_line = self.pending.popleft()
        sha = fut if isinstance(fut, str) else fut.result()
        self._emit_until(index)
        self._write(make_line(sha))
        self.next_index = index + 1
        self.written += 1

    def _write(self, line: str) -> None:
        try:
            self.fh.write(line)
        except OSError as exc:
            raise disk_error(exc, self.path) from exc

    def flush(self) -> None:
        """Emit every finished image (call between batches)."""
        while self.pending and (isinstance(self.pending[0][1], str) or self.pending[0][1].done()):
            self._emit_one()
        self.fh.flush()

    def drain(self) -> None:
        """Finish every image and write the remaining old lines (the partial manifest is then complete)."""
        while self.pending:
            self._emit_one()
        self._emit_until(self.n)
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
        except OSError as exc:
            raise disk_error(exc, self.path) from exc
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    def commit(self) -> Path:
        """Rename the complete manifest into place: from now on the folder is a finished stimulus set."""
        try:
            _fsync_dir(self.folder / IMAGES)
            os.replace(self.path, self.final)
            _fsync_dir(self.final.parent)
        except OSError as exc:
            raise disk_error(exc, self.final) from exc
        return self.final

    def abort(self) -> None:
        """Stop after an error or Ctrl-C: finish images being written, keep the partial manifest."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        try:
            while self.pending:
                fut = self.pending[0][1]
                if not isinstance(fut, str) and (fut.cancelled() or fut.exception() is not None):
                    break
                self._emit_one()
        except Exception:  # noqa: BLE001 - best effort; resume re-verifies everything
            pass
        try:
            if not self.fh.closed:
                self.fh.flush()
                self.fh.close()
        except OSError:
            pass


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
