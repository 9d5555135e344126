"""Exporting stimulus sets (ImageFolder, model-vs-human, WebDataset, HF datasets) and loading them back."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from foolbox_lite.cli import main
from foolbox_lite.errors import InputError
from foolbox_lite.recipes.build import build_recipe
from foolbox_lite.stimulus_set import read_manifest, read_set_info, sha256_file
from foolbox_lite.stimulus_set.export import export_set
from foolbox_lite.stimulus_set.export.model_vs_human import texture_category
from foolbox_lite.stimulus_set.importers import import_cue_conflict

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


@pytest.fixture(scope="module")
def masked(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same set with a mask layer per entry (as issue 13's build writes them): 255 where the image is bright."""
    import shutil

    import numpy as np
    from PIL import Image

    from foolbox_lite.stimulus_set import manifest_line

    out = tmp_path_factory.mktemp("masked") / "set"
    shutil.copytree(built, out)
    (out / "masks").mkdir(exist_ok=True)  # builds write masks too; these replace them with known ones
    lines = []
    for e in read_manifest(out):
        grey = np.asarray(Image.open(out / e.file).convert("L"))
        Image.fromarray(np.where(grey > 128, 255, 0).astype(np.uint8)).save(out / "masks" / f"{e.id}.png")
        e.layers = {"mask": {"file": f"masks/{e.id}.png", "sha256": sha256_file(out / "masks" / f"{e.id}.png")}}
        lines.append(manifest_line(e))
    (out / "manifest.jsonl").write_text("".join(lines))
    return out


def _check_lines(src: Path, out: Path, resolve) -> None:
    """The export's manifest keeps every field of the source manifest except ``file`` (and the mask's), and the bytes."""
    a, b = read_manifest(src), read_manifest(out)
    assert len(a) == len(b) == 8
    for x, y in zip(a, b):
        dx, dy = dict(x.__dict__), dict(y.__dict__)
        assert dx.pop("file") and dy.pop("file")
        for d in (dx, dy):
            for layer in d["layers"].values():
                layer.pop("file")
        assert dx == dy
        assert x.factors == {"shape": "disc" if x.cues["shape"] == "clock" else "checkerboard", "texture": "stripes" if x.cues["texture"] == "elephant" else "value_noise"}
        assert resolve(y) == (src / x.file).read_bytes()


