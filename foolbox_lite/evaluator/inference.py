"""Running classifiers over batches: one pipeline, or lanes side by side on the CPU.

A :class:`Runner` holds one classifier, its decision rule and its forward
(:mod:`~foolbox_lite.evaluator.engine`).  :func:`infer_batches` shows every batch to every
runner, in order, and collects the decisions.

**Lanes.** On the CPU with ONNX Runtime, a :class:`~foolbox_lite.evaluator.batches.BatchReader`
is run in lanes: each of a few threads reads a whole batch (hash, decode, normalise) and
runs it through single-threaded sessions, while the main thread decides each batch in order.
In the one-pipeline loop the next batch is decoded while a two-thread forward runs, and
ONNX Runtime's threads meet after every operator: a decoding thread that takes a core from
one of them stalls both, so decoding cost about 1.5x its CPU time.  In a lane nothing waits
for anything.  The logits are the same bits either way: ONNX Runtime's results depend
neither on its thread count nor on the batch size (tested), and the batches are the same.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future

import torch
import torch.nn.functional as F

from ..classifiers import Classifier
from ..errors import ParameterError
from .batches import Batch, BatchReader, Normalise, Prepared
from .decisions import Decider
from .engine import Forward, make_forward

__all__ = ["CHANNELS_LAST", "DEFAULT_BATCH_SIZE", "LANE_CALL_SIZE", "LANE_READ_SIZE", "MAX_LANES", "Runner", "infer_batches", "lane_plan", "make_runners", "resolve_device", "run_batches", "run_lanes"]

#: Best measured on 2 CPU cores with EfficientNet-Lite0 (see benchmarks/evaluate.py).
DEFAULT_BATCH_SIZE = 16
#: Channels-last memory format for torch models and their input buffers (measured: see benchmarks/evaluate.py).
CHANNELS_LAST = True
#: Most lanes one run uses (each runs single-threaded sessions; torch's thread count and the cores bound it first).
MAX_LANES = 16
#: Images a lane reads at a time (hash, decode, normalise), then runs and hands over for deciding.
LANE_READ_SIZE = 8
#: Images per ONNX Runtime call in a lane: a single thread on a few images works in the cache (2 against 4: +5% at 64 images,
#: +2.5% at 128, paired; 1 and 3 are slower; see docs/performance.md).
LANE_CALL_SIZE = 2


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"``: CUDA when available, else CPU; otherwise the named device (checked)."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ParameterError(f"unknown device {device!r}", hint="use cpu, cuda, cuda:1, mps or auto") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device {device!r} was asked for but CUDA is not available here", hint="use --device cpu or auto")
    return dev


class Runner:
    """One classifier with its decision rule, its forward and a reused input buffer per lane."""

    def __init__(self, clf: Classifier, decider: Decider, device: torch.device, batch_size: int, backend: str = "auto") -> None:
        self.clf, self.decider, self.device, self.bs, self.backend = clf, decider, device, batch_size, backend
        self.forward = make_forward(clf, device, backend, channels_last=CHANNELS_LAST)
        self.memory_format = self.forward.memory_format
        self.a, self.b = clf.preprocessing.affine(torch.float32, device, input_scale=255.0)
        self.norm = Normalise.of(clf)
        self.bufs: dict[int, torch.Tensor] = {}
        self.lane_forward: Forward | None = None

    def use_lanes(self, threads: int) -> None:
        """Give the lanes a forward with ``threads`` threads per call (ONNX Runtime only; lanes use 1)."""
        fwd = make_forward(self.clf, self.device, self.backend, channels_last=CHANNELS_LAST, threads=threads)
        if fwd.backend != self.forward.backend:
            raise RuntimeError(f"model {self.clf.name!r}: lanes got a {fwd.backend} forward instead of {self.forward.backend}")
        self.lane_forward = fwd

    def logits(self, batch: Prepared | Batch, slot: int = 0) -> torch.Tensor:
        """The logits of ``batch``, normalised (where the reader has not) into the buffer of ``slot``
        (one per lane); while :meth:`use_lanes` is in effect, through the lane forward, a few images a call."""
        forward = self.forward if self.lane_forward is None else self.lane_forward
        size = self.clf.input_size
        if isinstance(batch, Prepared):  # normalised by the reader for this model's preprocessing
            if not batch.norm.same_as(self.norm):
                raise RuntimeError(f"a batch normalised for another preprocessing reached model {self.clf.name!r}")
            if self.memory_format == torch.contiguous_format and batch.x.device == self.device:
                return self._run(forward, batch.x)
            x = self._buffer(batch.x.shape[0], slot)
            x.copy_(batch.x, non_blocking=True)
        elif isinstance(batch, list) or tuple(batch.shape[-2:]) != tuple(size):
            imgs = batch if isinstance(batch, list) else list(batch)
            x = torch.stack([self._resize(im) for im in imgs])
            x = x.mul_(self.a * 255.0).add_(self.b)  # resized images are in [0, 1]
        else:
            x = self._buffer(batch.shape[0], slot)
            x.copy_(batch, non_blocking=True)
            x.mul_(self.a).add_(self.b)
        return self._run(forward, x)

    def _run(self, forward: Forward, x: torch.Tensor) -> torch.Tensor:
        if self.lane_forward is None or x.shape[0] <= LANE_CALL_SIZE:
            return forward.run(x)
        return torch.cat([forward.run(x[i : i + LANE_CALL_SIZE]) for i in range(0, x.shape[0], LANE_CALL_SIZE)])

    def _buffer(self, n: int, slot: int) -> torch.Tensor:
        buf = self.bufs.get(slot)
        if buf is None or buf.shape[0] < n:
            buf = self.bufs[slot] = torch.empty((max(n, self.bs), 3, *self.clf.input_size), device=self.device, memory_format=self.memory_format)
        return buf[:n]

    def _resize(self, img: torch.Tensor) -> torch.Tensor:
        x = img.to(self.device, torch.float32).div_(255.0).unsqueeze(0)
        x = F.interpolate(x, size=self.clf.input_size, mode=self.clf.resize_mode, align_corners=False, antialias=True)
        return x[0]


def make_runners(classifiers: Sequence[Classifier], deciders: Sequence[Decider], device: torch.device, batch_size: int, backend: str = "auto") -> list[Runner]:
    """One :class:`Runner` per classifier and its decision rule."""
    return [Runner(c, d, device, batch_size, backend) for c, d in zip(classifiers, deciders)]


def lane_plan(runners: Sequence[Runner], device: torch.device, n_images: int, batch_size: int) -> tuple[int, int]:
    """``(lanes, images per read)`` for a run over ``n_images``: lanes only where every model runs
    in ONNX Runtime on the CPU and there are threads (torch's count, at most the cores and
    :data:`MAX_LANES`) and reads for at least two; each lane then reads :data:`LANE_READ_SIZE`
    images at a time (fewer if ``batch_size`` is smaller)."""
    per_read = max(1, min(batch_size, LANE_READ_SIZE))
    if device.type != "cpu" or not runners or any(r.forward.backend != "onnxruntime" for r in runners):
        return 0, batch_size
    lanes = min(torch.get_num_threads(), os.cpu_count() or 1, MAX_LANES, math.ceil(n_images / per_read))
    return (lanes, per_read) if lanes >= 2 else (0, batch_size)


def infer_batches(
    classifiers: Sequence[Classifier],
    deciders: Sequence[Decider],
    batches: Iterable[Prepared | Batch],
    *,
    device: torch.device | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: object = None,
    backend: str = "auto",
) -> list[list[str]]:
    """Decisions of each classifier for uint8 batches ``(B, 3, H, W)`` (or lists of ``(3, H, W)``).

    A :class:`~foolbox_lite.evaluator.batches.BatchReader` may also hand over batches it
    already normalised for every classifier's (shared) preprocessing.

    ``backend``: ``auto`` (ONNX Runtime on the CPU when installed, else torch), ``torch`` or
    ``onnxruntime`` (see :mod:`foolbox_lite.evaluator.engine`).
    """
    device = device or resolve_device(None)
    return run_batches(make_runners(classifiers, deciders, device, batch_size, backend), batches, progress)


def run_batches(runners: Sequence[Runner], batches: Iterable[Prepared | Batch], progress: object = None) -> list[list[str]]:
    """Every runner's decisions for each batch in turn (one pipeline)."""
    out: list[list[str]] = [[] for _ in runners]
    with torch.inference_mode():
        for batch in batches:
            _decide(runners, out, [[r.logits(batch)] for r in runners], len(batch), progress)
    return out


