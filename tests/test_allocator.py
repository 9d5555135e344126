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
