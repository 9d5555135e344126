"""Allocator settings: applied once per process on glibc, left alone when asked."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = "from foolbox_lite.allocator import tune_allocator, allocator_tuned; print(allocator_tuned(), tune_allocator(), tune_allocator(), allocator_tuned())"


def _run(**env: str) -> str:
    full = {k: v for k, v in os.environ.items() if k != "FOOLBOX_LITE_ALLOCATOR"}
    full.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", CODE], env=full, check=True, capture_output=True, text=True).stdout.split()


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="mallopt settings are glibc's")
def test_tuned_once_per_process_on_glibc():
    assert _run() == ["False", "True", "True", "True"]


def test_system_allocator_left_alone_when_asked():
    assert _run(FOOLBOX_LITE_ALLOCATOR="system") == ["False", "False", "False", "False"]


def test_large_tensors_are_independent_after_tuning():
    import torch

    from foolbox_lite.allocator import tune_allocator

    tune_allocator()
    a = torch.full((64, 3, 224, 224), 1.0)
    b = torch.full((64, 3, 224, 224), 2.0)
    del b
    c = torch.full((64, 3, 224, 224), 3.0)  # may reuse b's freed memory, never a's
    assert a.data_ptr() != c.data_ptr() and bool((a == 1.0).all()) and bool((c == 3.0).all())


HUGE = (
    "import foolbox_lite, os, torch; x = torch.ones(64, 3, 224, 224); "
    "p = '/proc/self/smaps_rollup'; "
    "kb = [int(l.split()[1]) for l in open(p) if l.startswith('AnonHugePages')] if os.path.exists(p) else []; "
    "print(os.environ.get('THP_MEM_ALLOC_ENABLE'), kb[0] if kb else -1)"
)


def _huge(**env: str) -> list[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("FOOLBOX_LITE_ALLOCATOR", "THP_MEM_ALLOC_ENABLE")}
    full.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", HUGE], env=full, check=True, capture_output=True, text=True).stdout.split()


def _thp_mode() -> str:
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return "none"
    return text.split("[", 1)[1].split("]", 1)[0] if "[" in text else "none"


def test_importing_asks_torch_for_huge_pages_unless_told_otherwise():
    assert _huge()[0] == "1"
    assert _huge(THP_MEM_ALLOC_ENABLE="0")[0] == "0"  # the user's value wins
    assert _huge(FOOLBOX_LITE_ALLOCATOR="system")[0] == "None"


@pytest.mark.skipif(platform.system() != "Linux" or _thp_mode() not in ("always", "madvise"), reason="needs Linux transparent huge pages (always or madvise)")
def test_a_large_tensor_lands_in_huge_pages():
    assert int(_huge()[1]) >= 2048  # the 38 MB batch, or most of it, in 2 MiB pages
    if _thp_mode() == "madvise":
        assert int(_huge(THP_MEM_ALLOC_ENABLE="0")[1]) == 0  # without the request, none