def _decide(runners: Sequence[Runner], out: list[list[str]], logits: Sequence[list[torch.Tensor]], size: int, progress: object) -> None:
    for r, o, xs in zip(runners, out, logits):
        o.extend(r.decider(xs[0] if len(xs) == 1 else torch.cat(xs)))
    if progress is not None:
        progress.update(size)  # type: ignore[attr-defined]


def run_lanes(runners: Sequence[Runner], reader: BatchReader, lanes: int, progress: object = None, decide_every: int = DEFAULT_BATCH_SIZE) -> list[list[str]]:
    """Every runner's decisions for the reader's batches, read and run in ``lanes`` threads.

    Lane ``s`` starts on batch ``s``, then takes the next batch not yet taken, so a lane
    slowed by other work takes fewer.  The main thread decides at least ``decide_every``
    images at a time, in order.  The last ``n % lanes`` batches run afterwards on every
    thread, so no core idles at the end.  A lane finishes every batch it has taken, and
    none is taken after an error, so every batch before the first failing one has its
    result: the first error in batch order is raised, once the lanes have stopped.
    Fewer than two lanes' worth of batches run as one pipeline (:func:`run_batches`).
    """
    n = reader.n_batches
    lanes = min(lanes, n)
    if lanes < 2:
        return run_batches(runners, reader, progress)
    out: list[list[str]] = [[] for _ in runners]
    in_lanes = n - n % lanes
    results: list[Future[tuple[int, list[torch.Tensor]]]] = [Future() for _ in range(in_lanes)]
    order = iter(range(lanes, in_lanes))
    take = threading.Lock()
    stop = threading.Event()

    def lane(slot: int) -> None:
        k: int | None = slot
        with torch.inference_mode():
            while k is not None:
                try:
                    batch = reader.read(k, slot, parallel=False)
                    results[k].set_result((len(batch), [r.logits(batch, slot) for r in runners]))
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it in batch order
                    results[k].set_exception(exc)
                    stop.set()
                    return
                with take:  # the same lock as the error check: no batch is taken once one has failed
                    k = None if stop.is_set() else next(order, None)

    threads: list[threading.Thread] = []
    try:
        for r in runners:
            r.use_lanes(1)
        threads = [threading.Thread(target=lane, args=(s,), name=f"foolbox-lite-lane-{s}", daemon=True) for s in range(lanes)]
        for t in threads:
            t.start()
        with torch.inference_mode():
            pending: list[list[torch.Tensor]] = [[] for _ in runners]
            rows = 0
            for k in range(in_lanes):
                size, logits = results[k].result()
                for acc, x in zip(pending, logits):
                    acc.append(x)
                rows += size
                if rows >= decide_every or k == in_lanes - 1:
                    _decide(runners, out, pending, rows, progress)
                    pending, rows = [[] for _ in runners], 0
    finally:
        with take:
            stop.set()
        for t in threads:
            t.join()
        for r in runners:
            r.lane_forward = None
    with torch.inference_mode():
        for k in range(in_lanes, n):
            batch = reader.read(k, 0)
            _decide(runners, out, [[r.logits(batch)] for r in runners], len(batch), progress)
    return out
