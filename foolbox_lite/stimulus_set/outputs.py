"""What a command owns in its output folder, so ``--force`` and failures remove only that.

``--force`` never deletes a folder whole: it removes the files the previous
manifest lists (``file``, ``sidecar``, every ``layers.*.file``; a ``shard.tar#member``
names ``shard.tar``), the command's fixed metadata files, files matching the
command's own name patterns (``images/000001.png``...) and its temporary files,
then the folders this leaves empty.  Anything else in the folder is left alone.
Inputs inside the output folder are refused before anything is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError
from .folder_lock import LOCK_NAME
from .safe_paths import check_relative, is_inside

__all__ = ["entry_files", "files_intact", "is_empty", "listed_files", "refuse_inputs_inside", "remove_outputs", "removed_on_failure"]


def entry_files(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every ``(file, sha256)`` one manifest line lists: the image, its sidecar and each layer (sha may be '')."""
    out: list[tuple[str, str]] = []
    if isinstance(raw.get("file"), str):
        out.append((raw["file"], str(raw.get("sha256", ""))))
    if raw.get("sidecar"):
        out.append((str(raw["sidecar"]), str(raw.get("sidecar_sha256", ""))))
    layers = raw.get("layers")
    if isinstance(layers, Mapping):
        for layer in layers.values():
            if isinstance(layer, Mapping) and isinstance(layer.get("file"), str):
                out.append((layer["file"], str(layer.get("sha256", ""))))
    return out


def files_intact(folder: Path, raw: Mapping[str, Any]) -> bool:
    """Every file a manifest line lists (image, sidecar, layers) lies inside ``folder`` and matches its sha256."""
    from ..files import sha256_file

    files = entry_files(raw)
    if not files or len(files) != len({f for f, _ in files}):
        return False
    for rel, sha in files:
        try:
            check_relative(rel)
        except InputError:
            return False
        p = folder / rel
        if not sha or not p.is_file() or p.is_symlink() or not is_inside(folder, p) or sha256_file(p) != sha:
            return False
    return True


def listed_files(folder: Path, manifests: Iterable[str]) -> set[str]:
    """Relative paths (inside ``folder``) that the given manifest files list; unreadable lines are skipped."""
    found: set[str] = set()
    for name in manifests:
        p = folder / name
        if not p.is_file():
            continue
        with open(p, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    raw = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(raw, dict):
                    continue
                for file, _ in entry_files(raw):
                    rel = file.split("#", 1)[0]
                    try:
                        found.add(check_relative(rel))
                    except InputError:
                        continue  # never remove anything outside the folder
    return found


def is_empty(folder: Path) -> bool:
    """True when ``folder`` holds nothing but our lock file."""
    return not any(p.name != LOCK_NAME for p in folder.iterdir())


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path)


def remove_outputs(folder: Path, *, manifests: Iterable[str], names: Iterable[str], patterns: Mapping[str, str] | None = None) -> None:
    """Remove what an earlier run of a command wrote into ``folder`` (see the module docstring).

    ``manifests``: manifest files whose listed files go; ``names``: fixed files or folders
    of the command; ``patterns``: ``{subfolder: regex}`` of file names the command writes there.
    """
    manifests = list(manifests)
    victims = {folder / rel for rel in listed_files(folder, manifests)}
    victims |= {folder / n for n in names} | {folder / n for n in manifests}
    subdirs = set()
    for sub, pattern in (patterns or {}).items():
        d = folder / sub
        subdirs.add(d)
        if d.is_dir() and not d.is_symlink():
            rx = re.compile(pattern)
            victims |= {p for p in d.iterdir() if rx.fullmatch(p.name) or (p.name.startswith(".") and p.name.endswith(".tmp"))}
    victims |= {p for p in folder.glob(".*.tmp")}
    for v in sorted(victims, key=lambda p: -len(p.parts)):
        if v != folder and is_inside(folder, v.parent) and (v.exists() or v.is_symlink()):
            _remove(v)
    parents = {v.parent for v in victims} | subdirs
    for d in sorted(parents, key=lambda p: -len(p.parts)):  # folders the removal emptied
        while d != folder and is_inside(folder, d):
            with contextlib.suppress(OSError):
                d.rmdir()
            d = d.parent


def refuse_inputs_inside(out: Path, inputs: Iterable[str | os.PathLike[str]], what: str = "input") -> None:
    """An :class:`InputError` when an input lies inside the output folder (or is it).

    ``--force`` would delete it, and a rebuild would read its own output.
    """
    real = os.path.realpath(out)
    prefix = real if real.endswith(os.sep) else real + os.sep
    for p in inputs:
        resolved = os.path.realpath(p)  # links followed, as is_inside does; one string call per input
        if resolved == real or resolved.startswith(prefix):
            raise InputError(
                f"{what} {str(p)!r} lies inside the output folder {str(out)!r}",
                hint="choose an output folder that holds none of the inputs (e.g. a sibling folder)",
            )


def _tree(folder: Path) -> set[Path]:
    found: set[Path] = set()
    for root, dirs, files in os.walk(folder):
        found.update(Path(root) / n for n in dirs + files)
    return found


@contextlib.contextmanager
def removed_on_failure(folder: Path, created: bool, *, keep_on_interrupt: bool = False) -> Iterator[None]:
    """On an error inside the block remove every file and folder the block added to ``folder``.

    What existed before the block is left alone; ``folder`` itself goes when this
    invocation created it and nothing else is left.  With ``keep_on_interrupt`` a
    Ctrl-C keeps the files (a build resumes from them).
    """
    before = _tree(folder)
    try:
        yield
    except BaseException as exc:
        if not (keep_on_interrupt and isinstance(exc, KeyboardInterrupt)):
            added = _tree(folder) - before
            for p in sorted(added, key=lambda q: -len(q.parts)):
                if p.name == LOCK_NAME and p.parent == folder:
                    continue
                with contextlib.suppress(OSError):
                    if p.is_dir() and not p.is_symlink():
                        p.rmdir()  # emptied by the removals before it (deepest first)
                    else:
                        p.unlink()
            if created:
                with contextlib.suppress(OSError):
                    if is_empty(folder):
                        (folder / LOCK_NAME).unlink(missing_ok=True)
                        folder.rmdir()
        raise
