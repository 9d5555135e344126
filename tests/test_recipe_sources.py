"""Recipe assets from segmentation backends: ``source: {threshold|grabcut|rembg: {...}}``."""

from __future__ import annotations

import os

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw

from foolbox_lite.backends import model_store
from foolbox_lite.errors import FoolboxLiteError
from foolbox_lite.recipes.build import build_recipe


def _recipe(folder, assets: dict, shapes: list[str]):
    im = Image.new("RGB", (120, 100), "white")
    ImageDraw.Draw(im).ellipse((20, 15, 100, 85), fill="black")
    im.save(folder / "blob.png")
    doc = {
        "schema": 1, "name": "sourced", "seed": 1, "size": 64, "label_space": "imagenet1k",
        "assets": {**assets, "zebra": {"builtin": "zebra"}},
        "design": {"cross": {"shape": {"assets": shapes}, "texture": {"assets": "zebra"}}},
        "pipeline": [{"texture_fill": {"texture": {"factor": "texture"}}}],
        "cues": {"shape": {"factor": "shape"}, "texture": {"factor": "texture"}},
    }
    path = folder / "r.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_threshold_and_grabcut_sources_build_and_are_locked(tmp_path):
    path = _recipe(tmp_path, {
        "th": {"source": {"threshold": {"image": "blob.png"}}, "kind": "shape", "label": "tabby"},
        "gc": {"source": {"grabcut": {"image": "blob.png"}}, "kind": "shape", "label": "tabby"},
    }, ["th", "gc"])
    out = build_recipe(path, tmp_path / "out", progress=False)
    lock = yaml.safe_load((out / "recipe.lock.yaml").read_text())
    assert lock["assets"]["th"][0]["id"] == "threshold:blob.png"
    assert lock["assets"]["gc"][0]["location"] == "blob.png"
    # the textured ellipse: zebra stripes inside (dark and light pixels), white outside
    img = np.asarray(Image.open(out / "images" / "000000.png")).astype(float)
    assert img[0, 0].min() > 240
    inside = img[28:36, 20:44].mean(axis=2)
    assert inside.min() < 80 and inside.max() > 150


def test_rembg_source_records_the_model_hash(tmp_path):
    if model_store.find_model("u2netp") is None:
        msg = "u2netp is not installed; run scripts/install_test_models.sh"
        if os.environ.get("FOOLBOX_LITE_SHARED"):
            pytest.fail(msg)
        pytest.skip(msg)
    path = _recipe(tmp_path, {"u2": {"source": {"rembg": {"model": "u2netp", "image": "blob.png"}}, "kind": "shape", "label": "tabby"}}, ["u2"])
    out = build_recipe(path, tmp_path / "out", progress=False)
    lock = yaml.safe_load((out / "recipe.lock.yaml").read_text())
    assert lock["assets"]["u2"][0]["models"] == {"u2netp": "sha256:309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8"}


@pytest.mark.parametrize(
    "asset,match",
    [
        ({"source": {"grabcut": {"image": "missing.png"}}}, "missing.png.*does not exist"),
        ({"source": {"watershed": {"image": "blob.png"}}}, "unknown source kind 'watershed'"),
        ({"source": {"threshold": {"image": "blob.png"}, "grabcut": {"image": "blob.png"}}}, "exactly one backend"),
        ({"source": {"threshold": {"image": "blob.png", "colour": 3}}}, r"unknown field\(s\) \['colour'\]"),
        ({"source": {"diffusers": {"prompt": "zebra skin"}}}, r"missing field\(s\) \['model'\]"),
    ],
)
def test_bad_sources_are_named(tmp_path, asset, match):
    path = _recipe(tmp_path, {"s": {**asset, "kind": "shape", "label": "tabby"}}, ["s"])
    with pytest.raises(FoolboxLiteError, match=match):
        build_recipe(path, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "images").exists() or not any((tmp_path / "out" / "images").glob("*.png"))


def test_float32_sidecars_keep_perturbations_below_one_grey_level(tmp_path):
    """A perturbation of 0.4/255 vanishes in the PNG but survives in the float32 sidecar, byte-identically on rebuild."""
    import hashlib

    import torch

    doc = {
        "schema": 1, "name": "tiny-noise", "seed": 3, "size": 32, "label_space": "imagenet1k", "sidecars": True,
        "assets": {"zebra": {"builtin": "zebra", "kind": "photo"}},
        "design": {"cross": {"shape": {"assets": "zebra"}}, "repeat": 3},
        "pipeline": [{"gaussian_noise": {"std": 0.4 / 255}}],
        "cues": {"shape": {"factor": "shape"}},
    }
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(doc))
    a = build_recipe(path, tmp_path / "a", progress=False, batch_size=2)
    b = build_recipe(path, tmp_path / "b", progress=False, batch_size=3, workers=1)
    assert (a / "manifest.jsonl").read_bytes() == (b / "manifest.jsonl").read_bytes()
    import json

    rows = [json.loads(line) for line in (a / "manifest.jsonl").read_text().splitlines()]
    for row in rows:
        data = (a / row["sidecar"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sidecar_sha256"]
        f = torch.from_numpy(np.load(a / row["sidecar"]))
        png = torch.from_numpy(np.array(Image.open(a / row["file"]))).permute(2, 0, 1).float() / 255
        assert f.dtype == torch.float32 and f.shape == (3, 32, 32)
        assert (f - png).abs().max() <= 0.5 / 255 + 1e-6  # the PNG is the rounded sidecar
        assert not torch.equal(f, png)  # and the sidecar keeps what rounding lost
