"""Recipes cut a texture out of a photo: ``region: [x0, y0, x1, y1]`` or ``region: mask``,
as the Python API's ``Texture.from_region`` does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from foolbox_lite.errors import FoolboxLiteError
from foolbox_lite.recipes.assets import resolve_assets
from foolbox_lite.recipes.load import load_recipe
from foolbox_lite.textures import Texture

RECIPE = """\
schema: 1
name: region
seed: 0
size: 16
assets:
  disc: {{procedural: disc, label: wall clock}}
  patch: {{files: photo.png, {region}, label: zebra, kind: texture}}
design:
  cross:
    shape: {{assets: disc}}
    texture: {{assets: patch}}
pipeline: []
cues:
  shape: {{factor: shape}}
  texture: {{factor: texture}}
"""


def _photo(folder: Path) -> Path:
    """40x30 RGBA: red left half, blue right half; the object (alpha 255) is the box x 10..30, y 5..25."""
    arr = np.zeros((30, 40, 4), np.uint8)
    arr[:, :20, 0] = 255
    arr[:, 20:, 2] = 255
    arr[5:25, 10:30, 3] = 255
    Image.fromarray(arr, "RGBA").save(folder / "photo.png")
    return folder / "photo.png"


def _asset(tmp_path: Path, region: str):
    _photo(tmp_path)
    (tmp_path / "r.yaml").write_text(RECIPE.format(region=region))
    return resolve_assets(load_recipe(tmp_path / "r.yaml"))["patch"][0]


def test_box_region_is_the_crop(tmp_path: Path) -> None:
    a = _asset(tmp_path, "region: [0, 0, 20, 30]")
    img = a.image((16, 16))
    assert a.mask((16, 16)) is None  # a texture patch, not an object
    assert torch.all(img[0] == 1.0) and torch.all(img[2] == 0.0)  # all red: only the left half
    api = Texture.from_region(tmp_path / "photo.png", box=(0, 0, 20, 30)).image
    assert torch.all(api[0] == 1.0) and api.shape[1:] == (30, 20)


def test_mask_region_is_the_objects_interior(tmp_path: Path) -> None:
    a = _asset(tmp_path, "region: mask")
    img = a.image((20, 20))
    left, right = img[0].mean().item(), img[2].mean().item()
    assert left == pytest.approx(0.5, abs=0.06) and right == pytest.approx(0.5, abs=0.06)  # x 10..30 straddles the halves
    box = Texture.from_region(tmp_path / "photo.png", mask=torch.from_numpy(np.asarray(Image.open(tmp_path / "photo.png"))[..., 3] > 0).float()[None]).source
    assert box.endswith("mask=10,5,30,25")


@pytest.mark.parametrize(
    ("region", "message"),
    [("region: [0, 0, 50, 30]", "lies outside the 40x30 photo"), ("region: [5, 0, 5, 30]", "0 <= x0 < x1"), ("region: [0, 0, 10]", "region")],
)
def test_bad_regions_are_named(tmp_path: Path, region: str, message: str) -> None:
    with pytest.raises(FoolboxLiteError, match=message):
        _asset(tmp_path, region)


def test_region_needs_a_photo(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(RECIPE.format(region="region: [0, 0, 4, 4]").replace("files: photo.png", "procedural: stripes"))
    with pytest.raises(FoolboxLiteError, match="region cuts a texture out of photos"):
        load_recipe(tmp_path / "r.yaml")
