"""Process-wide allocator settings that keep large tensors off ``mmap``.

glibc serves every allocation above 128 KiB-32 MiB with a fresh ``mmap`` and returns it
with ``munmap`` on free: a 38 MB batch (64 x 3 x 224 x 224 float32) then page-faults in
one 4 KiB page at a time on every operator call and every model layer, and on 2 cores
that, not the arithmetic, set the speed (half the evaluator's time was system time).
:func:`tune_allocator` asks glibc, through ``mallopt``, to serve large blocks from the
heap and keep freed memory for reuse, so a freed batch is handed out again without
page faults.  Reuse happens inside ``malloc``: no tensor can see memory another one uses.

The command line calls it at start-up, and the first operator call,
:func:`~foolbox_lite.evaluator.evaluate_set` and :func:`~foolbox_lite.recipes.build.build_recipe`
call it too (once per process; later calls return at once).  Set ``FOOLBOX_LITE_ALLOCATOR=system`` to leave the allocator alone.  On
other C libraries (macOS, musl) it does nothing and returns ``False``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

__all__ = ["ALLOCATOR_ENV", "allocator_tuned", "tune_allocator"]

#: Environment variable: ``system`` leaves the C allocator as it is.
ALLOCATOR_ENV = "FOOLBOX_LITE_ALLOCATOR"

# glibc <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4
#: Free memory kept at the top of the heap instead of being returned to the system.
_TRIM_THRESHOLD = 1 << 30
#: Extra memory requested with each heap growth (fewer, larger ``brk`` calls).
_TOP_PAD = 64 << 20

_lock = threading.Lock()
_state: dict[str, bool] = {}


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        return libc
    except (OSError, AttributeError):
        return None


def tune_allocator() -> bool:
    """Serve large blocks from the heap and keep freed memory for reuse (once per process).

    Returns whether the settings are in effect.  Memory freed by Python is then kept by
    the process (up to 1 GiB at the top of the heap) rather than returned to the system.
    """
    done = _state.get("tuned")
    if done is not None:
        return done
    with _lock:
        if "tuned" in _state:
            return _state["tuned"]
        ok = False
        if os.environ.get(ALLOCATOR_ENV, "").strip().lower() != "system":
            libc = _glibc()
            if libc is not None:
                ok = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
                libc.mallopt(_M_TOP_PAD, _TOP_PAD)
        _state["tuned"] = ok
        return ok


def allocator_tuned() -> bool:
    """Whether :func:`tune_allocator` has put its settings in effect in this process."""
    return _state.get("tuned", False)
