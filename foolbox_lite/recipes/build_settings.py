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
    """PNG writer threads of a build by default: 2 per core, at most 16.

    Writing a file is partly waiting for the file system (creating one took 0.05 ms on this
    project's idle disk and 0.5-0.9 ms on the same disk when busy) with the GIL released, so a
    few more writers than cores overlap those waits, while too many take CPU from the main
    thread. cue-conflict-16 on 2 cores, against its per-image peer: on a busy disk 2.2x with 2
    writers, 2.6x with 4 and 2.8x with 8; on tmpfs 2.98x, 3.00x and 2.79x.
    """
    return max(1, min(16, 2 * (os.cpu_count() or 1)))


def check_build_args(batch_size: int, workers: int | None = 0) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise InputError(f"workers must be an integer >= 0, got {workers!r}")
