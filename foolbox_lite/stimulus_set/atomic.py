"""Atomic file writing: a temporary file in the same folder, renamed into place.

An interrupted write (Ctrl-C, kill, disk full) never leaves a partial file under
the final name; disk-full and permission errors become clear ``InputError``s.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from ..errors import InputError

__all__ = ["atomic_write_bytes", "atomic_write_text", "sha256_bytes", "sha256_file"]


def sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (fsync'd temp file + ``os.replace``)."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except PermissionError as exc:
        raise InputError(f"cannot write to folder {str(p.parent)!r}: permission denied", hint="choose a writable output folder") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise InputError(f"disk full while writing {str(p)!r}", hint="free space or choose another output folder") from exc
        raise
    return p


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
