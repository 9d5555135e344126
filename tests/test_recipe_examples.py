"""Every example recipe in recipes/ builds (a small version: fewer levels, 64 px) with the cues it promises."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from foolbox_lite.recipes.build import build_recipe
from foolbox_lite.recipes.load import load_recipe
from foolbox_lite.stimulus_set import read_manifest, read_set_info
from foolbox_lite.stimulus_set.export.model_vs_human import texture_category

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
EXPECTED = {"zebra-toilet-seat", "cue-conflict-16", "backgrounds", "unusual-angles", "noise-sweep", "scramble"}


def _small(name: str, tmp: Path, shared: Path | None = None, keep: int = 2) -> Path:
    """The recipe with at most ``keep`` levels per value factor, one copy per cell, 64 px."""
    text = (RECIPES / f"{name}.yaml").read_text(encoding="utf-8")
    if shared is not None:
        text = text.replace("../../shared", str(shared)).replace("*/*.png", "*/*1.png")
    raw = yaml.safe_load(text)
    raw["size"] = 64
    for spec in raw["design"]["cross"].values():
        if isinstance(spec, list):
            spec[:] = spec[:keep] if len(spec) <= keep else [spec[0], spec[-1]]
        elif isinstance(spec.get("assets"), list) and len(spec["assets"]) > 3:
            spec["assets"] = spec["assets"][:3]
    raw["design"]["repeat"] = 1
    for spec in raw.get("assets", {}).values():
        if spec.get("builtin") == "shape:*":  # one of the seven built-in shapes (rendering them is slow)
            spec["builtin"] = ["toilet_seat"]
    p = tmp / f"{name}.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return p


def test_every_example_is_present_and_valid() -> None:
    names = {p.stem for p in RECIPES.glob("*.yaml")}
    assert EXPECTED <= names
    for name in names:
        r = load_recipe(RECIPES / f"{name}.yaml")
        assert r.name == name and r.models == ["efficientnet_lite0"]
        head = (RECIPES / f"{name}.yaml").read_text().splitlines()[0]
        assert ("NEEDS ../shared" in head) == ("shared" in r.requires), name


def test_flagship_zebra_toilet_seat(tmp_path: Path) -> None:
    out = build_recipe(_small("zebra-toilet-seat", tmp_path), tmp_path / "out", batch_size=8, workers=1, progress=False)
    entries = read_manifest(out)
    assert len(entries) == 2 * 2 * 3  # pitch x angle levels kept, each with a shape and a texture twin
    assert [e.control for e in entries[:3]] == ["", "shape", "texture"]
    scenes = {"n09193705", "n09332890", "n09428293", "n09468604"}  # alp, lakeside, seashore, valley
    for e in entries:
        assert e.cues["shape"] == "n04447861" and e.cues["texture"] == "n02391049" and e.cues["background"] in scenes
        assert [p["op"] for p in e.params] == ["texture_fill", "tilt", "rotate", "composite", "gaussian_noise"]
        assert e.sources["shape"] == "builtin:toilet_seat"
    assert read_set_info(out).cues == ["shape", "texture", "background"]


@pytest.mark.parametrize("name,n,ops", [
    ("unusual-angles", 1 * 2 * 2, ["tilt", "rotate"]),
    ("noise-sweep", 3 * 2, ["grayscale", "uniform_noise"]),
    ("scramble", 3 * 2, ["patch_scramble"]),
    ("backgrounds", 1 * 2, ["texture_fill", "composite", "skipped", "backgrounds_challenge"]),
])
def test_builtin_examples(name: str, n: int, ops: list[str], tmp_path: Path) -> None:
    out = build_recipe(_small(name, tmp_path), tmp_path / "out", batch_size=16, progress=False)
    entries = read_manifest(out)
    assert len(entries) == n
    assert all(e.cues["shape"].startswith("n") for e in entries)
    assert [p["op"] for p in entries[-1].params] == ops
    assert len({e.sha256 for e in entries}) == n


@pytest.mark.shared
def test_cue_conflict_16(shared_dir: Path, tmp_path: Path) -> None:
    out = build_recipe(_small("cue-conflict-16", tmp_path, shared=shared_dir), tmp_path / "out", batch_size=16, workers=1, progress=False)
    entries = read_manifest(out)
    assert len(entries) == 16 * 3  # one silhouette per category x 3 textures
    info = read_set_info(out)
    assert info.label_space == "geirhos16" and info.cues == ["shape", "texture"]
    assert sorted({e.cues["shape"] for e in entries})[:3] == ["airplane", "bear", "bicycle"]
    assert {e.cues["texture"] for e in entries} == {"airplane", "bear", "bicycle"}
    assert "Geirhos" in (out / "DATASHEET.md").read_text()
    from foolbox_lite.stimulus_set.export import export_set

    mvh = export_set(out, "model-vs-human", tmp_path / "mvh")
    names = sorted(p.relative_to(mvh / "datasets" / info.name).as_posix() for p in (mvh / "datasets").rglob("*.png"))
    assert len(list((mvh / "masks").rglob("*.png"))) == 48  # the masks travel beside the images
    assert len(names) == 48 and "knife/knife1-bicycle1.png" in names  # silhouette numbers kept from the file names


@pytest.mark.shared
def test_cue_conflict_16_with_controls_exports_twins_by_name(shared_dir: Path, tmp_path: Path) -> None:
    r = _small("cue-conflict-16", tmp_path, shared=shared_dir)
    r.write_text(r.read_text() + "controls: [shape, texture]\n")
    out = build_recipe(r, tmp_path / "out", batch_size=16, progress=False)
    entries = read_manifest(out)
    assert len(entries) == 16 * 3 * 3 and [e.control for e in entries[:3]] == ["", "shape", "texture"]
    same_silhouette = [e for e in entries if e.control == "shape" and e.cues["shape"] == "airplane"]
    assert len({e.sha256 for e in same_silhouette}) == 1  # the grey silhouette does not depend on the texture it replaced
    from foolbox_lite.stimulus_set.export import export_set

    mvh = export_set(out, "model-vs-human", tmp_path / "mvh")
    exported = {e.id: e.file for e in read_manifest(mvh)}
    item = next(e for e in entries if not e.control and e.cues["shape"] == "knife" and e.cues["texture"] == "bicycle")
    trio = [exported[i] for i in (item.id, f"{item.id}-shape", f"{item.id}-texture")]
    assert len(set(trio)) == 3 and all((mvh / f).is_file() for f in trio)
    # model-vs-human's rule still reads shape (folder) and texture (file name) from each of the three names
    assert [(Path(f).parent.name, texture_category(Path(f).name)) for f in trio] == [("knife", "bicycle")] * 3
