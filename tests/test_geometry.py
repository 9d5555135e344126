"""Unusual-angle warps: known values, both code paths, masks, borders, gradients and refusals."""

from __future__ import annotations

import math

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.errors import InputError, ParameterError
from foolbox_lite.operators.homography import about_centre, object_frames, rotation_matrix, tilt_matrix, warp


def _smooth(b: int = 2, size: int = 24, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size, dtype=dtype), torch.linspace(0, 1, size, dtype=dtype), indexing="ij")
    base = torch.stack([xs, ys, 0.5 + 0.4 * torch.sin(6 * xs) * torch.cos(5 * ys)])
    return torch.stack([base * (0.6 + 0.4 * i / max(1, b - 1)) for i in range(b)])


def _centroid(m: torch.Tensor) -> tuple[float, float]:
    h, w = m.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    m = m.double().reshape(h, w)
    return float((m * xs).sum() / m.sum()), float((m * ys).sum() / m.sum())


# ----------------------------------------------------------------------------- known values
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("angle,k", [(90, 1), (180, 2), (-90, 3)])
def test_right_angle_rotations_equal_rot90(dtype, angle, k):
    x = torch.rand(2, 3, 9, 9, generator=torch.Generator().manual_seed(0), dtype=dtype)
    m = torch.zeros(2, 1, 9, 9, dtype=dtype)
    m[:, :, 2:5, 1:7] = 1
    out = fl.ops.Rotate(angle, centre="image")(fl.Stimuli.from_tensor(x, m))
    torch.testing.assert_close(out.images, torch.rot90(x, k, (2, 3)), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.mask, torch.rot90(m, k, (2, 3)), atol=1e-5, rtol=0)
    near = fl.ops.Rotate(angle, centre="image", interpolation="nearest")(fl.Stimuli.from_tensor(x))
    assert torch.equal(near.images, torch.rot90(x, k, (2, 3)))


def test_zero_tilt_is_identity():
    assert torch.allclose(torch.tensor(tilt_matrix(0, 0, 0, 300.0), dtype=torch.float64), torch.eye(3, dtype=torch.float64))
    x = _smooth()
    for xx in (x, x.double()):
        out = fl.ops.Tilt(pitch=0, yaw=0, roll=0)(fl.Stimuli.from_tensor(xx))
        torch.testing.assert_close(out.images, xx, atol=1e-6, rtol=0)


def test_roll_equals_in_plane_rotation_and_rotation_matrix_is_orthonormal():
    assert torch.allclose(torch.tensor(tilt_matrix(0, 0, 30, 50.0), dtype=torch.float64), torch.tensor(rotation_matrix(30), dtype=torch.float64), atol=1e-12)
    x = _smooth()
    a = fl.ops.Tilt(pitch=0, roll=30)(fl.Stimuli.from_tensor(x)).images
    b = fl.ops.Rotate(30)(fl.Stimuli.from_tensor(x)).images
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def _apply(h, x, y):
    v = h @ torch.tensor([x, y, 1.0], dtype=torch.float64)
    return v[:2] / v[2]


def test_tilt_signs_and_centre_fixed():
    h = torch.tensor(tilt_matrix(40, 0, 0, 100.0), dtype=torch.float64)
    top = (_apply(h, 50, -50) - _apply(h, -50, -50))[0]
    bottom = (_apply(h, 50, 50) - _apply(h, -50, 50))[0]
    assert top < 0.6 * bottom  # positive pitch turns the top edge away: it gets shorter
    h = torch.tensor(tilt_matrix(0, 40, 0, 100.0), dtype=torch.float64)
    left = (_apply(h, -50, 50) - _apply(h, -50, -50))[1]
    right = (_apply(h, 50, 50) - _apply(h, 50, -50))[1]
    assert right < 0.6 * left
    # a long focal length approaches the orthographic foreshortening cos(pitch)
    h = torch.tensor(tilt_matrix(60, 0, 0, 1e6), dtype=torch.float64)
    assert math.isclose(float((_apply(h, 0, 10) - _apply(h, 0, -10))[1]), 20 * math.cos(math.radians(60)), rel_tol=1e-4)
    # the object's centroid is the fixed point of the applied homography
    stim = fl.Stimuli.from_tensor(*_disc(64))
    op = fl.ops.Tilt(pitch=(30, 50), yaw=(-30, 30))
    params = [r["params"] for r in op.sample_params(stim, seed=1, path="tilt")]
    mats = op.matrices(stim, params)
    centres, _ = object_frames(stim.mask, 64, 64, len(stim))
    for i in range(len(stim)):
        torch.testing.assert_close(_apply(mats[i], *centres[i].tolist()), centres[i], atol=1e-9, rtol=0)


