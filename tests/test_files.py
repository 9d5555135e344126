"""The bottom module for files and hashes: atomic writes and the SHA-256 helpers everything uses."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from foolbox_lite.errors import InputError
from foolbox_lite.files import atomic_open, atomic_write_text, sha256_bytes, sha256_file, sha256_parts, sha256_text

PACKAGE = Path(__file__).resolve().parents[1] / "foolbox_lite"
AB = "fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603"  # sha256(b"ab")


def test_sha256_helpers_agree_on_a_pinned_value(tmp_path: Path) -> None:
    (tmp_path / "ab.txt").write_bytes(b"ab")
    assert sha256_bytes(b"ab") == sha256_text("ab") == sha256_parts("a", b"b") == sha256_file(tmp_path / "ab.txt") == AB
    assert sha256_parts(b"a", "b") == AB and sha256_parts("ab", "") == AB and sha256_parts("b", "a") != AB


def test_atomic_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "first")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(target) as fh:
            fh.write(b"half")
            raise RuntimeError("boom")
    assert target.read_text() == "first" and sorted(os.listdir(target.parent)) == ["out.txt"]
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(InputError, match="blocker"):
        atomic_write_text(tmp_path / "blocker" / "x.txt", "x")


def test_files_sits_at_the_bottom_and_owns_sha256() -> None:
    """files.py imports nothing of the package but errors; no other module computes a SHA-256 itself."""
    tree = ast.parse((PACKAGE / "files.py").read_text(encoding="utf-8"))
    own = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
    assert own == {"errors"}
    inline = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name != "files.py" and ("hashlib.sha256(" in (text := p.read_text(encoding="utf-8")) or '__import__("hashlib")' in text)
    ]
    assert inline == ["backends/diffusers_gen.py"], inline  # the tiny test model's digest (issue 15, item 4)


def test_atomic_writes_from_many_threads_make_the_folder_once_and_leave_no_temporaries(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from foolbox_lite.files import atomic_write_bytes

    target = tmp_path / "new" / "deeper"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: atomic_write_bytes(target / f"{i}.bin", bytes([i]) * (i + 1), fsync=False), range(64)))
    assert sorted(os.listdir(target)) == sorted(f"{i}.bin" for i in range(64))
    assert all((target / f"{i}.bin").read_bytes() == bytes([i]) * (i + 1) for i in range(64))


def test_atomic_write_skips_a_leftover_temporary_and_gives_open_s_mode(tmp_path: Path) -> None:
    """A killed process's temporary file under the next name is left alone; the file gets 0o666 less the umask."""
    from foolbox_lite import files

    serial = next(files._TEMP_SERIAL) + 1
    leftover = tmp_path / f".out.bin.{os.getpid()}-{serial}.tmp"
    leftover.write_bytes(b"left by a kill")
    files.atomic_write_bytes(tmp_path / "out.bin", b"new", fsync=False)
    assert (tmp_path / "out.bin").read_bytes() == b"new" and leftover.read_bytes() == b"left by a kill"
    with open(tmp_path / "plain.bin", "wb"):
        pass
    assert (tmp_path / "out.bin").stat().st_mode & 0o777 == (tmp_path / "plain.bin").stat().st_mode & 0o777
