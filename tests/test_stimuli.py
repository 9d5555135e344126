from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import foolbox_lite as fl
from foolbox_lite.assets.io import fit_pil, load_mask, save_image, to_uint8
from foolbox_lite.errors import AssetError, InputError


def _write_rgba(path, size=(40, 30)):
    arr = np.zeros((size[1], size[0], 4), np.uint8)
    arr[..., 0] = 200
    arr[5:25, 10:30, 3] = 255  # opaque box = object
    Image.fromarray(arr, "RGBA").save(path)


def test_from_files_rgba_alpha_becomes_mask(tmp_path):
    p = tmp_path / "obj.png"
    _write_rgba(p)
    stim = fl.Stimuli.from_files([p], size=(30, 40))
    assert stim.images.shape == (1, 3, 30, 40) and stim.images.dtype == torch.float32
    m = stim.mask[0, 0]
    assert m[15, 20] == 1 and m[0, 0] == 0
    assert stim.items[0].id == "obj" and stim.items[0].sources["image"] == str(p)


def test_silhouette_dark_on_white_is_object(tmp_path):
    arr = np.full((20, 20), 255, np.uint8)
    arr[5:15, 5:15] = 0
    Image.fromarray(arr, "L").convert("RGB").save(tmp_path / "sil.png")
    m = load_mask(tmp_path / "sil.png")
    assert m.shape == (1, 20, 20) and m[0, 10, 10] == 1 and m[0, 0, 0] == 0


def test_mask_size_mismatch_is_named(tmp_path):
    _write_rgba(tmp_path / "a.png", (40, 30))
    Image.new("L", (10, 10)).save(tmp_path / "m.png")
    with pytest.raises(AssetError, match="m.png.*10x10.*40x30"):
        fl.Stimuli.from_files([tmp_path / "a.png"], masks=[tmp_path / "m.png"])


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(AssetError, match="bad.png.*cannot be read"):
        fl.Stimuli.from_files([bad])
    with pytest.raises(AssetError, match="does not exist"):
        fl.Stimuli.from_files([tmp_path / "nope.png"])


def test_fit_policies():
    im = Image.new("RGB", (100, 50), (255, 0, 0))
    assert fit_pil(im, 64, "resize").size == (64, 64)
    assert fit_pil(im, 64, "crop").size == (64, 64)
    pad = np.asarray(fit_pil(im, 64, "pad"))
    assert pad.shape == (64, 64, 3) and pad[0, 0].tolist() == [0, 0, 0] and pad[32, 32].tolist() == [255, 0, 0]


def test_save_is_lossless_and_deterministic(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 16, 16, generator=g)
    a, b = save_image(x, tmp_path / "a.png"), save_image(x, tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()
    back = fl.load_image(a)
    assert torch.equal(to_uint8(back), to_uint8(x))
    assert not list(tmp_path.glob("*.tmp"))


def test_save_refuses_nan(tmp_path):
    with pytest.raises(InputError, match="non-finite"):
        save_image(torch.full((3, 4, 4), float("nan")), tmp_path / "x.png")


def test_select_cat_and_to_keep_items(batch):
    sub = batch.select([4, 1])
    assert [it.index for it in sub.items] == [4, 1]
    assert torch.equal(sub.images[0], batch.images[4])
    both = fl.Stimuli.cat([sub, batch])
    assert len(both) == 8 and both.layers["mask"].shape == (8, 1, 32, 32)
    d = batch.to(dtype=torch.float64)
    assert d.images.dtype == torch.float64 and d.mask.dtype == torch.float64


def test_missing_mask_is_a_clear_error():
    s = fl.Stimuli.from_tensor(torch.rand(1, 3, 4, 4))
    with pytest.raises(InputError, match="no 'mask' layer"):
        _ = s.mask


def test_cli_version_and_bad_command(capsys):
    from foolbox_lite.cli import main

    assert main(["--version"]) == 0
    assert fl.__version__ in capsys.readouterr().out
    assert main(["no-such-command"]) == 2