def _disc(size: int, b: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    from foolbox_lite.assets.synthetic import disc_scene

    return disc_scene(b, size)


def test_rotation_turns_about_the_object_centroid_and_keeps_mask_aligned():
    _, masks = _disc(48)
    stim = fl.Stimuli.from_tensor(masks.expand(-1, 3, -1, -1).contiguous(), masks)  # image = its own mask
    out = fl.ops.Rotate(angle=(30, 60))(stim, seed=2)
    for i in range(len(stim)):
        c0, c1 = _centroid(masks[i]), _centroid(out.mask[i])
        assert abs(c0[0] - c1[0]) < 0.3 and abs(c0[1] - c1[1]) < 0.3
    torch.testing.assert_close(out.images[:, :1], out.mask, atol=1e-6, rtol=0)
    # with centre="image" the off-centre disc moves
    moved = fl.ops.Rotate(angle=90, centre="image")(stim)
    assert abs(_centroid(moved.mask[0])[0] - _centroid(masks[0])[0]) > 3


def test_record_has_values_and_matrix_and_replays():
    stim = fl.Stimuli.from_tensor(*_disc(32))
    op = fl.ops.Tilt(pitch=(20, 40), yaw=(-20, 20), focal={"choice": [0.8, 1.2]})
    out = op(stim, seed=9)
    rec = out.items[1].params[-1]["params"]
    assert set(rec) == {"pitch", "yaw", "roll", "focal_px", "matrix"}
    assert 20 <= rec["pitch"] <= 40 and rec["focal_px"] in (0.8 * 32, 1.2 * 32)
    assert torch.allclose(torch.tensor(rec["matrix"], dtype=torch.float64), torch.tensor(tilt_matrix(rec["pitch"], rec["yaw"], rec["roll"], rec["focal_px"]), dtype=torch.float64))
    again = op.replay(stim, [it.params[-1] for it in out.items])
    assert torch.equal(again.images, out.images)
    mats = op.matrices(stim, [it.params[-1]["params"] for it in out.items])
    centres, _ = object_frames(stim.mask, 32, 32, 3)
    assert torch.allclose(mats, about_centre(torch.tensor([it.params[-1]["params"]["matrix"] for it in out.items], dtype=torch.float64), centres))


def test_scale_translate_moves_and_scales_the_object():
    images, masks = _disc(64, 1)
    stim = fl.Stimuli.from_tensor(images, masks)
    out = fl.ops.ScaleTranslate(scale=0.5, tx=0.1, ty=-0.05)(stim)
    c0, c1 = _centroid(masks[0]), _centroid(out.mask[0])
    assert abs(c1[0] - c0[0] - 6.4) < 0.2 and abs(c1[1] - c0[1] + 3.2) < 0.2
    assert abs(out.mask.sum() / masks.sum() - 0.25) < 0.02


def test_flip_is_exact_and_records_matrix():
    images, masks = _disc(16, 4)
    stim = fl.Stimuli.from_tensor(images, masks)
    out = fl.ops.Flip(horizontal=0.5, vertical=0.5)(stim, seed=3)
    for i, it in enumerate(out.items):
        p = it.params[-1]["params"]
        dims = [d for d, on in ((1, p["vertical"]), (2, p["horizontal"])) if on]
        exp = images[i].flip(dims) if dims else images[i]
        assert torch.equal(out.images[i], exp)
        assert torch.equal(out.mask[i], masks[i].flip(dims) if dims else masks[i])
        assert p["matrix"][0][0] == (-1.0 if p["horizontal"] else 1.0)
    assert {(it.params[-1]["params"]["horizontal"], it.params[-1]["params"]["vertical"]) for it in out.items} != {(False, False)}
    assert torch.equal(fl.ops.Flip(1.0, 1.0)(fl.ops.Flip(1.0, 1.0)(stim)).images, images)


# ----------------------------------------------------------------------------- borders and paths
@pytest.mark.parametrize("border", ["zeros", "constant", "reflect", "replicate"])
def test_fast_path_matches_torch_path(border):
    x = _smooth(2, 32)
    mats = about_centre(torch.stack([torch.tensor(tilt_matrix(25, -20, 10, 40.0), dtype=torch.float64), torch.tensor(rotation_matrix(33), dtype=torch.float64)]), torch.tensor([[15.5, 15.5], [12.0, 18.0]], dtype=torch.float64))
    fill = (0.2, 0.5, 0.9) if border == "constant" else (0.0, 0.0, 0.0)
    fast = warp(x, mats, border=border, fill=fill)  # OpenCV
    ref = warp(x.double(), mats, border=border, fill=fill)  # grid_sample
    diff = (fast.double() - ref).abs()
    if _opencv_version() >= (5, 0):  # unquantised sampling positions, as grid_sample's
        assert diff.max() < 1e-5
    else:  # OpenCV 4.x steps positions in 1/32 px (fixed point)
        assert diff.max() < 0.02 and diff.mean() < 2e-3


@pytest.mark.parametrize("border", ["zeros", "constant", "reflect", "replicate"])
def test_fast_path_keeps_a_channels_last_image_without_a_mask_channels_last_with_the_warps_own_bytes(border):
    """A channels-last tensor warped on its own comes back channels-last, a planar one planar: each item exactly OpenCV's (H, W, C) warp of it."""
    import cv2
    import numpy as np

    x = torch.rand(5, 3, 23, 31, generator=torch.Generator().manual_seed(7))
    mats = about_centre(
        torch.stack([torch.tensor(m, dtype=torch.float64) for m in (tilt_matrix(25, -20, 10, 40.0), rotation_matrix(33), rotation_matrix(-71), tilt_matrix(-40, 5, 0, 30.0), rotation_matrix(90))]),
        torch.tensor([[15.5, 11.0], [12.0, 18.0], [15.0, 11.0], [3.0, 4.0], [15.0, 11.0]], dtype=torch.float64),
    )
    fill = (0.2, 0.5, 0.9) if border == "constant" else (0.0, 0.0, 0.0)
    planar = warp(x, mats, border=border, fill=fill)
    assert planar.is_contiguous()
    hwc = warp(x.contiguous(memory_format=torch.channels_last), mats, border=border, fill=fill)
    assert hwc.is_contiguous(memory_format=torch.channels_last) and not hwc.is_contiguous()
    assert torch.equal(hwc, planar)
    inv = np.linalg.inv(mats.numpy())
    mode = {"zeros": cv2.BORDER_CONSTANT, "constant": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT, "replicate": cv2.BORDER_REPLICATE}[border]
    compared = 0
    for i in range(5):
        item = np.ascontiguousarray(x[i].permute(1, 2, 0).numpy())
        affine = bool((inv[i, 2] == [0.0, 0.0, 1.0]).all())
        fn, m = (cv2.warpAffine, np.ascontiguousarray(inv[i, :2])) if affine else (cv2.warpPerspective, inv[i])
        ref = fn(item, m, (31, 23), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=mode, borderValue=(*fill, 0.0))
        if not fl.operators.homography._behind_camera(inv[i : i + 1], 23, 31):
            assert torch.equal(hwc[i].permute(1, 2, 0), torch.from_numpy(ref)), f"item {i}"
            compared += 1
    assert compared == 5
    two = warp(x[:, :2].contiguous(memory_format=torch.channels_last), mats, border=border, fill=fill[:2])  # two channels on their own
    assert two.is_contiguous(memory_format=torch.channels_last) and torch.equal(two, warp(x[:, :2].contiguous(), mats, border=border, fill=fill[:2]))


def test_a_warp_with_a_mask_stays_planar_and_operators_keep_an_images_bytes_whatever_its_layout():
    x = torch.rand(4, 3, 20, 20, generator=torch.Generator().manual_seed(3))
    m = (torch.rand(4, 1, 20, 20, generator=torch.Generator().manual_seed(4)) > 0.3).float()
    cl = x.contiguous(memory_format=torch.channels_last)
    out = fl.ops.Rotate(angle=(-40, 40))(fl.Stimuli.from_tensor(cl, m), seed=1)
    assert out.images.is_contiguous() and out.mask.is_contiguous()  # warped with the mask, four channels at a time
    assert fl.ops.Rotate(angle=(-40, 40))(fl.Stimuli.from_tensor(x), seed=1).images.is_contiguous()  # planar in, planar out
    alone = fl.Stimuli.from_tensor(x)
    op = fl.Pipeline([fl.ops.Tilt(pitch=(10, 40)), fl.ops.Rotate(angle=(-40, 40)), fl.ops.GaussianNoise(std=0.05), fl.ops.Grayscale()])
    a = op(alone, seed=2).images
    b = op(fl.Stimuli.from_tensor(x.contiguous(memory_format=torch.channels_last)), seed=2).images
    assert torch.equal(a, b)


def _opencv_version() -> tuple[int, int]:
    import cv2

    major, minor = cv2.__version__.split(".")[:2]
    return int(major), int(minor)


def test_border_policies_fill_the_corners():
    x = torch.full((1, 3, 20, 20), 0.7)
    stim = fl.Stimuli.from_tensor(x)
    zeros = fl.ops.Rotate(45)(stim).images
    assert zeros[0, :, 0, 0].abs().max() < 1e-6 and abs(zeros[0, 0, 10, 10] - 0.7) < 1e-6
    const = fl.ops.Rotate(45, border="constant", fill=[0.1, 0.2, 0.3])(stim).images
    torch.testing.assert_close(const[0, :, 0, 0], torch.tensor([0.1, 0.2, 0.3]))
    for border in ("reflect", "replicate"):
        torch.testing.assert_close(fl.ops.Rotate(45, border=border)(stim).images, x)
        torch.testing.assert_close(fl.ops.Rotate(45, border=border)(stim.to(dtype=torch.float64)).images, x.double())


def test_reflect_mirrors_about_the_edge():
    x = torch.arange(8, dtype=torch.float64).view(1, 1, 1, 8).expand(1, 3, 8, 8) / 8
    mats = torch.tensor([[[1.0, 0, 3], [0, 1, 0], [0, 0, 1]]], dtype=torch.float64)  # move right by 3 px
    for xx in (x, x.float()):
        out = warp(xx.contiguous(), mats, border="reflect")
        torch.testing.assert_close(out[0, 0, 0, :4].double(), torch.tensor([2, 1, 0, 0], dtype=torch.float64) / 8)


def test_pixels_beyond_the_horizon_get_the_fill():
    m = torch.zeros(1, 1, 40, 40)
    m[:, :, 17:23, 17:23] = 1
    stim = fl.Stimuli.from_tensor(torch.full((1, 3, 40, 40), 0.5), m)
    for s in (stim, stim.to(dtype=torch.float64)):
        out = fl.ops.Tilt(pitch=75, focal=8, focal_unit="px", border="replicate", min_visible=0.0)(s)
        assert out.images[0, :, 0].abs().max() == 0  # the top row sees the sky beyond the horizon
        assert abs(float(out.images[0, 0, 20, 20]) - 0.5) < 1e-6


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize(
    "op",
    [
        fl.ops.Rotate(37, border="reflect"),
        fl.ops.Tilt(pitch=30, yaw=-20, roll=10, border="constant", fill=0.3),
        fl.ops.ScaleTranslate(scale=1.2, tx=0.1, border="replicate"),
        fl.ops.Flip(1.0, 1.0),
    ],
    ids=lambda op: op.name,
)
def test_gradcheck(op):
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).requires_grad_()
    m = torch.zeros(2, 1, 8, 8, dtype=torch.float64)
    m[:, :, 2:6, 2:6] = 1
    stim = fl.Stimuli.from_tensor(x.detach(), m)
    params = [r["params"] for r in op.sample_params(stim, seed=0, path=op.name)]
    assert torch.autograd.gradcheck(lambda t: op.apply(fl.Stimuli.from_tensor(t, m), params).images, (x,), fast_mode=True)


