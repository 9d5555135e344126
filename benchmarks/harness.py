"""Timing helpers shared by the benchmark scripts (never used by tests).

``rate(fn, n_images)`` runs ``fn`` (which processes ``n_images`` images) a few
times after a warm-up and returns the median images/s and the spread, because
on 2 shared cores a single timing can be off by 2x; :func:`rates_interleaved` times
several functions turn about (ours and a peer), so a burst of load hits both.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+; annotations are not evaluated (from __future__)


@dataclass
class Rate:
    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.median:.0f}"

    @property
    def spread(self) -> str:
        return f"[{self.low:.0f}-{self.high:.0f}]"


def rate(fn: Callable[[], object], n_images: int, *, repeats: int = 5, warmup: int = 1, min_time: float = 0.05) -> Rate:
    """Images/s of ``fn`` (median over ``repeats`` timed runs, each at least ``min_time`` s)."""
    return rates_interleaved([fn], n_images, repeats=repeats, warmup=warmup, min_time=min_time)[0]


def rates_interleaved(fns: list[Callable[[], object]], n_images: int, *, repeats: int = 5, warmup: int = 1, min_time: float = 0.05) -> list[Rate]:
    """:func:`rate` of several functions with their timed runs interleaved (a, b, a, b, ...), so that
    load from other processes falls on all of them alike and their ratio is fair."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    runs: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, got in zip(fns, runs):
            n, t0 = 0, time.perf_counter()
            while True:
                fn()
                n += 1
                dt = time.perf_counter() - t0
                if dt >= min_time:
                    break
            got.append(n * n_images / dt)
    return [Rate(statistics.median(r), min(r), max(r)) for r in runs]


@dataclass
class Case:
    """One line of ``benchmarks/ops.py``: our operator against the fastest per-image peer.

    ``planes``: float32 image planes our operator must at least read plus write per image
    (RGB in + RGB out = 6; warps also move the mask: 8); with the machine's copy bandwidth
    it gives the bytes-moved limit of a float32 operator that a uint8 peer does not have.
    """

    name: str
    ours: Callable[[], object]
    peer_name: str
    peer: Callable[[], object]
    planes: int = 6


def copy_bandwidth(nbytes: int = 256 << 20, repeats: int = 7) -> float:
    """Bytes/s moved (read + written) by a copy of ``nbytes`` between warm buffers (median of ``repeats``).

    Large enough to leave the caches; the median, because single copies on shared cores vary 10x.
    """
    import torch

    src = torch.ones(nbytes // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        dst.copy_(src)
        rates.append(2 * nbytes / (time.perf_counter() - t0))
    return statistics.median(rates)


_COPY_LIMITS: dict[tuple[int, int, int], Rate] = {}


def copy_limit(planes: int, n_images: int, pixels: int) -> Rate:
    """Images/s of a plain copy of the same bytes: ``planes / 2`` float32 planes per image read, as many written.

    The copy runs on the benchmark's own working set (one batch, into a fresh output as
    operators allocate theirs), so it sees the caches the operators see: on a machine whose
    last-level cache holds the batch it is faster than :func:`copy_bandwidth`'s out-of-cache
    rate.  No operator that reads and writes those planes can beat it.
    """
    import torch

    key = (planes, n_images, pixels)
    if key not in _COPY_LIMITS:
        src = torch.rand(n_images * planes * pixels // 2)
        _COPY_LIMITS[key] = rate(lambda: torch.empty_like(src).copy_(src), n_images, repeats=7)
    return _COPY_LIMITS[key]


def report(case: Case, n_images: int, repeats: int, *, bandwidth: float | None = None, pixels: int = 224 * 224) -> str:
    """One line: ours, the peer, their ratio and spreads; with ``bandwidth``, our bytes-moved limits too.

    ``bytes_limit`` is the rate at :func:`copy_bandwidth` (memory, out of the caches) and
    ``copy_limit`` the rate of :func:`copy_limit` (the same bytes in the batch's own working
    set); ``of_copy`` = ours / ``copy_limit`` and ``bar`` = ours / (0.5 x the lower of the peer's
    rate and ``copy_limit``), the issue's bar (>= 1 meets it).
    """
    ours, peer = rates_interleaved([case.ours, case.peer], n_images, repeats=repeats)
    line = (
        f"op={case.name} ours={ours} peer={case.peer_name}:{peer} ratio={ours.median / peer.median:.2f} "
        f"spread_ours={ours.spread} spread_peer={peer.spread}"
    )
    if bandwidth:
        limit = bandwidth / (case.planes * pixels * 4)
        copy = copy_limit(case.planes, n_images, pixels)
        bar = ours.median / (0.5 * min(peer.median, copy.median))
        line += (
            f" bytes_limit={limit:.0f} of_limit={ours.median / limit:.2f}"
            f" copy_limit={copy} of_copy={ours.median / copy.median:.2f} bar={bar:.2f}"
        )
    return line


def operator_runner(op, stim, device: str) -> Callable[[], None]:
    """A no-grad call of ``op`` on ``stim`` that waits for the GPU when there is one."""
    import torch

    def run() -> None:
        with torch.inference_mode():
            op(stim)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    return run


class GpuUtilisation:
    """The GPU's utilisation (%) sampled every ``period`` s on a thread while the ``with`` block runs.

    Read through NVML (``pynvml``, from the ``nvidia-ml-py`` package) when it imports, else
    by running ``nvidia-smi --query-gpu=utilization.gpu`` per sample; with neither, no
    samples are taken and :attr:`mean` is ``None``.  NVML reports the fraction of its last
    sample period (1/6 s to 1 s) in which a kernel ran, so time blocks of a few seconds at least.
    """

    def __init__(self, index: int = 0, period: float = 0.05) -> None:
        import threading

        self.index, self.period = index, period
        self.samples: list[float] = []
        self.source = "none"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._read = self._reader()

    def _reader(self) -> Callable[[], float | None] | None:
        try:
            import pynvml  # type: ignore[import-not-found]

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
        except Exception:  # noqa: BLE001 - not installed, or no NVIDIA driver: try nvidia-smi
            handle = None
        if handle is not None:
            self.source = "nvml"
            return lambda: float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        import shutil
        import subprocess

        smi = shutil.which("nvidia-smi")
        if smi is None:
            return None
        cmd = [smi, f"--id={self.index}", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]

        def read() -> float | None:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=False)
            return parse_utilisation(out.stdout) if out.returncode == 0 else None

        self.source = "nvidia-smi"
        return read

    def __enter__(self) -> Self:
        import threading

        if self._read is not None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="gpu-utilisation", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        assert self._read is not None
        while not self._stop.is_set():
            v = self._read()
            if v is not None:
                self.samples.append(v)
            self._stop.wait(self.period)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.samples) if self.samples else None


def parse_utilisation(text: str) -> float | None:
    """The first number of ``nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits`` output."""
    for line in text.splitlines():
        line = line.strip().rstrip("%").strip()
        if line:
            try:
                return float(line)
            except ValueError:
                return None
    return None
