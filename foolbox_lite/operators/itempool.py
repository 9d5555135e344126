"""Per-item CPU work (OpenCV / numpy kernels that release the GIL) spread over a few threads.

The OpenCV fast paths of the operators process a batch item by item; :func:`for_items`
runs those per-item loops on up to :func:`item_workers` threads (the calling thread
included).  Each item is computed by exactly the same calls whatever the number of
threads, so the bytes of a result never depend on it; only the wall time does.

The number of workers follows ``torch.get_num_threads()``: a build, which runs with one
torch thread and uses the other cores for its PNG writers, stays serial.  A call made
from inside a worker runs serially (no nested pools).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch

__all__ = ["MAX_WORKERS", "for_items", "item_workers", "thread_buffer", "use_fast_path"]

#: Upper bound on the threads one call uses (per-item work is memory-bound beyond a few cores).
MAX_WORKERS = 8
#: Scratch buffers up to this size are kept per thread by :func:`thread_buffer` (larger ones are fresh each time).
KEEP_BYTES = 8 << 20

_lock = threading.Lock()
_pool: dict[str, object] = {}
_local = threading.local()


def use_fast_path(*tensors: torch.Tensor) -> bool:
    """The per-item OpenCV/numpy paths serve CPU float32 tensors that do not track gradients (always the same path for the same input)."""
    return all(t.device.type == "cpu" and t.dtype == torch.float32 and not t.requires_grad for t in tensors)


def item_workers() -> int:
    """How many threads :func:`for_items` uses now: torch's intra-op thread count, at most :data:`MAX_WORKERS`."""
    return max(1, min(torch.get_num_threads(), os.cpu_count() or 1, MAX_WORKERS))


def thread_buffer(tag: str, shape: tuple[int, ...], dtype: type = np.float32, *, make: Callable[..., np.ndarray] = np.empty) -> np.ndarray:
    """An uninitialised scratch array kept for reuse by this thread (one per ``tag``, shape and dtype).

    Per-item work calls it for its temporaries instead of allocating fresh ones per call,
    which costs page faults where freed memory goes back to the system (see
    :mod:`foolbox_lite.allocator`).  ``make(shape, dtype)`` builds a missing one.  Each
    ``tag`` must belong to one function that does not call itself.
    """
    key = (tag, tuple(shape), np.dtype(dtype).str)
    cache = getattr(_local, "buffers", None)
    if cache is None:
        cache = _local.buffers = {}
    buf = cache.get(key)
    if buf is None:
        buf = make(tuple(shape), dtype)
        if buf.nbytes <= KEEP_BYTES:
            if len(cache) >= 32:
                cache.clear()
            cache[key] = buf
    return buf


def _executor(workers: int) -> ThreadPoolExecutor:
    """The shared pool (re-created after a fork or when more workers are wanted)."""
    with _lock:
        pool = _pool.get("pool")
        if pool is None or _pool.get("pid") != os.getpid() or _pool.get("size", 0) < workers:  # type: ignore[operator]
            if pool is not None and _pool.get("pid") == os.getpid():
                pool.shutdown(wait=False)  # type: ignore[attr-defined]
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="foolbox-lite-items")
            _pool.update(pool=pool, pid=os.getpid(), size=workers)
        return pool  # type: ignore[return-value]


def for_items(work: Callable[[int, int], None], n: int, *, chunk: int = 4, alongside: Callable[[], None] | None = None) -> None:
    """Call ``work(start, stop)`` on consecutive ranges covering ``range(n)``, on up to :func:`item_workers` threads.

    ``work`` must write each item's result independently of the others (per-item scratch
    buffers are fine: each call gets its own range).  Ranges are ``chunk`` items long and
    handed out in order to whichever thread is free; the first exception is re-raised.
    ``alongside`` runs once on the calling thread while the other threads start on the
    items (e.g. checks whose failure discards the result); when it raises, no further
    range is handed out and its exception is re-raised once the running ranges finish.
    """
    if n <= 0:
        if alongside is not None:
            alongside()
        return
    workers = min(item_workers(), -(-n // chunk))
    if workers <= 1 or getattr(_local, "busy", False):
        if alongside is not None:
            alongside()
        work(0, n)
        return
    starts = iter(range(0, n, chunk))
    take = threading.Lock()
    stop = threading.Event()

    def drain() -> None:
        _local.busy = True
        try:
            while not stop.is_set():
                with take:
                    s = next(starts, None)
                if s is None:
                    return
                work(s, min(s + chunk, n))
        finally:
            _local.busy = False

    pool = _executor(workers - 1)
    futures: list[Future[None]] = [pool.submit(drain) for _ in range(workers - 1)]
    try:
        if alongside is not None:
            alongside()
        drain()
    except BaseException:
        stop.set()
        raise
    finally:
        errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e