def test_imagefolder_loads_with_datasets_imagefolder(built: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    out = export_set(built, "imagefolder", tmp_path / "if", cue="texture")
    assert sorted(p.name for p in (out / "images").iterdir()) == ["bear", "elephant"]
    _check_lines(built, out, lambda e: (out / e.file).read_bytes())
    ds = datasets.load_dataset("imagefolder", data_dir=str(out / "images"), split="train", cache_dir=str(tmp_path / "c"))
    assert len(ds) == 8 and ds.features["label"].names == ["bear", "elephant"]
    by_id = {e.id: e for e in read_manifest(built)}
    raw = ds.cast_column("image", datasets.Image(decode=False))
    for row in raw:
        e = by_id[Path(row["image"]["path"]).stem]
        assert hashlib.sha256(Path(row["image"]["path"]).read_bytes()).hexdigest() == e.sha256  # bytes unchanged
        assert ds.features["label"].int2str(row["label"]) == e.cues["texture"]
    index = json.loads((out / "class_index.json").read_text())
    assert index["folders"] == ["bear", "elephant"] and index["label_space"] == "geirhos16"
    assert index["imagenet_index"]["bear"] == [294, 295, 296, 297]  # the geirhos16 members of 'bear'
    with open(out / "metadata.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["file"] for r in rows] == [e.file for e in read_manifest(out)]
    assert {(r["cue_shape"], r["factor_shape"]) for r in rows} == {("clock", "disc"), ("oven", "checkerboard")}
    assert read_set_info(out).extra["exported_as"] == "imagefolder:texture"
    with pytest.raises(InputError, match="has no 'background' cue"):
        export_set(built, "imagefolder", tmp_path / "if2", cue="background")


def test_imagefolder_class_index_scores_a_pretrained_model(tmp_path: Path) -> None:
    """ImageNet sets: class_index.json maps ImageFolder's targets 0..k-1 back to ImageNet outputs."""
    s = _imagenet_set(tmp_path)
    out = export_set(s, "imagefolder", tmp_path / "if")
    index = json.loads((out / "class_index.json").read_text())
    # wall clock, Dutch oven (ImageNet-1k indices of the shape labels)
    assert index["imagenet_index"] == {"n03259280": 544, "n04548280": 892}
    assert index["names"] == {"n03259280": "Dutch oven", "n04548280": "wall clock"}
    tv = pytest.importorskip("torchvision")
    ds = tv.datasets.ImageFolder(str(out / "images"), target_transform=lambda t: index["imagenet_index"][index["folders"][t]])
    assert sorted({t for _, t in ds.samples}) == [0, 1] and sorted({ds[i][1] for i in range(len(ds))}) == [544, 892]


def _imagenet_set(tmp_path: Path) -> Path:
    r = tmp_path / "r.yaml"
    r.write_text(RECIPE.replace("label_space: geirhos16", "label_space: imagenet1k").replace("label: clock", "label: wall clock")
                 .replace("label: oven", "label: Dutch oven").replace("label: elephant", "label: African elephant").replace("label: bear", "label: brown bear"))
    return build_recipe(r, tmp_path / "s", progress=False)


@pytest.mark.parametrize(
    ("name", "texture"),
    [("airplane1-bicycle2.png", "bicycle"), ("000001_clock1-bear12.png", "bear"), ("0001_s5n_s01_0_bird_00_bird3-knife2.png", "knife"), ("a-b_oven1-elephant1.png", "elephant")],
)
def test_model_vs_human_texture_rule(name: str, texture: str) -> None:
    """model-vs-human's documented rule: last '-' word after the last '_', extension and digits removed."""
    assert texture_category(name) == texture


def test_model_vs_human_names_parse_and_round_trip(built: Path, tmp_path: Path) -> None:
    out = export_set(built, "model-vs-human", tmp_path / "mvh")
    root = out / "datasets" / "mini-cc"
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    assert names == [
        "clock/000000_clock1-elephant1.png", "clock/000001_clock1-elephant1.png", "clock/000002_clock1-bear1.png", "clock/000003_clock1-bear1.png",
        "oven/000004_oven1-elephant1.png", "oven/000005_oven1-elephant1.png", "oven/000006_oven1-bear1.png", "oven/000007_oven1-bear1.png",
    ]
    _check_lines(built, out, lambda e: (out / e.file).read_bytes())
    for e in read_manifest(out):  # the shape is the folder, the texture is read from the name
        folder, name = e.file.split("/")[-2:]
        assert (folder, texture_category(name)) == (e.cues["shape"], e.cues["texture"])
    back = import_cue_conflict(out, tmp_path / "back")
    assert read_set_info(back).to_dict() == {**read_set_info(built).to_dict()}
    _check_lines(built, back, lambda e: (back / e.file).read_bytes())
    assert [Path(e.file).name for e in read_manifest(back)] == [n.split("/")[1] for n in names]
    assert (back / "DATASHEET.md").read_bytes() == (built / "DATASHEET.md").read_bytes()


def test_model_vs_human_unique_names_stay_published(tmp_path: Path) -> None:
    r = tmp_path / "r.yaml"
    r.write_text(RECIPE.replace("  repeat: 2\n", ""))
    s = build_recipe(r, tmp_path / "s", progress=False)
    out = export_set(s, "model-vs-human", tmp_path / "mvh", dataset="cue-conflict-mini")
    names = sorted(p.name for p in (out / "datasets" / "cue-conflict-mini").rglob("*.png"))
    assert names == ["clock1-bear1.png", "clock1-elephant1.png", "oven1-bear1.png", "oven1-elephant1.png"]
    (out / "manifest.jsonl").unlink()  # without our manifest: the published-layout importer reads the names
    back = import_cue_conflict(out / "datasets" / "cue-conflict-mini", tmp_path / "back")
    assert sorted((e.id, e.cues["shape"], e.cues["texture"]) for e in read_manifest(back)) == [
        ("clock1-bear1", "clock", "bear"), ("clock1-elephant1", "clock", "elephant"), ("oven1-bear1", "oven", "bear"), ("oven1-elephant1", "oven", "elephant")]


def test_model_vs_human_needs_categories(tmp_path: Path) -> None:
    s = _imagenet_set(tmp_path)
    with pytest.raises(InputError, match="needs category labels"):
        export_set(s, "model-vs-human", tmp_path / "o")


def test_webdataset_loads_back(built: Path, tmp_path: Path) -> None:
    wds = pytest.importorskip("webdataset")
    out = export_set(built, "webdataset", tmp_path / "wds", shard_size=3)
    shards = (out / "shards.txt").read_text().split()
    assert shards == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    urls = [str(out / s) for s in shards]
    src = {e.id: e for e in read_manifest(built)}
    seen = []
    for sample in wds.WebDataset(urls, shardshuffle=False):
        e = src[sample["__key__"]]
        meta = json.loads(sample["json"])
        assert sample["png"] == (built / e.file).read_bytes()
        assert meta["cues"] == e.cues and meta["params"] == e.params and meta["sha256"] == e.sha256 and meta["factors"] == e.factors
        seen.append(sample["__key__"])
    assert seen == sorted(src)
    pairs = list(wds.WebDataset(urls, shardshuffle=False).decode("pil").to_tuple("png", "cls"))
    geirhos = ["airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair", "clock", "dog", "elephant", "keyboard", "knife", "oven", "truck"]
    assert [geirhos[c] for _, c in pairs] == [src[k].cues["shape"] for k in seen]  # .cls: the reference cue's index
    assert pairs[0][0].size == (32, 32)
    again = export_set(built, "webdataset", tmp_path / "wds2", shard_size=3)
    assert all(sha256_file(out / s) == sha256_file(again / s) for s in shards)  # deterministic shards
    inet = export_set(_imagenet_set(tmp_path), "webdataset", tmp_path / "wds3")
    assert sorted({c for (c,) in wds.WebDataset(str(inet / "shard-000000.tar"), shardshuffle=False).decode().to_tuple("cls")}) == [544, 892]


def test_hf_dataset_loads_back_both_ways(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    datasets = pytest.importorskip("datasets")
    import yaml

    assert main(["export", str(built), "--format", "hf", "-o", str(tmp_path / "hf"), "-q"]) == 0
    printed = capsys.readouterr().out.strip().rsplit(" to ", 1)[1]
    ds = datasets.load_from_disk(printed)  # the printed path is the dataset
    assert len(ds) == 8
    assert {"image", "id", "sha256", "cue_shape", "cue_texture", "factor_shape", "factor_texture", "params", "sources", "condition"} <= set(ds.features)
    assert isinstance(ds.features["cue_shape"], datasets.ClassLabel) and ds.features["cue_shape"].names[9] == "clock"
    src = read_manifest(built)
    ds_raw = ds.cast_column("image", datasets.Image(decode=False))
    for row, e in zip(ds_raw, src):
        assert row["id"] == e.id and ds.features["cue_shape"].int2str(row["cue_shape"]) == e.cues["shape"]
        assert ds.features["cue_texture"].int2str(row["cue_texture"]) == e.cues["texture"] and row["factor_texture"] == e.factors["texture"]
        assert json.loads(row["params"]) == e.params and json.loads(row["sources"]) == e.sources
        assert row["image"]["bytes"] == (built / e.file).read_bytes()
    assert ds[0]["image"].size == (32, 32)
    assert ds.info.license == "CC0 (generated by foolbox-lite)" and "foolbox-lite" in ds.info.citation
    folder = datasets.load_dataset("imagefolder", data_dir=printed, split="train", cache_dir=str(tmp_path / "c"))
    assert len(folder) == 8 and {"cue_shape", "cue_texture", "factor_shape", "factor_texture", "id"} <= set(folder.features)
    by_id = {e.id: e for e in src}
    for row in folder.cast_column("image", datasets.Image(decode=False)):
        e = by_id[row["id"]]
        assert (row["cue_shape"], row["cue_texture"], row["factor_shape"]) == (e.cues["shape"], e.cues["texture"], e.factors["shape"])
        assert hashlib.sha256(Path(row["image"]["path"]).read_bytes()).hexdigest() == e.sha256
    card = (tmp_path / "hf" / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["license"] == "cc0-1.0" and header["pretty_name"] == "mini-cc" and "## Citation" in card


def test_every_format_carries_masks(masked: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    wds = pytest.importorskip("webdataset")
    masks = {e.id: (masked / e.layers["mask"]["file"]).read_bytes() for e in read_manifest(masked)}
    for fmt in ("imagefolder", "model-vs-human", "hf"):
        out = export_set(masked, fmt, tmp_path / fmt)
        for e in read_manifest(out):
            assert (out / e.layers["mask"]["file"]).read_bytes() == masks[e.id], fmt
        back = import_cue_conflict(out, tmp_path / "back") if fmt == "model-vs-human" else None
        if back:
            assert {e.id: (back / e.layers["mask"]["file"]).read_bytes() for e in read_manifest(back)} == masks
    ds = datasets.load_from_disk(str(tmp_path / "hf")).cast_column("mask", datasets.Image(decode=False))
    assert {r["id"]: r["mask"]["bytes"] for r in ds} == masks
    folder = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "hf"), split="train", cache_dir=str(tmp_path / "c"))
    assert folder[0]["mask"].mode == "L" and folder[0]["mask"].size == (32, 32)
    out = export_set(masked, "webdataset", tmp_path / "wds")
    assert {s["__key__"]: s["mask.png"] for s in wds.WebDataset(str(out / "shard-000000.tar"), shardshuffle=False)} == masks


def test_cli_export(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(built), "--format", "imagefolder", "-o", str(tmp_path / "o"), "--cue", "shape"]) == 0
    assert sorted(p.name for p in (tmp_path / "o" / "images").iterdir()) == ["clock", "oven"]
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


def test_model_vs_human_raw_data_reads_back_as_the_same_observer(built: Path, tmp_path: Path) -> None:
    """Model trials -> raw-data/<dataset>/<dataset>_<subject>_session-1.csv naming exported files -> import -> evaluate --observers."""
    assert main(["evaluate", str(built), "-o", str(tmp_path / "ev"), "--decision", "mapping", "--no-report", "-q"]) == 0
    before = json.loads((tmp_path / "ev" / "summary.json").read_text())["observers"]["efficientnet_lite0"]
    assert main(["export", str(built), "-f", "model-vs-human", "-o", str(tmp_path / "mvh"), "--trials", str(tmp_path / "ev" / "trials.csv"), "-q"]) == 0
    out = tmp_path / "mvh"
    raw = out / "raw-data" / "mini-cc" / "mini-cc_efficientnet_lite0_session-1.csv"
    with open(raw, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename"]
    exported = {Path(e.file).name for e in read_manifest(out)}
    assert len(rows) == 8 and {r["imagename"] for r in rows} == exported
    for r in rows:  # model-vs-human's reading of the row: shape from category, texture from the name
        assert texture_category(r["imagename"]) in ("bear", "elephant") and r["category"] in ("clock", "oven")
    back = import_cue_conflict(out, tmp_path / "back")
    assert main(["evaluate", str(back), "--observers", str(out / "raw-data" / "mini-cc" / "*.csv"), "-o", str(tmp_path / "ev2"), "--no-report", "-q"]) == 0
    after = json.loads((tmp_path / "ev2" / "summary.json").read_text())["observers"]["efficientnet_lite0"]
    assert after["cue_fractions"] == before["cue_fractions"] and after["n"] == before["n"] == 8


def test_import_refuses_a_tampered_export(built: Path, tmp_path: Path) -> None:
    out = export_set(built, "model-vs-human", tmp_path / "mvh")
    victim = next((out / "datasets").rglob("*.png"))
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(InputError, match="does not match its sha256"):
        import_cue_conflict(out, tmp_path / "back")
    assert not (tmp_path / "back" / "manifest.jsonl").exists()
