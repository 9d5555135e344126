"""Single-cue control twins: operators' neutralising modes, the Python helper, recipes' controls:, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

import foolbox_lite as fl
from foolbox_lite.assets.synthetic import disc_scene
from foolbox_lite.cli import main
from foolbox_lite.controls import control_pipeline
from foolbox_lite.errors import ParameterError
from foolbox_lite.operators.composite import Composite
from foolbox_lite.operators.cue_controls import NEUTRAL_BACKGROUND, NEUTRAL_SURFACE
from foolbox_lite.operators.texture import ShadedTextureFill, TextureFill, example_textures
from foolbox_lite.recipes.build import build_recipe
from foolbox_lite.stimulus_set import read_manifest, read_set_info

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def _scene(n: int = 3, size: int = 48) -> fl.Stimuli:
    images, masks = disc_scene(n, size)
    return fl.Stimuli.from_tensor(images, (masks > 0.5).float())


def _backgrounds() -> torch.Tensor:
    return torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(1))


def test_twins_replay_the_conflict_records_and_keep_one_cue() -> None:
    stim = _scene()
    comp = Composite(_backgrounds(), labels=["a", "b"])
    pipe = fl.Pipeline([TextureFill(example_textures(), scale=(0.8, 1.2), angle=(-20, 20)), fl.ops.Rotate(angle=(-40, 40)), comp], seed=5)
    out = pipe(stim)
    twins = fl.control_twins(pipe, stim, out, ["shape", "texture", "background"])
    for cue, tw in twins.items():
        assert [it.id for it in tw.items] == [f"{it.id}-{cue}" for it in out.items]
        assert [it.params for it in tw.items] == [it.params for it in out.items]  # the same draws
        assert [it.cues for it in tw.items] == [it.cues for it in out.items]
    m = out.mask  # the placed silhouette, identical in the shape twin
    shape = twins["shape"]
    assert torch.equal(shape.mask, m)
    assert torch.allclose(shape.images[(m > 0.999).expand_as(shape.images)], torch.tensor(NEUTRAL_SURFACE), atol=1e-6)
    assert torch.allclose(shape.images[(m < 0.001).expand_as(shape.images)], torch.tensor(NEUTRAL_BACKGROUND), atol=1e-6)
    # background twin: exactly the item's scene, object removed
    bg = comp.fitted(48, 48)
    for i, it in enumerate(out.items):
        k = next(r for r in it.params if r["op"] == "composite")["params"]["background"]
        assert torch.equal(twins["background"].images[i], bg[k])
    # texture twin: the texture over the whole frame (no neutral grey, no scene), mask = full frame
    tex = twins["texture"]
    assert torch.equal(tex.mask, torch.ones_like(tex.mask))
    assert not torch.isclose(tex.images, torch.tensor(NEUTRAL_BACKGROUND)).all(dim=1).any()


def test_texture_twin_is_the_conflict_texture_inside_the_silhouette() -> None:
    stim = _scene()
    pipe = fl.Pipeline([TextureFill(example_textures(), background="blank", fill=1.0, scale=(0.8, 1.2))], seed=2)
    out = pipe(stim)
    twins = fl.control_twins(pipe, stim, out, ["shape", "texture"])
    inside = (stim.mask > 0.5).expand_as(out.images)
    assert torch.equal(twins["texture"].images[inside], out.images[inside])
    assert (twins["texture"].images[~inside] != 1.0).any()  # the texture runs on outside the silhouette
    assert torch.equal(twins["shape"].images[~inside], out.images[~inside])  # the operator's own blank fill stays
    assert torch.allclose(twins["shape"].images[inside], torch.tensor(NEUTRAL_SURFACE))


def test_shaded_fill_keeps_its_shading_in_the_shape_twin() -> None:
    stim = _scene(2)
    pipe = fl.Pipeline([ShadedTextureFill(example_textures(), strength=1.0, background="blank")], seed=1)
    shape = fl.control_twins(pipe, stim, pipe(stim), ["shape"])["shape"]
    inside = shape.images[0][:, stim.mask[0, 0] > 0.5]
    assert inside.std() > 0.02 and abs(inside.mean().item() - NEUTRAL_SURFACE) < 0.2  # grey, shaded by the object's luminance


def test_operators_without_a_neutral_mode_are_named() -> None:
    pipe = fl.Pipeline([TextureFill(example_textures()), fl.get_operator("patch_scramble")(grid=2)], seed=0)
    with pytest.raises(ParameterError, match="operator 'patch_scramble' cannot neutralise the other cues for a 'shape' control twin"):
        control_pipeline(pipe, "shape")
    with pytest.raises(ParameterError, match="no operator of the pipeline isolates the 'texture' cue"):
        control_pipeline(fl.Pipeline([fl.ops.Rotate(angle=10)]), "texture")
    with pytest.raises(ParameterError, match="keeps one of shape, texture, background"):
        control_pipeline(pipe, "colour")


def _flagship(tmp: Path, controls: str | None = "[shape, texture]", **edits: object) -> Path:
    raw = yaml.safe_load((RECIPES / "zebra-toilet-seat.yaml").read_text())
    raw["size"] = 64
    raw["design"]["cross"]["pitch"] = [0, 60]
    raw["design"]["cross"]["angle"] = [0, 90]
    raw["design"]["repeat"] = 1
    raw.update(edits)
    text = yaml.safe_dump({k: v for k, v in raw.items() if k != "controls"}, sort_keys=False)
    if controls is not None:
        text += f"controls: {controls}\n"
    p = tmp / "flag.yaml"
    p.write_text(text)
    return p


def test_recipe_controls_build_twins_after_each_item(tmp_path: Path) -> None:
    r = _flagship(tmp_path)
    out = build_recipe(r, tmp_path / "a", batch_size=3, progress=False)
    entries = read_manifest(out)
    assert [e.id for e in entries[:6]] == ["000000", "000000-shape", "000000-texture", "000001", "000001-shape", "000001-texture"]
    assert len(entries) == 4 * 3
    for conflict, *twins in zip(entries[::3], entries[1::3], entries[2::3]):
        assert conflict.control == "" and conflict.twin == ""
        for cue, t in zip(("shape", "texture"), twins):
            assert (t.control, t.twin, t.index) == (cue, conflict.id, conflict.index)
            assert t.params == conflict.params and t.factors == conflict.factors and t.cues == conflict.cues
            assert t.file == f"images/{conflict.id}-{cue}.png" and t.sha256 != conflict.sha256
    assert read_set_info(out).extra["controls"] == ["shape", "texture"]
    sheet = (out / "DATASHEET.md").read_text()
    assert "4 cue-conflict items and 8 single-cue control twins (shape-only 4, texture-only 4)" in sheet
    assert "| shape=toilet_seat,texture=zebra,pitch=0,angle=0 | 1 |" in sheet  # conditions count the conflict items
    # any batch split, writer threads and a resumed build give the same bytes
    b = build_recipe(r, tmp_path / "b", batch_size=1, workers=2, progress=False)
    assert (b / "manifest.jsonl").read_bytes() == (out / "manifest.jsonl").read_bytes()
    (b / "images" / "000002-texture.png").unlink()
    (b / "images" / "000001.png").unlink()
    lines = (b / "manifest.jsonl").read_text().splitlines(keepends=True)
    (b / "manifest.jsonl").unlink()
    (b / "manifest.jsonl.partial").write_text("".join(lines[:5]))
    build_recipe(r, b, batch_size=2, resume=True, progress=False)
    assert (b / "manifest.jsonl").read_bytes() == (out / "manifest.jsonl").read_bytes()
    for e in entries:
        assert (b / e.file).read_bytes() == (out / e.file).read_bytes()


def _error(tmp_path: Path, recipe: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["build", str(recipe), "-o", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not (tmp_path / "o" / "manifest.jsonl").exists()
    return err


def test_controls_naming_an_undeclared_cue_is_a_recipe_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = _flagship(tmp_path, "[shape, colour]")
    err = _error(tmp_path, r, capsys)
    line = next(i for i, t in enumerate(r.read_text().splitlines(), 1) if t.startswith("controls:"))
    assert f"{r}:{line}:" in err and "controls[1]" in err and "'colour' is not a cue a control twin can keep" in err
    raw = yaml.safe_load(r.read_text())
    del raw["cues"]["background"]
    r.write_text(yaml.safe_dump({k: v for k, v in raw.items() if k != "controls"}, sort_keys=False) + "controls: [background]\n")
    assert "cue 'background' is not declared under cues:" in _error(tmp_path, r, capsys)


def test_controls_through_an_operator_that_cannot_neutralise_name_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = yaml.safe_load((RECIPES / "zebra-toilet-seat.yaml").read_text())
    raw["pipeline"].insert(1, {"patch_scramble": {"grid": 2}})
    r = tmp_path / "bad.yaml"
    r.write_text(yaml.safe_dump({k: v for k, v in raw.items() if k != "controls"}, sort_keys=False) + "controls: [shape]\n")
    err = _error(tmp_path, r, capsys)
    line = next(i for i, t in enumerate(r.read_text().splitlines(), 1) if "patch_scramble" in t)
    assert f"{r}:{line}:" in err and "pipeline[1].patch_scramble" in err
    assert "operator 'patch_scramble' cannot neutralise the other cues for a 'shape' control twin" in err and "hint:" in err


def test_exports_keep_twins_apart(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    from foolbox_lite.stimulus_set.export import export_set

    built = build_recipe(_flagship(tmp_path), tmp_path / "set", progress=False)
    src = read_manifest(built)
    out = export_set(built, "hf", tmp_path / "hf")
    ds = datasets.load_from_disk(str(out))
    assert [(r["id"], r["control"], r["twin"]) for r in ds.select_columns(["id", "control", "twin"])] == [(e.id, e.control, e.twin) for e in src]
    assert {k: ds[3][f"factor_{k}"] for k in src[3].factors} == src[3].factors == {"shape": "toilet_seat", "texture": "zebra", "pitch": 0, "angle": 90}
    files = [e.file for e in read_manifest(out)]
    assert len(set(files)) == len(src)  # one row each, though a twin shares its item's index