def test_inputs_tracking_grad_take_the_differentiable_path():
    x = _smooth(1, 16).requires_grad_()
    out = fl.ops.Rotate(20)(fl.Stimuli.from_tensor(x))
    out.images.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- refusals
def test_degenerate_tilt_is_refused_with_its_values():
    stim = fl.Stimuli.from_tensor(_smooth(1, 64))
    with pytest.raises(ParameterError, match=r"'pitch': 85.0.*vanishing line"):
        fl.ops.Tilt(pitch=85, focal=0.3)(stim)
    with pytest.raises(ParameterError, match=r"sliver"):
        fl.ops.Tilt(pitch=80, yaw=80, focal=50.0)(stim)
    with pytest.raises(ParameterError, match=r"reaches 90 degrees"):
        fl.ops.Tilt(pitch=(40, 90))
    with pytest.raises(ParameterError, match=r"'yaw'.*below its minimum"):
        fl.ops.Tilt(yaw=-120)


def test_object_pushed_out_of_frame_is_refused():
    stim = fl.Stimuli.from_tensor(*_disc(32, 1))
    with pytest.raises(ParameterError, match=r"inside the frame.*min_visible=0.5"):
        fl.ops.ScaleTranslate(tx=0.8)(stim)
    fl.ops.ScaleTranslate(tx=0.8, min_visible=0.0)(stim)  # allowed when asked for


