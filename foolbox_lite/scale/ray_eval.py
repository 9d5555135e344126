"""``evaluate --engine ray``: Ray Data decodes on CPU workers, one actor per model replica decides.

The driver reads and verifies the set and loads the classifiers once (for their names,
labels and decision rules); the dataset of image paths is decoded by CPU tasks
(``map_batches``) and fed to a pool of ``replicas`` actors, each holding every classifier
on its own CPUs or GPU.  Decisions are gathered by manifest position into the same
trials, ``trials.csv`` and ``summary.json`` as a local run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ..assets.io import decode_rgb_u8
from ..classifiers import Classifier
from ..errors import InputError
from ..evaluator.decisions import Decider, DecisionRule
from ..evaluator.evidence import EvidenceRecorder
from ..evaluator.run import DEFAULT_BATCH_SIZE, Evaluation, Evidence, infer_batches, prepare_evaluation, resolve_device
from .ray_build import connect, unwrap_task_error

__all__ = ["evaluate_on_ray"]


def _decode_batch(batch: dict[str, np.ndarray]) -> dict[str, Any]:
    """Ray Data CPU stage: image paths -> uint8 ``(B, 3, H, W)`` (a list of ``(3, H, W)`` when sizes differ)."""
    images = [decode_rgb_u8(Path(str(p))).numpy() for p in batch["path"]]
    same = all(im.shape == images[0].shape for im in images)
    stacked = np.stack(images) if same else np.array(images + [None], dtype=object)[:-1]
    return {"pos": batch["pos"], "image": stacked}


class _Replica:
    """One model replica (a Ray Data actor): every classifier of the run, on this actor's device."""

    def __init__(self, classifiers: list[Classifier], deciders: list[Decider], labels: list[str], per_item: list[list[str]], device: str,
                 threads: int, batch_size: int) -> None:
        torch.set_num_threads(max(1, threads))
        self.classifiers, self.deciders, self.labels, self.per_item, self.bs = classifiers, deciders, labels, per_item, batch_size
        self.device = resolve_device(device)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        images = batch["image"]
        x: torch.Tensor | list[torch.Tensor] = (
            [torch.from_numpy(np.asarray(im)) for im in images] if images.dtype == object else torch.from_numpy(np.ascontiguousarray(images))
        )
        own = [self.per_item[p] for p in batch["pos"].tolist()]  # each image's cue labels: the evidence its trial reads
        recorders = [EvidenceRecorder(d, self.labels, own) for d in self.deciders]
        decisions = infer_batches(self.classifiers, recorders, [x], device=self.device, batch_size=self.bs)  # type: ignore[arg-type]
        out = {"pos": batch["pos"]}
        for j, (d, rec) in enumerate(zip(decisions, recorders)):
            out[f"m{j}"] = np.array(d, dtype=object)
            out[f"e{j}"] = np.array([json.dumps(rec.of(i)) for i in range(len(d))], dtype=object)  # floats round-trip exactly
        return out


def evaluate_on_ray(
    folder: str | Path,
    models: Sequence[str | Classifier] = ("efficientnet_lite0",),
    *,
    address: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    decision: DecisionRule = "auto",
    mapping: str | None = None,
    reference_cue: str | None = None,
    on_mismatch: Literal["error", "warn", "skip"] = "error",
    observers: str | None = None,
    replicas: int = 1,
    cpus_per_replica: float = 1.0,
    gpus_per_replica: float = 0.0,
    progress: bool = True,
    accuracy_cue: str | None = None,
    allow_torchscript: bool = False,
) -> Evaluation:
    """Evaluate ``models`` over the set on a Ray cluster; the same trials as :func:`evaluate_set`.

    The set folder must be readable at the same path on every node.  ``replicas`` actors each
    take ``cpus_per_replica`` CPUs (its torch threads) and ``gpus_per_replica`` GPUs (then it runs on CUDA).
    """
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise InputError(f"replicas must be a positive integer, got {replicas!r}")
    if not cpus_per_replica > 0 or gpus_per_replica < 0:
        raise InputError(f"cpus_per_replica must be positive and gpus_per_replica at least 0, got {cpus_per_replica!r} and {gpus_per_replica!r}")
    if not models:
        raise InputError("evaluate --engine ray needs at least one --model", hint="observers alone need no cluster: evaluate them locally")
    setup = prepare_evaluation(folder, models, batch_size=batch_size, decision=decision, mapping=mapping, reference_cue=reference_cue,
                               on_mismatch=on_mismatch, device="cpu", observers=observers, accuracy_cue=accuracy_cue, allow_torchscript=allow_torchscript)
    ray = connect(address)
    ray.data.DataContext.get_current().enable_progress_bars = progress
    if not progress:
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    paths = [str((setup.set.folder / e.file).absolute()) for e in setup.set.entries]
    ds = ray.data.from_items([{"pos": i, "path": p} for i, p in enumerate(paths)])
    ds = ds.map_batches(_decode_batch, batch_size=batch_size, num_cpus=1)
    ds = ds.map_batches(
        _Replica,
        fn_constructor_kwargs={"classifiers": setup.classifiers, "deciders": setup.deciders, "labels": setup.set.cue_labels,
                               "per_item": setup.set.labels_per_item(), "device": "cuda" if gpus_per_replica > 0 else "cpu",
                               "threads": int(cpus_per_replica), "batch_size": batch_size},
        batch_size=batch_size, concurrency=replicas, num_cpus=cpus_per_replica, num_gpus=gpus_per_replica,
    )
    decisions: list[list[str]] = [[""] * len(paths) for _ in setup.names]
    evidence: list[list[Evidence]] = [[({}, {})] * len(paths) for _ in setup.names]
    seen = np.zeros(len(paths), dtype=bool)
    try:
        for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
            pos = batch["pos"].astype(np.int64)
            seen[pos] = True
            for j, (d, e) in enumerate(zip(decisions, evidence)):
                for p, r, ev in zip(pos.tolist(), batch[f"m{j}"].tolist(), batch[f"e{j}"].tolist()):
                    d[p] = str(r)
                    ranks, probs = json.loads(ev)
                    e[p] = (ranks, probs)
    except Exception as exc:  # noqa: BLE001 - a Ray task error: re-raised as the project's own error when it is one
        raise unwrap_task_error(exc) from None
    if not seen.all():  # pragma: no cover - Ray Data delivers every row once
        raise RuntimeError(f"Ray returned no decision for {int((~seen).sum())} images")
    return setup.evaluation(decisions, evidence, observers)
