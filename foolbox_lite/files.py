"""Files and hashes, at the bottom of the import graph: atomic writes and SHA-256 helpers.

An interrupted write (Ctrl-C, kill, disk full) never leaves a partial file under
the final name (a temporary file in the same folder, renamed into place); disk-full
and permission errors become clear ``InputError``s.  Every SHA-256 in the package
(files, bytes, text, images) comes from here.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import InputError

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "sha256_bytes", "sha256_file", "sha256_parts", "sha256_text", "file_mode", "disk_error"]


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    """Hex SHA-256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_parts(*parts: bytes | str) -> str:
    """Hex SHA-256 of the parts one after the other (text as UTF-8): the hash of their concatenation, without copying."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
    return h.hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (0o666 less the umask); mkstemp's 0o600 is too strict."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def disk_error(exc: OSError, path: str | os.PathLike[str]) -> InputError:
    """A one-line ``InputError`` for a failed write (disk full, read-only or unwritable folder)."""
    if exc.errno == errno.ENOSPC:
        return InputError(f"disk full while writing {str(path)!r}", hint="free space or choose another output folder")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return InputError(f"cannot write {str(path)!r}: {exc.strerror}", hint="choose a writable output folder")
    return InputError(f"cannot write {str(path)!r}: {exc}")


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], *, fsync: bool = False) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for binary writing; on success rename it to ``path``.

    On any error the temporary file is removed and nothing appears under ``path``;
    OS errors become :class:`InputError` naming the file.
    """
    p = Path(path)
    tmp: str | None = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, p)
        tmp = None
    except OSError as exc:
        raise disk_error(exc, p) from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, fsync=fsync) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, fsync: bool = True) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)
