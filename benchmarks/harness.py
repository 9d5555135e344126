"""Timing helpers shared by the benchmark scripts (never used by tests).

``rate(fn, n_images)`` runs ``fn`` (which processes ``n_images`` images) a few
times after a warm-up and returns the median images/s and the spread, because
on 2 shared cores a single timing can be off by 2x.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


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
    for _ in range(warmup):
        fn()
    rates = []
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= min_time:
                break
        rates.append(n * n_images / dt)
    return Rate(statistics.median(rates), min(rates), max(rates))


@dataclass
class Case:
    """One line of ``benchmarks/ops.py``: our operator against the fastest per-image peer."""

    name: str
    ours: Callable[[], object]
    peer_name: str
    peer: Callable[[], object]


def report(case: Case, n_images: int, repeats: int) -> str:
    ours = rate(case.ours, n_images, repeats=repeats)
    peer = rate(case.peer, n_images, repeats=repeats)
    return (
        f"op={case.name} ours={ours} peer={case.peer_name}:{peer} ratio={ours.median / peer.median:.2f} "
        f"spread_ours={ours.spread} spread_peer={peer.spread}"
    )


def operator_runner(op, stim, device: str) -> Callable[[], None]:
    """A no-grad call of ``op`` on ``stim`` that waits for the GPU when there is one."""
    import torch

    def run() -> None:
        with torch.inference_mode():
            op(stim)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    return run