def test_bad_parameters_have_clear_errors():
    with pytest.raises(ParameterError, match=r"'border' = 'wrap' is not one of \['zeros', 'constant', 'reflect', 'replicate'\]"):
        fl.ops.Rotate(border="wrap")
    with pytest.raises(ParameterError, match=r"'interpolation' = 'cubic'"):
        fl.ops.Tilt(interpolation="cubic")
    with pytest.raises(ParameterError, match=r"upside down"):
        fl.ops.Rotate(angle=(30, -30))
    with pytest.raises(ParameterError, match=r"'angle' must be finite"):
        fl.ops.Rotate(angle=float("nan"))
    with pytest.raises(ParameterError, match=r"only used with border='constant'"):
        fl.ops.Rotate(fill=0.5)
    with pytest.raises(ParameterError, match=r"fill\[1\].*above its maximum"):
        fl.ops.Rotate(border="constant", fill=[0.1, 2.0, 0.1])
    with pytest.raises(ParameterError, match=r"'focal' = 0 must be positive"):
        fl.ops.Tilt(focal=0)
    with pytest.raises(ParameterError, match=r"'centre' = 'mask'"):
        fl.ops.Rotate(centre="mask")
    with pytest.raises(ParameterError, match=r"'horizontal'.*above its maximum"):
        fl.ops.Flip(horizontal=1.5)


