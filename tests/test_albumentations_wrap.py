"""The albumentations wrapper: per-item seeds, masks following the image, recipes as dicts."""

from __future__ import annotations

import os

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.errors import InputError, ParameterError

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
A = pytest.importorskip("albumentations")


def quantised(x: torch.Tensor) -> torch.Tensor:
    return (x.double() * 255).round().float() / 255


def test_flip_moves_image_and_mask_together(batch):
    out = fl.ops.Albumentations(A.HorizontalFlip(p=1.0))(batch)
    assert torch.equal(out.images, quantised(batch.images).flip(-1))
    assert torch.equal(out.layers["mask"], batch.layers["mask"].flip(-1))
    assert isinstance(out.items[0].params[-1]["params"]["seed"], int)


def test_items_are_seeded_independently_and_replay(batch):
    op = fl.ops.Albumentations(A.Compose([A.HorizontalFlip(p=0.5), A.RandomBrightnessContrast(p=1.0)]))
    out = op(batch, seed=1)
    again = op(batch, seed=1)
    assert torch.equal(out.images, again.images)
    part = op(batch.select([4, 1]), seed=1)
    assert torch.equal(part.images[0], out.images[4]) and torch.equal(part.images[1], out.images[1])
    diffs = [float((out.images[i] - quantised(batch.images[i])).mean()) for i in range(len(batch))]
    assert len({round(d, 4) for d in diffs}) > 1  # different brightness per item
    assert not torch.equal(op(batch, seed=2).images, out.images)


def test_dict_config_builds_the_same_transform(batch):
    t = A.Compose([A.Rotate(limit=30, p=1.0), A.GaussNoise(p=1.0)])
    op = fl.ops.Albumentations(t)
    cfg = op.config()["transform"]
    assert isinstance(cfg, dict)
    from_dict = fl.build_operator("albumentations", transform=cfg)
    assert torch.equal(from_dict(batch, seed=3).images, op(batch, seed=3).images)


def test_the_users_transform_is_not_touched(batch):
    t = A.RandomBrightnessContrast(p=1.0)
    t.set_random_seed(42)
    fl.ops.Albumentations(t)(batch)
    assert t.seed == 42


def test_fixed_size_change_is_allowed_and_varying_sizes_are_refused(batch):
    out = fl.ops.Albumentations(A.Resize(16, 20))(batch)
    assert out.images.shape == (6, 3, 16, 20) and out.layers["mask"].shape == (6, 1, 16, 20)
    with pytest.raises(InputError, match="images of different sizes"):
        fl.ops.Albumentations(A.OneOf([A.Resize(8, 8), A.Resize(12, 12)], p=1.0))(batch, seed=0)


@pytest.mark.filterwarnings("ignore:Transform NoSuchTransform")
def test_bad_transform():
    with pytest.raises(ParameterError, match="must be an albumentations transform or a dict"):
        fl.ops.Albumentations(lambda image: image)
    with pytest.raises(ParameterError, match="cannot build an albumentations transform"):
        fl.ops.Albumentations({"transform": {"__class_fullname__": "NoSuchTransform"}})
