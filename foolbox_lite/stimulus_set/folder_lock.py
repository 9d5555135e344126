"""An exclusive lock on an output folder, so two commands never write one folder at once.

``build``, ``export``, ``import`` and ``evaluate`` hold :func:`lock_folder` on their
output folder while they work: a second process gets an :class:`InputError`
"... is in use by pid N" (exit code 2) instead of destroying the first one's files.
The lock is an ``flock`` on ``OUT/.foolbox-lite.lock`` (released by the kernel when
the process dies, so a killed command never leaves a stale lock); the file holds
the owner's pid and is removed on release.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..files import disk_error

__all__ = ["LOCK_NAME", "FolderLock", "check_writable", "lock_folder"]

LOCK_NAME = ".foolbox-lite.lock"


@dataclass
class FolderLock:
    """A held lock: the folder, and whether this process created the folder (to remove it on failure)."""

    folder: Path
    created: bool
    fd: int

    @property
    def path(self) -> Path:
        return self.folder / LOCK_NAME

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            st = os.fstat(self.fd)
            cur = os.stat(self.path)
            if (st.st_dev, st.st_ino) == (cur.st_dev, cur.st_ino):
                os.unlink(self.path)
        os.close(self.fd)  # closing drops the flock
        self.fd = -1


def _owner(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return "another process"
    return f"pid {text}" if text.isdigit() else "another process"


def _acquire(folder: Path, created: bool) -> FolderLock:
    import fcntl

    path = folder / LOCK_NAME
    for _ in range(20):  # retry while a releasing owner unlinks the file we opened
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise disk_error(exc, folder) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InputError(
                    f"{str(folder)!r} is in use by {_owner(path)}",
                    hint="wait for the other foolbox-lite command to finish, or choose another output folder",
                ) from None
            raise disk_error(exc, path) from exc
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the previous owner removed the file between our open and flock
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return FolderLock(folder, created, fd)
    raise InputError(f"cannot lock {str(folder)!r}: the lock file keeps changing", hint="another command is starting and stopping in this folder")


def check_writable(folder: str | os.PathLike[str]) -> Path:
    """Fail early (before hours of work) when ``folder`` is a file, or it or its nearest existing parent is not writable."""
    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise InputError(f"output {str(p)!r} exists and is not a folder", hint="choose another -o")
    probe = p
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {str(p)!r}: {str(probe)!r} is not a writable folder", hint="choose a writable output folder")
    return p


@contextlib.contextmanager
def lock_folder(folder: str | os.PathLike[str]) -> Iterator[FolderLock]:
    """Create ``folder`` if needed, hold an exclusive lock on it, and release it on exit.

    Errors name the folder: not a folder, not writable, or in use by another process.
    """
    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise InputError(f"output {str(p)!r} exists and is not a folder", hint="choose another -o")
    created = not p.exists()
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise disk_error(exc, p) from exc
    try:
        lock = _acquire(p, created)
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                p.rmdir()
        raise
    try:
        yield lock
    finally:
        lock.release()
