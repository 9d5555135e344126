"""GrabCut: the classical, weight-free foreground mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from foolbox_lite.assets.synthetic import disc_scene
from foolbox_lite.backends.grabcut import grabcut_array, to_rgb_uint8
from foolbox_lite.backends.photo_masks import grabcut_mask
from foolbox_lite.errors import InputError, ParameterError


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / max(1, (a | b).sum()))


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    images, masks = disc_scene(3, 96)
    return to_rgb_uint8(images[1]), masks[1, 0].numpy()


def test_grabcut_finds_the_disc(scene):
    rgb, truth = scene
    m = grabcut_array(rgb)
    assert m.dtype == np.float32 and m.shape == truth.shape
    assert _iou(m, truth) > 0.9


def test_grabcut_is_deterministic(scene):
    rgb, _ = scene
    a = grabcut_array(rgb, iterations=3)
    b = grabcut_array(rgb, iterations=3)
    assert np.array_equal(a, b)


def test_grabcut_user_box_pixels_and_fractions(scene):
    rgb, truth = scene
    by_px = grabcut_array(rgb, (10, 10, 86, 86))
    by_frac = grabcut_array(rgb, (10 / 96, 10 / 96, 86 / 96, 86 / 96))
    assert np.array_equal(by_px, by_frac)
    assert _iou(by_px, truth) > 0.9
    assert by_px[:10].sum() == 0 and by_px[:, 86:].sum() == 0, "outside the box is sure background"


def test_grabcut_bad_input(scene):
    rgb, _ = scene
    with pytest.raises(ParameterError, match="'box'"):
        grabcut_array(rgb, (50, 50, 40, 60))
    with pytest.raises(ParameterError, match=r"'box'.*\[x0, y0, x1, y1\]"):
        grabcut_array(rgb, (1, 2, 3))
    with pytest.raises(ParameterError, match="'margin'"):
        grabcut_array(rgb, margin=0.5)
    with pytest.raises(ParameterError, match="'iterations'"):
        grabcut_array(rgb, iterations=0)
    with pytest.raises(ParameterError, match=r"box\[0\]"):
        grabcut_array(rgb, (float("nan"), 0, 50, 50))
    with pytest.raises(InputError, match=r"\(3, H, W\)"):
        grabcut_mask(torch.zeros(1, 3, 8, 8))


def test_grabcut_mask_from_tensor_resizes_and_cleans():
    images, _ = disc_scene(1, 64)
    img, m = grabcut_mask(images[0], size=32, cleanup={"feather": 1.0})
    assert img.shape == (3, 32, 32) and m.shape == (1, 32, 32)
    assert 0.1 < float(m.mean()) < 0.5 and float(m.max()) == 1.0


@pytest.mark.shared
def test_grabcut_on_teapot_photo(imagenet_samples: Path):
    img, m = grabcut_mask(next(imagenet_samples.glob("*_teapot.JPEG")), size=160)
    assert img.shape == (3, 160, 160) and m.shape == (1, 160, 160)
    area = float((m > 0.5).float().mean())
    assert 0.1 < area < 0.5, area  # the teapot covers about a fifth of the photo
    ys, xs = torch.nonzero(m[0] > 0.5, as_tuple=True)
    assert abs(float(xs.float().mean()) - 80) < 40 and abs(float(ys.float().mean()) - 80) < 40
