"""Glob with bounded work: a pattern such as ``/**/*.png`` must not walk the whole disk.

:func:`bounded_glob` matches like ``glob.glob(pattern, recursive=True)`` (``**`` spans
folders, names starting with a dot match only a pattern part starting with a dot)
but counts every folder entry it looks at and the time it takes, and stops with a
clear :class:`AssetError` past :data:`MAX_ENTRIES` entries, :data:`MAX_SECONDS`
seconds or ``max_matches`` matches; ``**`` does not descend into linked folders
(a link loop cannot make it spin).  File names that are not valid UTF-8 are refused
(they cannot be recorded in a lock file or manifest).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import time
from pathlib import Path

from ..errors import AssetError

__all__ = ["MAX_ENTRIES", "MAX_SECONDS", "bounded_glob", "check_utf8_name"]

#: Folder entries one pattern may look at.
MAX_ENTRIES = 1_000_000
#: Seconds one pattern may take.
MAX_SECONDS = 30.0


def check_utf8_name(path: str | os.PathLike[str]) -> str:
    """``str(path)`` if it is valid UTF-8 text; file names with other bytes are refused with a readable name."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(text).decode("utf-8", "backslashreplace")
        raise AssetError(f"file name '{shown}' is not valid UTF-8", hint="rename the file (lock files and manifests record names as UTF-8 text)") from None
    return text


def _hidden(name: str, part: str) -> bool:
    return name.startswith(".") and not part.startswith(".")


def bounded_glob(pattern: str, *, max_matches: int = 100_000, max_entries: int = MAX_ENTRIES, max_seconds: float = MAX_SECONDS) -> list[str]:
    """Sorted paths matching ``pattern`` (files and folders), with the work bounded (see the module docstring)."""
    parts = Path(pattern).parts
    k = 0
    while k < len(parts) and not glob.has_magic(parts[k]):
        k += 1
    base = Path(*parts[:k]) if k else Path(".")
    rest = parts[k:]
    if not rest:
        return [pattern] if os.path.lexists(pattern) else []
    start = time.monotonic()
    entries = 0
    found: set[str] = set()
    stack: list[tuple[str, int]] = [(str(base), 0)]
    done: set[tuple[str, int]] = set()

    def budget() -> None:
        if entries > max_entries:
            raise AssetError(f"pattern {pattern!r} looks at more than {max_entries} files and folders", hint="narrow the glob (e.g. a folder instead of /**)")
        if entries % 1024 == 0 and time.monotonic() - start > max_seconds:
            raise AssetError(f"pattern {pattern!r} took more than {max_seconds:g} s to expand", hint="narrow the glob (e.g. a folder instead of /**)")
        if len(found) > max_matches:
            raise AssetError(f"pattern {pattern!r} matches more than {max_matches} files", hint="narrow the glob")

    while stack:
        folder, i = stack.pop()
        if (folder, i) in done:
            continue
        done.add((folder, i))
        part, last = rest[i], i == len(rest) - 1
        if part == "**" and not last:
            stack.append((folder, i + 1))  # '**' matches no folder too
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    entries += 1
                    budget()
                    path = entry.path if k else os.path.relpath(entry.path)  # a relative pattern gives relative paths
                    if part == "**":
                        if _hidden(entry.name, part):
                            continue
                        if last:
                            found.add(path)
                        if entry.is_dir(follow_symlinks=False):  # '**' does not follow links: no loops
                            stack.append((path, i))
                    elif fnmatch.fnmatch(entry.name, part) and not _hidden(entry.name, part):
                        if last:
                            found.add(path)
                        elif entry.is_dir():
                            stack.append((path, i + 1))
        except OSError:  # unreadable folders are skipped, as glob does
            continue
    budget()
    return sorted(found)
