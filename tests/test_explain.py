"""Evidence maps: masks in built sets, the methods, spatial attribution, sanity check, CLI and errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from foolbox_lite.classifiers import from_module
from foolbox_lite.cli import main
from foolbox_lite.errors import InputError, ModelError, ParameterError
from foolbox_lite.explain import (
    MethodOptions,
    ScoreModel,
    attribute,
    cascade_stages,
    explain_set,
    randomised,
    spatial_stats,
    spearman,
)
from foolbox_lite.explain.patches import occlusion, window_masks
from foolbox_lite.recipes.build import build_recipe
from foolbox_lite.stimulus_set import read_manifest, sha256_file
from foolbox_lite.stimulus_set.layers import read_mask

# 2 shapes (a disc with a mask, a checkerboard without) x 2 copies, 40 px: the disc items carry masks.
RECIPE = """\
schema: 1
name: tiny-explain
seed: 5
size: 40
label_space: imagenet1k
assets:
  disc: {procedural: disc, label: analog clock}
  noise: {procedural: value_noise, params: {scale: 5, seed: 3}, label: zebra, kind: texture}
design:
  cross:
    shape: {assets: [disc]}
    angle: [0, 90]
  repeat: 2
pipeline:
  - texture_fill: {texture: {asset: noise}}
  - rotate: {angle: {factor: angle}}
cues:
  shape: {factor: shape}
  texture: zebra