def test_bad_inputs_have_clear_errors():
    stim = fl.Stimuli.from_tensor(_smooth(1, 8))
    with pytest.raises(InputError, match=r"takes a Stimuli batch"):
        fl.ops.Rotate(10)(torch.rand(1, 3, 8, 8))
    with pytest.raises(InputError, match=r"'matrix' must be a finite 3x3"):
        fl.ops.Rotate(10).apply(stim, [{"angle": 10, "matrix": [[1, 0], [0, 1]]}])
    with pytest.raises(InputError, match=r"'matrix' must be a finite 3x3"):
        fl.ops.Rotate(10).apply(stim, [{"angle": 10, "matrix": [[float("nan")] * 3] * 3}])
    with pytest.raises(InputError, match=r"matrices of shape \(1, 3, 3\)"):
        warp(stim.images, torch.eye(3, dtype=torch.float64)[None].repeat(2, 1, 1))


# ----------------------------------------------------------------------------- real data
def test_tilted_silhouette_foreshortens_like_cos(geirhos_shapes):
    path = geirhos_shapes / "filled-silhouettes" / "cat" / "cat1.png"
    mask = fl.load_mask(path, mode="dark")[None]
    stim = fl.Stimuli.from_tensor(mask.expand(-1, 3, -1, -1).contiguous(), mask)
    out = fl.ops.Tilt(pitch=60, focal=100.0)(stim)  # near-orthographic camera
    ratio = float(out.mask.sum() / mask.sum())
    assert abs(ratio - 0.5) < 0.02
    torch.testing.assert_close(out.images[:, 1:2], out.mask, atol=1e-6, rtol=0)
    # the real photo with the silhouette as mask: rotating 90 about the image centre is exact
    photo = fl.Stimuli.from_tensor(fl.load_image(geirhos_shapes / "edges" / "cat" / "cat1.png", size=224)[None], mask)
    r = fl.ops.Rotate(90, centre="image")(photo)
    torch.testing.assert_close(r.images, torch.rot90(photo.images, 1, (2, 3)), atol=1e-5, rtol=0)


def test_operator_equals_functional_warp_and_label_layers_stay_integer():
    from foolbox_lite.operators.homography import warp_many

    images, masks = _disc(40, 3)
    labels = (masks > 0.5).to(torch.int64) * 7
    stim = fl.Stimuli(images, {"mask": masks, "labels": labels})
    op = fl.ops.Tilt(pitch=(20, 40), yaw=(-20, 20), border="constant", fill=0.25)
    out = op(stim, seed=5)
    mats = op.matrices(stim, [it.params[-1]["params"] for it in out.items])
    img, msk = warp_many([images, masks], mats, border="constant", fills=[[0.25] * 3, [0.0]])
    assert torch.equal(out.images, img) and torch.equal(out.mask, msk)
    assert out.layers["labels"].dtype == torch.int64 and set(out.layers["labels"].unique().tolist()) <= {0, 7}
    assert (out.layers["labels"] == 7).sum() > 0
    with pytest.raises(InputError, match=r"one batch and size"):
        warp_many([images, masks[:, :, :20]], mats)
