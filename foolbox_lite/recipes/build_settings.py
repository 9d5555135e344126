"""How a build runs on this machine: one torch thread, how many PNG writer threads, valid arguments.

None of these settings changes a byte of a stimulus set (tested).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ..allocator import tune_allocator
from ..errors import InputError

__all__ = ["check_build_args", "default_writers", "one_torch_thread"]


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run a build with one torch thread.

    Results then cannot depend on the machine's core count (parallel reductions split work
    by thread), and an oversubscribed OpenMP pool is much slower than one thread on busy
    machines; the PNG writer threads use the other cores.
    """
    tune_allocator()  # batches reuse freed heap memory instead of page-faulting fresh mmaps
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    # The objects that exist before the build (modules: torch, numpy...) are set aside from the
    # cyclic garbage collector for its duration: a full collection otherwise walks them all
    # (~80 ms, measured, every few builds). Objects the build creates are collected as usual.
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        torch.set_num_threads(prev_threads)


def default_writers() -> int:
    """PNG writer threads of a build by default: one per core, at most 16.

    Each group of a batch goes to the writers as soon as it is computed, so they run beside
    the main thread the whole build; more writers than cores then only take CPU from it.
    cue-conflict-16 on 2 cores against its per-image peer (5 interleaved repeats, medians):
    1, 2, 4 and 8 writers gave 3.80x, 3.43x, 3.18x and 3.12x on the project disk and, in
    another run, 3.35x, 3.33x and 2.98x (1, 2, 4) on tmpfs.  Creating a file is partly
    waiting for the file system, and a busy disk serializes creations whatever the thread
    count, so more writers do not help there either.
    """
    return max(1, min(16, os.cpu_count() or 1))


def check_build_args(batch_size: int, workers: int | None = 0) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise InputError(f"workers must be an integer >= 0, got {workers!r}")
