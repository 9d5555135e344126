"""OrderedSink runs an image's ``before`` job (its mask) in the image's worker, before its manifest line."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from foolbox_lite.recipes.build import build_recipe
from foolbox_lite.stimulus_set import read_manifest, sha256_file
from foolbox_lite.stimulus_set.writer import OrderedSink

RECIPE = """
schema: 1
name: masked
seed: 3
size: 32
label_space: imagenet1k
assets:
  disc: {procedural: disc, label: analog clock}
  ring: {procedural: disc, params: {radius: 0.3}, label: analog clock}
design:
  cross:
    shape: {assets: [disc, ring]}
  repeat: 3
pipeline:
  - invert: {p: 0.5}
cues:
  shape: {factor: shape}
"""


def test_before_runs_in_a_worker_and_finishes_before_the_line(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    sink = OrderedSink(tmp_path, 6, workers=2)
    ran: dict[int, str] = {}
    main = threading.get_ident()

    def job(i: int) -> None:
        assert threading.get_ident() != main  # the main thread keeps computing meanwhile
        ran[i] = f"layer-{i}"

    for i in range(6):
        sink.submit(i, tmp_path / "images" / f"{i}.png", np.full((4, 4, 3), i, np.uint8),
                    lambda sha, i=i: f'{{"i": {i}, "layer": "{ran[i]}", "sha": "{sha}"}}\n', before=lambda i=i: job(i))
    sink.drain()
    lines = (tmp_path / "manifest.jsonl.partial").read_text().splitlines()
    assert [line.split('"layer": "')[1].split('"')[0] for line in lines] == [f"layer-{i}" for i in range(6)]


def test_masks_written_by_workers_match_their_manifest(tmp_path: Path) -> None:
    r = tmp_path / "masked.yaml"
    r.write_text(RECIPE)
    a = build_recipe(r, tmp_path / "a", batch_size=2, workers=2, progress=False)
    b = build_recipe(r, tmp_path / "b", batch_size=6, workers=0, progress=False)
    entries = read_manifest(a)
    assert len(entries) == 6
    for e in entries:
        spec = e.layers["mask"]
        assert spec["file"] == f"masks/{e.id}.png" and sha256_file(a / spec["file"]) == spec["sha256"]
        assert (a / spec["file"]).read_bytes() == (b / spec["file"]).read_bytes()
    assert (a / "manifest.jsonl").read_bytes() == (b / "manifest.jsonl").read_bytes()


def test_each_group_is_written_while_the_next_is_computed(tmp_path: Path, monkeypatch) -> None:
    """With writer threads, a group's images go to the writers as soon as the group is computed (not when the
    whole window is): the first group's PNGs are started before the window's last group runs."""
    from foolbox_lite.recipes.build import Builder

    r = tmp_path / "masked.yaml"
    r.write_text(RECIPE)
    events: list[str] = []
    start, run_batch = OrderedSink.start, Builder.run_batch

    def spy_start(self, path, arr, before=None):
        events.append(f"start {path.name}")
        return start(self, path, arr, before)

    def spy_run_batch(self, *args, **kwargs):
        out = run_batch(self, *args, **kwargs)
        events.append("window done")
        return out

    monkeypatch.setattr(OrderedSink, "start", spy_start)
    monkeypatch.setattr(Builder, "run_batch", spy_run_batch)
    a = build_recipe(r, tmp_path / "a", batch_size=6, workers=2, progress=False)
    # one window of 6 items in two groups (disc, ring): every image started, each once, before the window returned
    assert events[-1] == "window done" and sorted(events[:-1]) == [f"start {i:06d}.png" for i in range(6)]
    b = build_recipe(r, tmp_path / "b", batch_size=6, workers=0, progress=False)
    assert {p.name: p.read_bytes() for p in (a / "images").iterdir()} == {p.name: p.read_bytes() for p in (b / "images").iterdir()}