"""
NO_MASKS = RECIPE.replace("disc: {procedural: disc, label: analog clock}", "disc: {procedural: checkerboard, label: analog clock, mask: none}").replace(
    "  - texture_fill: {texture: {asset: noise}}\n", "")


def _tiny_classifier(seed: int = 0):
    """A small ReLU6 CNN over the 1000 ImageNet classes (fast, deterministic weights)."""
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU6(), torch.nn.Conv2d(8, 16, 3, padding=1, stride=2), torch.nn.ReLU6(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 1000),
    )
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return from_module(net, name="tiny", input_size=32)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("explain")
    (root / "r.yaml").write_text(RECIPE, encoding="utf-8")
    return build_recipe(root / "r.yaml", root / "set", progress=False)


def test_build_writes_masks_that_resume_verifies(tiny_set: Path, tmp_path: Path) -> None:
    entries = read_manifest(tiny_set)
    assert len(entries) == 4
    for e in entries:
        spec = e.layers["mask"]
        assert spec["file"] == f"masks/{e.id}.png" and sha256_file(tiny_set / spec["file"]) == spec["sha256"]
        m = read_mask(tiny_set, e.layers, e.id)
        assert m.shape == (40, 40) and m.max() == 1.0 and 0.1 < m.mean() < 0.9  # a disc, not the whole frame
    # the mask is the final one: the 90-degree item's mask is the 0-degree one turned (the disc is symmetric: equal area)
    a, b = read_mask(tiny_set, entries[0].layers, "x"), read_mask(tiny_set, entries[2].layers, "x")
    assert abs(a.mean() - b.mean()) < 0.02
    # resume: a deleted or corrupted mask is rebuilt with the same bytes
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_set, copy)
    (copy / "masks" / "000001.png").unlink()
    (copy / "masks" / "000002.png").write_bytes(b"junk")
    build_recipe(tiny_set.parent / "r.yaml", copy, resume=True, progress=False)
    for name in ("000001.png", "000002.png"):
        assert (copy / "masks" / name).read_bytes() == (tiny_set / "masks" / name).read_bytes()
    assert (copy / "manifest.jsonl").read_bytes() == (tiny_set / "manifest.jsonl").read_bytes()


def test_window_masks_cover_every_pixel_and_touch_the_border() -> None:
    m = window_masks(10, 7, 4, 3)
    assert m.shape == (3 * 2, 10, 7)  # starts 0,3,6 (rows) and 0,3 (cols)
    assert (m.sum(0) >= 1).all() and m[-1, 9, 6] == 1 and m[0, 0, 0] == 1


def test_occlusion_matches_a_per_window_reference_and_finds_the_evidence() -> None:
    # score = brightness of the top-left 8x8 block: occluding elsewhere changes nothing
    def score(x: torch.Tensor) -> torch.Tensor:
        s = x[:, :, :8, :8].mean(dim=(1, 2, 3))
        return torch.stack([s, -s], dim=1)

    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 24, 24, generator=g)
    x[:, :, :8, :8] += 1.0
    t = torch.tensor([0, 0])
    maps = occlusion(score, x, t, patch=8, stride=4, batch_size=7)
    masks = window_masks(24, 24, 8, 4)
    ref = torch.zeros(2, 24, 24)
    for k in range(len(masks)):  # the slow reference the batched version replaces
        occ = x * (1 - masks[k]) + x.mean(dim=(2, 3), keepdim=True) * masks[k]
        ref += (score(x)[:, 0] - score(occ)[:, 0])[:, None, None] * masks[k]
    ref /= masks.sum(0)
    assert torch.allclose(maps, ref, atol=1e-5)
    obj = torch.zeros(2, 24, 24)
    obj[:, :8, :8] = 1
    st = spatial_stats(maps, obj)
    assert all(v > 0.6 for v in st["evidence_in_object"]) and all(v > 5 for v in st["enrichment"])


def test_spatial_stats_values() -> None:
    maps = torch.tensor([[[2.0, -1.0], [1.0, 1.0]], [[0.0, -1.0], [0.0, 0.0]]])
    masks = torch.tensor([[[1.0, 1.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]]])
    st = spatial_stats(maps, masks)
    assert st["evidence_in_object"][0] == pytest.approx(0.5) and st["object_area"][0] == pytest.approx(0.5) and st["enrichment"][0] == pytest.approx(1.0)
    assert np.isnan(st["evidence_in_object"][1]) and st["object_area"][1] == pytest.approx(0.25)  # no positive evidence: undefined


def test_spearman_with_ties_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    g = np.random.default_rng(0)
    a, b = g.integers(0, 5, 200).astype(float), g.normal(size=200)
    assert spearman(a, b) == pytest.approx(stats.spearmanr(np.abs(a), np.abs(b))[0], abs=1e-12)
    assert spearman(np.array([0.0, 0, 1, 2]), np.array([0.0, 0, 2, 4])) == pytest.approx(1.0)
    assert np.isnan(spearman(np.zeros(5), np.arange(5.0)))


def test_randomisation_cascade_is_top_down_and_seeded() -> None:
    clf = _tiny_classifier()
    stages = cascade_stages(clf.model, 2)
    assert [s[1] for s in stages] == [["6"], ["6", "2"], ["6", "2", "0"]]  # Linear first, then the convolutions
    a, b = randomised(clf.model, ["6"], seed=3), randomised(clf.model, ["6"], seed=3)
    assert torch.equal(a[6].weight, b[6].weight) and not torch.equal(a[6].weight, clf.model[6].weight)
    assert torch.equal(a[0].weight, clf.model[0].weight)


@pytest.mark.parametrize("method", ["occlusion", "patch-evidence", "integrated-gradients", "guided-backprop", "grad-cam"])
def test_every_method_gives_finite_deterministic_maps(method: str) -> None:
    pytest.importorskip("captum")
    model = ScoreModel(_tiny_classifier()).eval()
    x = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([3, -1])  # the second item has no target: zeros
    a = attribute(model, method, x, t, MethodOptions(steps=4))
    b = attribute(model, method, x, t, MethodOptions(steps=4))
    assert a.shape == (2, 40, 40) and torch.isfinite(a).all() and torch.equal(a, b)
    assert a[0].abs().sum() > 0 and a[1].abs().sum() == 0


def test_guided_backprop_reaches_relu6_layers() -> None:
    pytest.importorskip("captum")
    model = ScoreModel(_tiny_classifier()).eval()
    x = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(4)).requires_grad_(True)
    model(x)[0, 7].backward()
    plain = x.grad.sum(1)[0]
    guided = attribute(model, "guided-backprop", x.detach(), torch.tensor([7]))[0]
    assert not torch.allclose(plain, guided, atol=1e-6)  # captum's rule changed the ReLU6 gradients


def test_explain_set_writes_maps_summary_and_report(tiny_set: Path, tmp_path: Path) -> None:
    pytest.importorskip("captum")
    clf = _tiny_classifier()
    kw = dict(targets=["cue:texture", "cue:shape"], options=MethodOptions(steps=4), sanity=True, sanity_items=2, progress=False)
    res = explain_set(tiny_set, [clf], ["occlusion", "guided-backprop"], out=tmp_path / "a", **kw)
    out = tmp_path / "a"
    m = np.load(out / "maps" / "tiny" / "occlusion" / "cue-texture" / "000000.npy")
    assert m.dtype == np.float16 and m.shape == (40, 40)
    assert (out / "overlays" / "tiny" / "guided-backprop" / "cue-shape" / "000003.png").is_file()
    s = json.loads((out / "summary.json").read_text())
    occ = s["observers"]["tiny"]["methods"]["occlusion"]
    assert set(occ) >= {"n", "evidence_in_object", "object_area", "enrichment", "sanity_rank_corr", "by_factor", "targets"}
    assert occ["n"] == 4 and 0 <= occ["evidence_in_object"] <= 1 and 0.1 < occ["object_area"] < 0.9
    assert set(occ["by_factor"]["angle"]) == {"0", "90"} and occ["by_factor"]["angle"]["0"]["n"] == 2
    assert set(occ["targets"]) == {"cue:texture", "cue:shape"}
    assert -1 <= occ["sanity_rank_corr"] <= 1
    san = json.loads((out / "sanity.json").read_text())["tiny"]["guided-backprop"]
    assert san["n"] == 2 and [st["layers"] for st in san["stages"]] == [1, 2, 3]
    assert (out / "report.html").read_text().count("<img") >= 4 and (out / "sanity.png").is_file()
    assert len(res.rows) == 4 * 2 * 2
    # the same pixels, two targets: the rows of one item name zebra and analog clock
    labels = {r["target"]: r["label"] for r in res.rows if r["stimulus_id"] == "000000" and r["method"] == "occlusion"}
    assert labels == {"cue:texture": "n02391049", "cue:shape": "n02708093"}
    # deterministic: a second run writes the same bytes
    explain_set(tiny_set, [clf], ["occlusion", "guided-backprop"], out=tmp_path / "b", **kw)
    for rel in ("summary.json", "attribution.csv", "sanity.json", "maps/tiny/guided-backprop/cue-shape/000002.npy", "overlays/tiny/occlusion/cue-texture/000001.png"):
        assert (out / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_set_without_masks_needs_rebuild_or_no_spatial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.yaml").write_text(NO_MASKS, encoding="utf-8")
    folder = build_recipe(tmp_path / "r.yaml", tmp_path / "set", progress=False)
    assert not (folder / "masks").exists() and all(not e.layers for e in read_manifest(folder))
    with pytest.raises(InputError, match="no object masks") as err:
        explain_set(folder, [_tiny_classifier()], ["occlusion"], out=tmp_path / "x", progress=False)
    assert "--no-spatial" in (err.value.hint or "") and "rebuild" in (err.value.hint or "")
    res = explain_set(folder, [_tiny_classifier()], ["occlusion"], out=tmp_path / "x", spatial=False, report=False, progress=False)
    assert res.summary["observers"]["tiny"]["methods"]["occlusion"]["n"] == 0 and len(res.rows) == 4
    assert main(["explain", str(folder), "-o", str(tmp_path / "y"), "-q", "--limit", "1"]) == 2
    assert "--no-spatial" in capsys.readouterr().err


def test_bad_method_layer_target_and_missing_captum(tiny_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clf = _tiny_classifier()
    with pytest.raises(ParameterError, match="valid methods: occlusion, patch-evidence, integrated-gradients"):
        explain_set(tiny_set, [clf], ["lime"], out=tmp_path, progress=False)
    with pytest.raises(ParameterError, match=r"valid targets: decision, cue:shape, cue:texture"):
        explain_set(tiny_set, [clf], ["occlusion"], targets=["cue:colour"], out=tmp_path, progress=False)
    pytest.importorskip("captum")
    with pytest.raises(ParameterError, match=r"unknown layer 'conv9'.*valid layer names: 0, 1, 2"):
        explain_set(tiny_set, [clf], ["grad-cam"], options=MethodOptions(layer="conv9"), out=tmp_path, progress=False)
    monkeypatch.setitem(sys.modules, "captum.attr", None)  # as if captum were not installed
    with pytest.raises(ModelError, match="need captum") as err:
        explain_set(tiny_set, [clf], ["integrated-gradients"], out=tmp_path, progress=False)
    assert "foolbox-lite[explain]" in (err.value.hint or "")


def test_recipe_explain_section_is_checked(tmp_path: Path) -> None:
    from foolbox_lite.recipes.load import load_recipe

    (tmp_path / "ok.yaml").write_text(RECIPE + "explain: {method: [occlusion, grad-cam], every: 2}\n", encoding="utf-8")
    spec = load_recipe(tmp_path / "ok.yaml").explain
    assert spec is not None and spec.methods == ["occlusion", "grad-cam"] and spec.every == 2 and spec.targets == ["decision"]
    (tmp_path / "bad.yaml").write_text(RECIPE + "explain: {method: lime}\n", encoding="utf-8")
    with pytest.raises(Exception, match="valid methods: occlusion"):
        load_recipe(tmp_path / "bad.yaml")


@pytest.mark.shared
def test_import_keeps_masks_where_the_source_has_them(geirhos_shapes: Path, tmp_path: Path) -> None:
    import shutil

    from foolbox_lite.stimulus_set.importers import import_cue_conflict

    sil = geirhos_shapes / "filled-silhouettes"
    src, masks = tmp_path / "src", tmp_path / "masks"
    for root, texture in ((src, "bottle3"), (masks, "bottle3")):
        (root / "cat").mkdir(parents=True)
        shutil.copyfile(sil / "cat" / "cat1.png", root / "cat" / f"cat1-{texture}.png")
    out = import_cue_conflict(src, tmp_path / "set", masks=masks, invert_masks=True)
    e = read_manifest(out)[0]
    m = read_mask(out, e.layers, e.id)
    from PIL import Image

    dark = np.asarray(Image.open(sil / "cat" / "cat1.png").convert("L")) < 128
    assert ((m > 0.5) == dark).mean() > 0.99  # dark silhouette pixels are the object
    (masks / "cat" / "cat1-bottle3.png").unlink()
    with pytest.raises(InputError, match="mask .* is missing"):
        import_cue_conflict(src, tmp_path / "set2", masks=masks)
    assert main(["import", "cue-conflict", str(src), "-o", str(tmp_path / "set3"), "--masks", str(tmp_path / "nowhere")]) == 2


@pytest.mark.slow
def test_run_adds_maps_from_the_recipe_explain_section(tmp_path: Path) -> None:
    pytest.importorskip("captum")
    (tmp_path / "r.yaml").write_text(RECIPE + "explain: {method: grad-cam, every: 2, target: [cue:texture]}\n", encoding="utf-8")
    assert main(["run", str(tmp_path / "r.yaml"), "-o", str(tmp_path / "out"), "-q", "--no-report"]) == 0
    s = json.loads((tmp_path / "out" / "explain" / "summary.json").read_text())
    gc = s["observers"]["efficientnet_lite0"]["methods"]["grad-cam"]
    assert gc["n"] == 2 and 0 <= gc["evidence_in_object"] <= 1 and s["targets"] == ["cue:texture"]
    assert sorted(p.name for p in (tmp_path / "out" / "explain" / "maps" / "efficientnet_lite0" / "grad-cam" / "cue-texture").iterdir()) == ["000000.npy", "000002.npy"]
