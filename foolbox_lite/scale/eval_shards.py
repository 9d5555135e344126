"""``evaluate SET --shard K/N -o OUT`` and merging the parts into the results of one run.

Shard ``K`` of ``N`` decides the manifest positions ``[K*n//N, (K+1)*n//N)`` (verifying
only their images, but with the cue order and labels of the whole set, so every decision
is the one a whole run makes) and writes ``OUT/eval-shards/K-of-N.json``: its options, the
positions that passed verification, problems, and each model's decisions and graded evidence.
:func:`merge_results` joins the parts into the ``trials.csv`` and ``summary.json`` (and
report) of a local run.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import torch

from ..classifiers import Classifier
from ..errors import InputError
from ..evaluator.decisions import DecisionRule
from ..evaluator.run import DEFAULT_BATCH_SIZE, decide_locally, prepare_evaluation
from ..files import atomic_write_text
from ..stimulus_set.format import read_manifest
from .shards import parse_shard, shard_range

__all__ = ["EVAL_SHARDS", "evaluate_shard", "merge_results"]

EVAL_SHARDS = "eval-shards"


def evaluate_shard(
    folder: str | Path,
    models: Sequence[str | Classifier],
    shard: str | tuple[int, int],
    out: str | Path,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    decision: DecisionRule = "auto",
    mapping: str | None = None,
    reference_cue: str | None = None,
    on_mismatch: Literal["error", "warn", "skip"] = "error",
    device: str | torch.device | None = None,
    observers: str | None = None,
    progress: bool = True,
    backend: str = "auto",
    allow_torchscript: bool = False,
) -> Path:
    """Decide shard ``K/N`` of the set's stimuli with ``models``; returns the part file written in ``out``.

    ``backend`` and ``allow_torchscript`` as in :func:`~foolbox_lite.evaluator.evaluate_set`.

    ``observers`` (human CSVs) are only recorded: :func:`merge_results` adds them to the whole set.
    """
    k, n = parse_shard(shard)
    if not models:
        raise InputError("evaluate --shard needs at least one --model", hint="observers alone need no shards: evaluate them in one run")
    all_ids = [e.id for e in read_manifest(folder)]
    total = len(all_ids)
    start, stop = shard_range(total, k, n)
    setup = prepare_evaluation(folder, models, batch_size=batch_size, decision=decision, mapping=mapping, reference_cue=reference_cue,
                               on_mismatch=on_mismatch, device=device, part=(start, stop), allow_torchscript=allow_torchscript,
                               defer_hashes=True) if stop > start else None
    part = Path(out) / EVAL_SHARDS / f"{k}-of-{n}.json"
    if setup is None:
        names, positions, problems, decisions, evidence = [], [], [], [], []
    else:
        names, problems = setup.names, setup.set.problems
        positions, kept = [], [e.id for e in setup.set.entries]  # verification keeps the manifest order
        for i, sid in enumerate(all_ids[start:stop]):
            if len(positions) < len(kept) and kept[len(positions)] == sid:
                positions.append(start + i)
        decisions, evidence = decide_locally(setup, batch_size, progress, backend=backend)
    record = {
        "shard": [k, n], "start": start, "stop": stop, "total": total, "set": str(folder), "models": names,
        "options": {"decision": decision, "mapping": mapping, "reference_cue": reference_cue, "on_mismatch": on_mismatch, "observers": observers},
        "positions": positions, "problems": problems, "decisions": decisions, "evidence": evidence,
    }
    atomic_write_text(part, json.dumps(record, sort_keys=True) + "\n")
    return part


def _read_parts(inputs: Sequence[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    parts = []
    for f in map(Path, inputs):
        files = sorted((f / EVAL_SHARDS).glob("*-of-*.json")) if (f / EVAL_SHARDS).is_dir() else []
        if not files:
            raise InputError(f"{str(f)!r} holds no evaluation shard ({EVAL_SHARDS}/K-of-N.json)", hint="write one with 'foolbox-lite evaluate SET --shard K/N -o DIR'")
        for p in files:
            try:
                parts.append(json.loads(p.read_text(encoding="utf-8")) | {"_file": str(p)})
            except json.JSONDecodeError as exc:
                raise InputError(f"{str(p)!r} is not an evaluation shard: {exc}", hint="evaluate that shard again") from None
    parts.sort(key=lambda r: (r["start"], r["stop"]))
    first = parts[0]
    for r in parts[1:]:
        for key in ("set", "total", "options"):
            if r[key] != first[key]:
                raise InputError(f"{r['_file']!r} and {first['_file']!r} differ in {key}: {r[key]!r} != {first[key]!r}",
                                 hint="merge only the shards of one evaluation (same set and options)")
        if r["models"] != first["models"] and r["start"] < r["stop"] and first["start"] < first["stop"]:
            raise InputError(f"{r['_file']!r} and {first['_file']!r} evaluated different models", hint="give every shard the same --model list")
    at = 0
    for r in parts:
        if r["start"] != at:
            what = f"positions {at}..{r['start'] - 1} are in none of the shards given" if r["start"] > at else f"{r['_file']!r} overlaps another shard"
            raise InputError(what, hint="pass each shard of the evaluation once")
        at = r["stop"]
    if at != first["total"]:
        raise InputError(f"positions {at}..{first['total'] - 1} are in none of the shards given", hint="evaluate and pass the missing shard(s)")
    return parts


def merge_results(
    inputs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    *,
    report: bool = True,
    max_gallery: int = 300,
    accuracy_cue: str | None = None,
) -> dict[str, Path]:
    """Join evaluation shards into ``trials.csv``, ``summary.json`` (and report) in ``out``; the files written.

    ``out`` defaults to the single input folder, whose ``eval-shards/`` is then removed.
    """
    if out is None:
        if len(inputs) != 1:
            raise InputError("merge of several folders needs -o OUT", hint="or pass the one folder every shard wrote into")
        out = inputs[0]
    parts = _read_parts(inputs)
    head = parts[0]
    opts = head["options"]
    names = next((r["models"] for r in parts if r["models"]), [])
    setup = prepare_evaluation(head["set"], [], decision=opts["decision"], mapping=opts["mapping"], reference_cue=opts["reference_cue"],
                               on_mismatch=opts["on_mismatch"], verify=False, names=names)
    positions = [p for r in parts for p in r["positions"]]
    loaded = setup.set
    if len(loaded.entries) != head["total"]:
        raise InputError(f"the set {head['set']!r} has {len(loaded.entries)} images now, the shards saw {head['total']}", hint="evaluate the shards again")
    entries = [loaded.entries[p] for p in positions]
    stimuli = [loaded.stimuli[p] for p in positions]
    if not entries:
        raise InputError(f"no image of {head['set']!r} passed verification in any shard", hint="; ".join(q for r in parts for q in r["problems"])[:300])
    setup.set = replace(loaded, entries=entries, stimuli=stimuli, problems=[q for r in parts for q in r["problems"]])
    decisions = [[d for r in parts if r["models"] for d in r["decisions"][j]] for j in range(len(names))]
    evidence = [[(e[0], e[1]) for r in parts if r["models"] for e in r["evidence"][j]] for j in range(len(names))]
    ev = setup.evaluation(decisions, evidence, opts["observers"])
    from ..report import write_evaluation

    paths = write_evaluation(ev, out, report=report, max_gallery=max_gallery, accuracy_cue=accuracy_cue)
    if any(Path(out).resolve() == Path(f).resolve() for f in inputs):
        shutil.rmtree(Path(out) / EVAL_SHARDS, ignore_errors=True)
    return paths
