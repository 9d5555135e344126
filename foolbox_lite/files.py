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
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import InputError

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "sha256_bytes", "sha256_file", "sha256_parts", "sha256_text", "disk_error"]


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


def disk_error(exc: OSError, path: str | os.PathLike[str]) -> InputError:
    """A one-line ``InputError`` for a failed write (disk full, read-only or unwritable folder)."""
    if exc.errno == errno.ENOSPC:
        return InputError(f"disk full while writing {str(path)!r}", hint="free space or choose another output folder")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return InputError(f"cannot write {str(path)!r}: {exc.strerror}", hint="choose a writable output folder")
    return InputError(f"cannot write {str(path)!r}: {exc}")


_TEMP_SERIAL = itertools.count()
_O_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _open_temp(p: Path) -> tuple[int, str]:
    """Create a new temporary file beside ``p`` (``.<name>.<pid>-<serial>.tmp``, mode 0o666 less the umask, as a
    plain ``open()`` gives); its descriptor and name.  The folder is made when it is missing.

    The name is unique per process and call, so threads and processes writing into one folder never meet;
    no random names, ``chmod`` or umask calls: a stimulus set's writers create two files per image.
    """
    made = False
    for _ in range(100):
        tmp = os.path.join(p.parent, f".{p.name}.{os.getpid()}-{next(_TEMP_SERIAL)}.tmp")
        try:
            return os.open(tmp, _O_NEW, 0o666), tmp
        except FileExistsError:  # a leftover of a killed process that had this pid: take the next serial
            continue
        except FileNotFoundError:
            if made:
                raise
            p.parent.mkdir(parents=True, exist_ok=True)  # another thread may make it at the same time
            made = True
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(p))  # pragma: no cover - 100 leftovers in a row


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], *, fsync: bool = False) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for binary writing; on success rename it to ``path``.

    On any error the temporary file is removed and nothing appears under ``path``;
    OS errors become :class:`InputError` naming the file.
    """
    p = Path(path)
    tmp: str | None = None
    try:
        fd, tmp = _open_temp(p)
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
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | memoryview, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (a temporary file renamed into place; see :func:`atomic_open`).

    The hot path of a build (two files per image): one ``open``, ``write``, ``close`` and ``rename``.
    """
    p = Path(path)
    tmp: str | None = None
    try:
        fd, tmp = _open_temp(p)
        try:
            view = memoryview(data).cast("B")
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, p)
        tmp = None
    except OSError as exc:
        raise disk_error(exc, p) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return p


def atomic_write_text(path: str | os.PathLike[str], text: str, *, fsync: bool = True) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)
