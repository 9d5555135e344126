"""Paths that come from data (manifest ids, file fields, labels) kept inside their folder.

A manifest, a recipe or a metadata file may be written by someone else.  Every
path component taken from such data is checked (:func:`check_component`) or
sanitised (:func:`safe_component`), every relative file field is checked
(:func:`check_relative`), and every destination or source is confirmed to resolve
inside its root (:func:`inside`) before a byte is read or written.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from ..errors import InputError, short_repr

__all__ = ["MAX_COMPONENT", "check_component", "check_relative", "inside", "inside_of", "is_inside", "not_a_file", "safe_component"]

#: Longest path component accepted (bytes of UTF-8; most file systems allow 255).
MAX_COMPONENT = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


def safe_component(text: str, what: str = "name") -> str:
    """``text`` as one path component: separators, control and shell-special characters become ``_``.

    Leading dots and spaces are dropped (no ``..``, no hidden files); an empty result is an error.
    """
    name = _UNSAFE.sub("_", str(text)).strip(" ").lstrip(".").strip(" ")
    if not name:
        raise InputError(f"{what} {_short(text)} cannot be used as a file or folder name")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_COMPONENT:
        raise InputError(f"{what} {_short(text)} is too long for a file name (over {MAX_COMPONENT} bytes)")
    return name


def check_component(text: object, what: str = "id") -> str:
    """``text`` unchanged if it is a safe single path component; else an :class:`InputError`."""
    if not isinstance(text, str) or not text or text != safe_component(text, what):
        raise InputError(f"{what} {_short(text)} is not a plain name (it holds a path separator, '..', a leading dot or a control character)",
                         hint="ids and labels name files; the manifest may have been edited by hand")
    return text


def check_relative(rel: object, what: str = "file") -> str:
    """A relative POSIX path without ``..``, ``.`` or empty parts, backslashes, or NUL; else an :class:`InputError`."""
    ok = isinstance(rel, str) and rel and "\\" not in rel and "\x00" not in rel and not rel.startswith("/") and not re.match(r"^[A-Za-z]:", rel)
    if ok:
        parts = PurePosixPath(rel).parts
        ok = bool(parts) and all(p not in ("", ".", "..") for p in parts) and rel.split("/") == list(parts)
    if not ok:
        raise InputError(f"{what} {_short(rel)} points outside the set (absolute, or with '..')",
                         hint="a manifest's file fields are relative paths inside the set's folder")
    return rel  # type: ignore[return-value]


def is_inside(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` resolves (following links) to ``root`` itself or somewhere below it."""
    r, p = Path(root).resolve(), Path(path).resolve()
    return p == r or r in p.parents


def inside(root: str | os.PathLike[str], rel: str | os.PathLike[str], what: str = "file") -> Path:
    """``root / rel`` after confirming it resolves inside ``root`` (links included); else an :class:`InputError`."""
    return inside_of(root)(rel, what)


def inside_of(root: str | os.PathLike[str]) -> Callable[[str | os.PathLike[str], str], Path]:
    """:func:`inside` for many files of one ``root``: the root and each folder are resolved once, each file by one ``lstat``."""
    base = Path(root)
    real = os.path.realpath(base)
    prefix = real if real.endswith(os.sep) else real + os.sep

    parents: dict[str, str] = {}

    def resolve(path: Path) -> str:
        """``os.path.realpath(path)``, with each folder resolved once: a plain file costs one ``lstat``."""
        text = str(path)
        folder, name = os.path.split(text)
        if name in ("", ".", ".."):
            return os.path.realpath(text)
        try:
            if stat.S_ISLNK(os.lstat(text).st_mode):
                return os.path.realpath(text)
        except OSError:
            pass  # missing: realpath keeps the last component as it is, and so does this
        real_folder = parents.get(folder)
        if real_folder is None:
            real_folder = parents[folder] = os.path.realpath(folder)
        return os.path.join(real_folder, name)

    def check(rel: str | os.PathLike[str], what: str = "file") -> Path:
        path = base / rel
        resolved = resolve(path)
        if resolved == real or not resolved.startswith(prefix):  # the root itself, or outside it
            raise InputError(f"{what} {_short(str(rel))} resolves to {_short(resolved)}, outside {_short(str(root))}",
                             hint="refusing to read or write outside the folder; check for '..' or symbolic links")
        return path

    return check


def not_a_file(path: str | os.PathLike[str]) -> str:
    """Why ``path`` is not a readable regular file: 'does not exist', 'is a folder', 'is a device'..."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be opened ({exc.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(st.st_mode):
        return "is a FIFO (named pipe), not a regular file"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(st.st_mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def _short(value: object) -> str:
    return short_repr(value)
