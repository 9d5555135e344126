"""One image + mask loader: the same file gives the same pixels and the same mask through
every entry point (``Stimuli.from_files``, recipe assets, ``load_image``/``load_mask``,
image folders, the evaluator's decoder), with one resampling and one transparency rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import foolbox_lite as fl
from foolbox_lite.assets.folder import load_image_folder
from foolbox_lite.assets.io import decode_rgb_u8, load_image, load_image_and_mask, load_mask
from foolbox_lite.errors import AssetError
from foolbox_lite.recipes.assets import resolve_assets
from foolbox_lite.recipes.load import load_recipe

SIZE = (24, 32)  # (H, W): both sides resampled, the aspect ratio changed

RECIPE = """\
schema: 1
name: loading
seed: 0
size: [24, 32]
assets:
  shape: {files: shape.png, label: wall clock, kind: shape}
  photo: {files: shape.png, label: zebra, kind: texture}
design:
  cross:
    shape: {assets: shape}
    texture: {assets: photo}
pipeline: []
cues:
  shape: {factor: shape}
  texture: {factor: texture}
"""


def _palette_with_transparency(path: Path) -> Path:
    """A 37x29 palette PNG whose transparent index marks the background (a soft-edged disc as the object)."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:29, :37]
    inside = (yy - 14) ** 2 + (xx - 17) ** 2 < 11**2
    idx = rng.integers(1, 200, (29, 37), dtype=np.uint8)
    idx[~inside] = 0
    im = Image.fromarray(idx, "P")
    im.putpalette(rng.integers(0, 256, 256 * 3, dtype=np.uint8).tolist())
    im.save(path, transparency=0)
    return path


def test_same_file_same_mask_through_every_entry_point(tmp_path: Path) -> None:
    p = _palette_with_transparency(tmp_path / "shape.png")
    img_u8, mask_u8 = load_image_and_mask(p, size=SIZE)
    assert mask_u8 is not None and mask_u8.shape == (1, *SIZE) and img_u8.shape == (3, *SIZE)
    # the transparent index is the background; the bilinear resize leaves soft values on the edge
    assert mask_u8[0, 12, 15] == 255 and mask_u8[0, 0, 0] == 0 and ((mask_u8 > 0) & (mask_u8 < 255)).any()
    mask = mask_u8.float() / 255
    img = img_u8.float() / 255

    own = fl.Stimuli.from_files([p], size=SIZE)  # its own transparency
    given = fl.Stimuli.from_files([p], masks=[p], size=SIZE)  # the same file as its mask file
    asset = resolve_assets(load_recipe(_recipe(tmp_path)))["shape"][0]
    for name, m in {
        "from_files": own.mask[0],
        "from_files(masks=)": given.mask[0],
        "load_mask": load_mask(p, SIZE),
        "recipe asset": asset.mask(SIZE),
    }.items():
        assert torch.equal(m, mask), name
    for name, im in {
        "from_files": own.images[0],
        "load_image": load_image(p, SIZE),
        "recipe asset": asset.image(SIZE),
        "image folder": load_image_folder(tmp_path, SIZE).images[0],
    }.items():
        assert torch.equal(im, img), name
    # at its own size the evaluator's decoder gives the loader's pixels
    assert torch.equal(decode_rgb_u8(p), load_image_and_mask(p)[0])


def test_texture_asset_takes_a_mask_only_from_transparency(tmp_path: Path) -> None:
    p = _palette_with_transparency(tmp_path / "shape.png")
    Image.open(p).convert("RGB").save(tmp_path / "opaque.png")
    photo = resolve_assets(load_recipe(_recipe(tmp_path)))["photo"][0]
    assert torch.equal(photo.mask(SIZE), load_mask(p, SIZE))
    img, m = load_image_and_mask(tmp_path / "opaque.png", size=SIZE)
    assert m is None and torch.equal(img, load_image_and_mask(p, size=SIZE)[0])
    _, sil = load_image_and_mask(tmp_path / "opaque.png", size=SIZE, own_mask="always", mask_mode="gray")
    assert sil is not None and sil.shape == (1, *SIZE)


def test_mask_file_of_another_size_is_refused_everywhere(tmp_path: Path) -> None:
    p = _palette_with_transparency(tmp_path / "shape.png")
    Image.new("L", (10, 10)).save(tmp_path / "m.png")
    with pytest.raises(AssetError, match=r"m\.png.*10x10.*37x29"):
        load_image_and_mask(p, tmp_path / "m.png")
    with pytest.raises(AssetError, match=r"m\.png.*10x10.*37x29"):
        fl.Stimuli.from_files([p], masks=[tmp_path / "m.png"])


def _recipe(folder: Path) -> Path:
    (folder / "r.yaml").write_text(RECIPE)
    return folder / "r.yaml"


def test_asset_locations_resolve_links_like_path_resolve(tmp_path: Path) -> None:
    """The lock's asset paths: relative to the recipe's folder, links and ``..`` resolved as ``Path.resolve`` does
    (with the folders resolved once per glob, not once per file)."""
    import os

    from foolbox_lite.recipes.assets import _rel

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "r").mkdir()
    (tmp_path / "x.png").write_bytes(b"")
    (tmp_path / "a" / "b" / "f.png").write_bytes(b"")
    os.symlink(tmp_path / "a" / "b", tmp_path / "r" / "lnk")
    os.symlink(tmp_path / "x.png", tmp_path / "a" / "b" / "l.png")
    cache: dict[Path, str] = {}
    for p, want in [("a/b/f.png", "../a/b/f.png"), ("r/lnk/f.png", "../a/b/f.png"), ("a/b/l.png", "../x.png"),
                    ("r/lnk/../x.png", "../a/x.png"), ("a/b/../b/f.png", "../a/b/f.png"), ("r/lnk/l.png", "../x.png")]:
        full = tmp_path / p
        assert _rel(full, tmp_path / "r", cache) == want == os.path.relpath(full.resolve(), (tmp_path / "r").resolve()), p
