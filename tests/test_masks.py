"""Mask clean-up, the mask cache, thresholding and the ForegroundMask operator (no model weights needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.backends.grabcut import threshold_array
from foolbox_lite.backends.mask_cache import MaskCache, image_digest, mask_key
from foolbox_lite.backends.mask_cleanup import Cleanup, as_cleanup, clean_mask, fill_holes, largest_component, quantise
from foolbox_lite.backends.photo_masks import threshold_mask
from foolbox_lite.backends.segment import method_settings, segment_array
from foolbox_lite.errors import AssetError, ParameterError
from foolbox_lite.operators.segmentation import ForegroundMask


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / max(1, (a | b).sum()))


# ------------------------------------------------------------------ clean-up
def test_largest_component_keeps_biggest_blob():
    m = np.zeros((20, 20), np.uint8)
    m[2:10, 2:10] = 1  # 64 px
    m[15:18, 15:18] = 1  # 9 px
    out = largest_component(m)
    assert out.sum() == 64 and out[16, 16] == 0 and out[5, 5] == 1


def test_fill_holes_fills_enclosed_but_not_open_regions():
    m = np.zeros((20, 20), np.uint8)
    m[3:15, 3:15] = 1
    m[6:9, 6:9] = 0  # enclosed hole
    m[10:15, 12:15] = 0  # notch open to the outside of the ring -> touches background
    m[10:20, 13] = 0
    out = fill_holes(m)
    assert out[7, 7] == 1
    assert out[12, 13] == 0


def test_clean_mask_feather_and_quantise():
    m = np.zeros((31, 31), np.float32)
    m[10:21, 10:21] = 0.9
    hard = clean_mask(m, Cleanup(threshold=0.5))
    assert set(np.unique(hard)) == {0.0, 1.0}
    soft = clean_mask(m, {"feather": 2.0})
    assert 0.3 < soft[10, 15] < 0.7 and soft[15, 15] > 0.98 and soft[0, 0] == 0.0
    assert np.array_equal(soft, quantise(soft)), "masks are quantised to 1/255"
    raw = clean_mask(m, False)
    assert np.allclose(raw, np.rint(m * 255) / 255)


def test_cleanup_bad_values():
    with pytest.raises(ParameterError, match="cleanup.feather"):
        as_cleanup({"feather": -1})
    with pytest.raises(ParameterError, match="unknown field"):
        as_cleanup({"blur": 2})
    with pytest.raises(ParameterError, match="need a binary mask"):
        Cleanup(threshold=None)


# ------------------------------------------------------------------ threshold method
@pytest.mark.shared
def test_threshold_recovers_geirhos_silhouettes(geirhos_shapes: Path):
    ious = []
    for cat in ("bear", "cat", "elephant", "bottle"):
        f = geirhos_shapes / "filled-silhouettes" / cat / f"{cat}1.png"
        truth = fl.load_mask(f, mode="dark")[0].numpy()
        img, mask = threshold_mask(f)
        assert img.shape[1:] == mask.shape[1:] == truth.shape
        ious.append(_iou(mask[0].numpy(), truth))
    assert min(ious) > 0.95, ious


def test_threshold_on_plain_background_and_explicit_level():
    rgb = np.full((40, 40, 3), 240, np.uint8)
    rgb[10:30, 12:28] = (30, 60, 200)
    truth = np.zeros((40, 40)); truth[10:30, 12:28] = 1
    assert _iou(threshold_array(rgb), truth) == 1.0
    assert _iou(threshold_array(rgb, 0.3), truth) == 1.0
    assert threshold_array(rgb, 0.99).sum() == 0


def test_empty_mask_names_the_image(tmp_path: Path):
    f = tmp_path / "blank.png"
    fl.save_image(torch.full((3, 24, 24), 0.5), f)
    with pytest.raises(AssetError, match="blank.png.*empty"):
        threshold_mask(f)


# ------------------------------------------------------------------ cache
def test_cache_hit_equals_fresh_and_is_atomic(tmp_path: Path):
    rgb = np.full((32, 32, 3), 250, np.uint8)
    rgb[8:24, 8:24] = 10
    settings = method_settings("threshold", cleanup={"feather": 1.5})
    cache = MaskCache(tmp_path / "c")
    fresh = segment_array(rgb, settings, cache=cache)
    files = list((tmp_path / "c").rglob("*"))
    pngs = [p for p in files if p.suffix == ".png"]
    assert len(pngs) == 1 and not [p for p in files if p.name.endswith(".tmp")]
    again = MaskCache(tmp_path / "c")  # a new process: read back from disk
    hit = segment_array(rgb, settings, cache=again)
    assert again.hits == 1 and np.array_equal(hit, fresh)
    # another setting is another key
    assert mask_key(image_digest(rgb), settings) != mask_key(image_digest(rgb), method_settings("threshold"))
    # a damaged entry is a miss and gets rewritten
    pngs[0].write_bytes(b"not a png")
    third = MaskCache(tmp_path / "c")
    assert np.array_equal(segment_array(rgb, settings, cache=third), fresh) and third.misses == 1


def test_empty_masks_are_not_cached(tmp_path: Path):
    cache = MaskCache(tmp_path / "c")
    with pytest.raises(AssetError, match="empty"):
        segment_array(np.full((16, 16, 3), 128, np.uint8), method_settings("threshold"), cache=cache, what="item 'x'")
    assert not (tmp_path / "c").exists() or not list((tmp_path / "c").rglob("*.png"))


# ------------------------------------------------------------------ operator
def test_foreground_mask_operator_threshold_matches_function():
    images = torch.full((2, 3, 24, 24), 0.95)
    images[0, :, 4:14, 5:15] = torch.tensor([0.1, 0.2, 0.8]).view(3, 1, 1)
    images[1, :, 10:20, 8:22] = torch.tensor([0.8, 0.1, 0.1]).view(3, 1, 1)
    stim = fl.Stimuli.from_tensor(images)
    out = ForegroundMask("threshold")(stim, seed=0)
    assert out.layers["mask"].shape == (2, 1, 24, 24)
    assert out.layers["mask"][0, 0, 4:14, 5:15].eq(1).all() and out.layers["mask"][0].sum() == 100
    assert out.layers["mask"][1].sum() == 140
    assert torch.equal(out.images, images)
    assert out.items[0].params[-1]["params"] == {"method": "threshold"}


def test_foreground_mask_operator_reports_empty_item():
    stim = fl.Stimuli.from_tensor(torch.full((2, 3, 16, 16), 0.5), ids=["plain", "other"])
    with pytest.raises(AssetError, match="item 'plain'"):
        ForegroundMask("threshold")(stim)


def test_foreground_mask_bad_arguments(monkeypatch, tmp_path):
    with pytest.raises(ParameterError, match="'method'"):
        ForegroundMask("magic")
    with pytest.raises(ParameterError, match="'margin'"):
        ForegroundMask("grabcut", margin=0.6)
    with pytest.raises(ParameterError, match="cleanup"):
        ForegroundMask("grabcut", cleanup={"feather": float("nan")})
    monkeypatch.setenv("FOOLBOX_LITE_HOME", str(tmp_path))
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "u2"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(AssetError, match="'u2net' is not installed") as exc:
        ForegroundMask("rembg", model="u2net")
    assert "foolbox-lite models install u2net" in str(exc.value)
    assert not (tmp_path / "u2").exists(), "no empty model folder is left behind"


# ------------------------------------------------------------------ recipe sources
def test_build_source_threshold_and_errors(tmp_path: Path):
    from foolbox_lite.backends.sources import build_source

    f = tmp_path / "obj.png"
    img = torch.full((3, 40, 40), 0.95)
    img[:, 10:30, 12:28] = 0.1
    fl.save_image(img, f)
    res = build_source("threshold", {"image": str(f), "size": [20, 20]})
    assert res.image.shape == (3, 20, 20) and res.mask.shape == (1, 20, 20) and res.model_hashes == {}
    assert res.settings["kind"] == "threshold" and res.settings["size"] == [20, 20]
    with pytest.raises(ParameterError, match=r"unknown field\(s\) \['colour'\]"):
        build_source("grabcut", {"image": str(f), "colour": 1})
    with pytest.raises(ParameterError, match=r"missing field\(s\) \['model'\]") as exc:
        build_source("diffusers", {"prompt": "zebra skin fabric", "steps": 25})
    assert "a prompt source needs a model" in str(exc.value)
    with pytest.raises(ParameterError, match="unknown source kind 'sam'"):
        build_source("sam", {})
