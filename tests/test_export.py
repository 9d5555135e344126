"""Exporting stimulus sets (ImageFolder, model-vs-human, WebDataset, HF datasets) and loading them back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foolbox_lite.cli import main
from foolbox_lite.errors import InputError
from foolbox_lite.recipes.build import build_recipe
from foolbox_lite.stimulus_set import read_manifest, read_set_info, sha256_file
from foolbox_lite.stimulus_set.export import export_set

# 2 shapes x 2 textures, geirhos16 categories, 2 copies each = 8 items
RECIPE = """\
schema: 1
name: mini-cc
seed: 3
size: 32
label_space: geirhos16
assets:
  clock: {procedural: disc, label: clock}
  oven: {procedural: checkerboard, label: oven, kind: shape, mask: none}
  stripes: {procedural: stripes, label: elephant}
  noise: {procedural: value_noise, label: bear}
design:
  cross:
    shape: {assets: [clock, oven]}
    texture: {assets: [stripes, noise]}
  repeat: 2
pipeline:
  - invert: {p: 0.5}
cues:
  shape: {factor: shape}
  texture: {factor: texture}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("exp")
    r = tmp / "mini.yaml"
    r.write_text(RECIPE)
    return build_recipe(r, tmp / "set", progress=False)


def _check_lines(src: Path, out: Path, resolve) -> None:
    """The export's manifest keeps every field of the source manifest except ``file``, and the bytes."""
    a, b = read_manifest(src), read_manifest(out)
    assert len(a) == len(b) == 8
    for x, y in zip(a, b):
        dx, dy = dict(x.__dict__), dict(y.__dict__)
        assert dx.pop("file") and dy.pop("file")
        assert dx == dy
        assert resolve(y) == (src / x.file).read_bytes()


def test_imagefolder(built: Path, tmp_path: Path) -> None:
    out = export_set(built, "imagefolder", tmp_path / "if", cue="texture")
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["bear", "elephant"]
    assert len(list((out / "bear").glob("*.png"))) == 4
    _check_lines(built, out, lambda e: (out / e.file).read_bytes())
    for e in read_manifest(out):
        assert e.file.split("/")[0] == e.cues["texture"]
    assert read_set_info(out).extra["exported_as"] == "imagefolder:texture"
    with pytest.raises(InputError, match="has no 'background' cue"):
        export_set(built, "imagefolder", tmp_path / "if2", cue="background")


def test_model_vs_human_layout_round_trips_through_import(built: Path, tmp_path: Path) -> None:
    out = export_set(built, "model-vs-human", tmp_path / "mvh")
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert names == [
        "clock/clock1-bear1-2.png", "clock/clock1-bear1.png", "clock/clock1-elephant1-2.png", "clock/clock1-elephant1.png",
        "oven/oven1-bear1-2.png", "oven/oven1-bear1.png", "oven/oven1-elephant1-2.png", "oven/oven1-elephant1.png",
    ]
    _check_lines(built, out, lambda e: (out / e.file).read_bytes())
    with pytest.raises(InputError, match="not named <category>/<shape><n>-<texture><m>.png"):
        main_import = __import__("foolbox_lite.stimulus_set.importers", fromlist=["x"]).import_cue_conflict
        main_import(out, tmp_path / "back")  # the '-2' duplicates are not in the published layout
    for p in out.rglob("*-2.png"):
        p.unlink()
    from foolbox_lite.stimulus_set.importers import import_cue_conflict

    back = import_cue_conflict(out, tmp_path / "back")
    cues = sorted((e.id, e.cues["shape"], e.cues["texture"]) for e in read_manifest(back))
    assert cues == [("clock1-bear1", "clock", "bear"), ("clock1-elephant1", "clock", "elephant"), ("oven1-bear1", "oven", "bear"), ("oven1-elephant1", "oven", "elephant")]


def test_model_vs_human_needs_categories(tmp_path: Path) -> None:
    r = tmp_path / "r.yaml"
    r.write_text(RECIPE.replace("label_space: geirhos16", "label_space: imagenet1k").replace("label: clock", "label: wall clock")
                 .replace("label: oven", "label: Dutch oven").replace("label: elephant", "label: African elephant").replace("label: bear", "label: brown bear"))
    s = build_recipe(r, tmp_path / "s", progress=False)
    with pytest.raises(InputError, match="needs category labels"):
        export_set(s, "model-vs-human", tmp_path / "o")


def test_webdataset_loads_back(built: Path, tmp_path: Path) -> None:
    wds = pytest.importorskip("webdataset")
    out = export_set(built, "webdataset", tmp_path / "wds", shard_size=3)
    shards = (out / "shards.txt").read_text().split()
    assert shards == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    src = {e.id: e for e in read_manifest(built)}
    seen = []
    for sample in wds.WebDataset([str(out / s) for s in shards], shardshuffle=False):
        e = src[sample["__key__"]]
        meta = json.loads(sample["json"])
        assert sample["png"] == (built / e.file).read_bytes()
        assert meta["cues"] == e.cues and meta["params"] == e.params and meta["sha256"] == e.sha256
        seen.append(sample["__key__"])
    assert seen == sorted(src)
    again = export_set(built, "webdataset", tmp_path / "wds2", shard_size=3)
    assert all(sha256_file(out / s) == sha256_file(again / s) for s in shards)  # deterministic shards


def test_hf_dataset_loads_back(built: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    out = export_set(built, "hf", tmp_path / "hf")
    ds = datasets.load_from_disk(str(out / "dataset"))
    assert len(ds) == 8
    assert {"image", "id", "sha256", "cue_shape", "cue_texture", "params", "sources", "condition"} <= set(ds.features)
    src = read_manifest(built)
    ds_raw = ds.cast_column("image", datasets.Image(decode=False))
    for row, e in zip(ds_raw, src):
        assert row["id"] == e.id and row["cue_shape"] == e.cues["shape"] and row["cue_texture"] == e.cues["texture"]
        assert json.loads(row["params"]) == e.params and json.loads(row["sources"]) == e.sources
        assert row["image"]["bytes"] == (built / e.file).read_bytes()
    assert ds[0]["image"].size == (32, 32)


def test_cli_export(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(built), "--format", "imagefolder", "-o", str(tmp_path / "o"), "--cue", "shape"]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir() if p.is_dir()) == ["clock", "oven"]
    assert main(["export", str(built), "--format", "imagefoldr", "-o", str(tmp_path / "o2")]) == 2
    assert "did you mean 'imagefolder'?" in capsys.readouterr().err
    assert main(["export", str(built), "--format", "imagefolder", "-o", str(tmp_path / "o")]) == 2
    assert "is not empty" in capsys.readouterr().err
    (built / "images" / "000000.png").rename(built / "images" / "moved.png")
    try:
        assert main(["export", str(built), "--format", "webdataset", "-o", str(tmp_path / "o3")]) == 2
        assert "image 'images/000000.png' of item '000000' is missing" in capsys.readouterr().err
    finally:
        (built / "images" / "moved.png").rename(built / "images" / "000000.png")
