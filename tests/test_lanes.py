"""Inference in lanes: the same decisions and evidence as one pipeline, errors in batch order."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import torch
from test_evaluator import make_set

from foolbox_lite.classifiers import Preprocessing, from_module
from foolbox_lite.errors import InputError
from foolbox_lite.evaluator.batches import BatchReader
from foolbox_lite.evaluator.decisions import make_decider
from foolbox_lite.evaluator.engine import onnxruntime_available
from foolbox_lite.evaluator.evidence import EvidenceRecorder
from foolbox_lite.evaluator.inference import LANE_READ_SIZE, lane_plan, make_runners, run_batches, run_lanes
from foolbox_lite.labels import GEIRHOS16
from foolbox_lite.stimulus_set.format import read_manifest

pytestmark = pytest.mark.skipif(not onnxruntime_available(), reason="onnx/onnxruntime not installed (the test extra has them)")
CPU = torch.device("cpu")


def _net(seed: int = 0, preprocessing: Preprocessing | None = None):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(32, 16))
    kw = {"preprocessing": preprocessing} if preprocessing is not None else {}
    return from_module(net.eval(), name=f"tiny{seed}", input_size=32, labels="geirhos16", **kw)


def _set(tmp_path: Path, n: int) -> Path:
    g = torch.Generator().manual_seed(3)
    cats = GEIRHOS16.names
    rows = [(f"i{k:02d}.png", torch.rand(3, 32, 32, generator=g), {"shape": cats[k % 16], "texture": cats[(k + 5) % 16]}, "c") for k in range(n)]
    return make_set(tmp_path / "set", rows, label_space="geirhos16")


def _within(seconds: float, fn):
    """``fn()``'s result or exception, failing (instead of hanging the suite) if it takes longer than ``seconds``."""
    box: dict[str, object] = {}

    def call() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            box["error"] = exc

    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s: the lanes hang"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]


def _run(folder: Path, lanes: int, classifiers=None, runners_out: list | None = None) -> tuple[list[list[str]], list[list[tuple[dict, dict]]]]:
    classifiers = classifiers or [_net()]
    entries = read_manifest(folder)
    labels = sorted({v for e in entries for v in e.cues.values()})
    recs = [EvidenceRecorder(make_decider(c.labels, "geirhos16", "auto"), labels) for c in classifiers]
    runners = make_runners(classifiers, recs, CPU, 16, "onnxruntime")
    assert all(r.forward.backend == "onnxruntime" for r in runners)
    if runners_out is not None:
        runners_out.extend(runners)
    shared = all(r.norm.same_as(runners[0].norm) for r in runners)  # else the reader hands over pixels
    with BatchReader([folder / e.file for e in entries], LANE_READ_SIZE, entries, runners[0].norm if shared else None) as reader:
        out = run_lanes(runners, reader, lanes) if lanes else run_batches(runners, reader)
    return out, [[rec.of(i) for i in range(len(entries))] for rec in recs]


@pytest.mark.parametrize(("n", "lanes"), [(21, 2), (21, 3), (60, 2), (60, 3), (21, 5), (21, 1)])
def test_lanes_decide_exactly_as_one_pipeline(tmp_path: Path, n: int, lanes: int) -> None:
    # 21 images: three reads of 8, so with two lanes the third runs afterwards on every thread;
    # 60: eight reads, so each lane takes several after its first; 5 lanes for 3 reads, or 1: one pipeline
    folder = _set(tmp_path, n)
    pipeline, evidence = _run(folder, 0)
    in_lanes, lane_evidence = _within(120, lambda: _run(folder, lanes))
    assert len(pipeline[0]) == n
    assert in_lanes == pipeline
    assert lane_evidence == evidence  # ranks and probabilities, bit for bit
    assert not [t for t in threading.enumerate() if t.name.startswith("foolbox-lite-lane")]


def test_lanes_with_two_models_that_normalise_their_own_pixels(tmp_path: Path) -> None:
    folder = _set(tmp_path, 19)

    def models() -> list:
        return [_net(0), _net(1, Preprocessing(scale=1.0, mean=(0.1, 0.2, 0.3), std=(0.7, 0.3, 0.05)))]

    pipeline, evidence = _run(folder, 0, models())
    runners: list = []
    in_lanes, lane_evidence = _within(120, lambda: _run(folder, 2, models(), runners))
    assert pipeline[0] != pipeline[1]  # two different models
    assert in_lanes == pipeline and lane_evidence == evidence
    # the model that normalises pixels itself did so into one buffer per lane (a shared one would race)
    assert len({b.data_ptr() for b in runners[1].bufs.values()}) == 2


@pytest.mark.parametrize("read", [2, 3, 5])
def test_a_bad_image_read_in_a_lane_raises_its_own_error_and_never_hangs(tmp_path: Path, read: int) -> None:
    folder = _set(tmp_path, 64)
    bad = read_manifest(folder)[read * LANE_READ_SIZE + 3].file  # a read some lane takes after its first
    (folder / bad).write_bytes(b"not the image the manifest hashed")
    for _ in range(15):  # a lane that stopped before running a batch it had taken left the main thread waiting
        with pytest.raises(InputError, match=bad):
            _within(60, lambda: _run(folder, 2))
        assert not [t for t in threading.enumerate() if t.name.startswith("foolbox-lite-lane")]


def test_of_two_bad_images_the_first_in_batch_order_is_reported(tmp_path: Path) -> None:
    folder = _set(tmp_path, 64)
    entries = read_manifest(folder)
    first, later = entries[20].file, entries[44].file  # reads 3 and 6
    for name in (later, first):
        (folder / name).write_bytes(b"changed")
    for _ in range(10):
        with pytest.raises(InputError, match=first):
            _within(60, lambda: _run(folder, 2))


def test_lanes_are_planned_only_for_onnxruntime_on_the_cpu() -> None:
    onnx = make_runners([_net()], [make_decider(_net().labels, "geirhos16", "auto")], CPU, 16, "onnxruntime")
    eager = make_runners([_net()], [make_decider(_net().labels, "geirhos16", "auto")], CPU, 16, "torch")
    assert lane_plan(eager, CPU, 100, 16) == (0, 16)
    assert lane_plan(onnx, torch.device("cuda"), 100, 16) == (0, 16)
    threads = min(torch.get_num_threads(), os.cpu_count() or 1)
    expected = (min(threads, 3), LANE_READ_SIZE) if threads >= 2 else (0, 16)
    assert lane_plan(onnx, CPU, 3 * LANE_READ_SIZE, 16) == expected
    assert lane_plan(onnx, CPU, 1, 16) == (0, 16)  # one read: nothing to run side by side
    assert lane_plan(onnx, CPU, 100, 2) == ((min(threads, 50), 2) if threads >= 2 else (0, 2))  # a smaller batch size is kept
