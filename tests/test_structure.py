"""Structure removal: patch scrambling, silhouettes, edge maps."""

from __future__ import annotations

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.errors import InputError, ParameterError
from foolbox_lite.operators.structure import patch_scramble, silhouette, sobel_edges


def ramp(b: int = 2, h: int = 8, w: int = 8, dtype=torch.float32) -> torch.Tensor:
    return (torch.arange(b * 3 * h * w, dtype=dtype) / (b * 3 * h * w)).view(b, 3, h, w)


# ------------------------------------------------------------------ patch scramble
def test_grid_of_one_is_the_identity():
    x = ramp()
    assert torch.equal(patch_scramble(x, 1, [[0], [0]]), x)


def test_two_by_two_permutation_moves_the_right_blocks():
    x = ramp(1)
    out = patch_scramble(x, 2, [[3, 2, 1, 0]])  # output patch k = input patch perm[k]
    assert torch.equal(out[..., :4, :4], x[..., 4:, 4:])
    assert torch.equal(out[..., :4, 4:], x[..., 4:, :4])
    assert torch.equal(out[..., 4:, :4], x[..., :4, 4:])
    assert torch.equal(out[..., 4:, 4:], x[..., :4, :4])


def test_not_divisible_keeps_the_leftover_strips_in_place():
    x = ramp(1, 11, 10)
    out = patch_scramble(x, 3, [[8, 7, 6, 5, 4, 3, 2, 1, 0]])  # patches 3x3, grid covers 9x9
    assert torch.equal(out[..., 9:, :], x[..., 9:, :])
    assert torch.equal(out[..., :, 9:], x[..., :, 9:])
    assert torch.equal(out[..., :3, :3], x[..., 6:9, 6:9])
    assert torch.equal(out.flatten().sort().values, x.flatten().sort().values)


def test_operator_scrambles_masks_with_the_images_and_records_the_permutation(batch):
    out = fl.ops.PatchScramble(grid=4)(batch, seed=3)
    rec = out.items[0].params[-1]["params"]
    assert rec["grid"] == 4 and sorted(rec["perm"]) == list(range(16)) and rec["perm"] != list(range(16))
    for i in range(len(batch)):
        perm = [out.items[i].params[-1]["params"]["perm"]]
        assert torch.equal(out.images[i : i + 1], patch_scramble(batch.images[i : i + 1], 4, perm))
        assert torch.equal(out.layers["mask"][i : i + 1], patch_scramble(batch.layers["mask"][i : i + 1], 4, perm))


def test_grid_range_draws_integers_and_mixed_grids_in_one_batch(batch):
    out = fl.ops.PatchScramble(grid=[2, 8])(batch, seed=5)
    grids = [it.params[-1]["params"]["grid"] for it in out.items]
    assert all(isinstance(n, int) and 2 <= n <= 8 for n in grids) and len(set(grids)) > 1
    for i, it in enumerate(out.items):
        p = it.params[-1]["params"]
        assert torch.equal(out.images[i : i + 1], patch_scramble(batch.images[i : i + 1], p["grid"], [p["perm"]]))


def test_patch_scramble_gradcheck(one_thread):
    x = ramp(2, 6, 6, torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: patch_scramble(t, 3, [list(range(9))[::-1], [4, 0, 1, 2, 3, 5, 6, 7, 8]]), (x,))


@pytest.mark.parametrize(
    "make, err, match",
    [
        (lambda: fl.ops.PatchScramble(grid=0), ParameterError, "'grid' = 0 is below its minimum 1"),
        (lambda: fl.ops.PatchScramble(grid=2.5), ParameterError, "'grid' must be an integer"),
        (lambda: fl.ops.PatchScramble(grid=(6, 2)), ParameterError, "upside down"),
        (lambda: fl.ops.PatchScramble(remainder="crop"), ParameterError, "'remainder' = 'crop' is not one of"),
    ],
)
def test_bad_patch_parameters(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_grid_that_does_not_fit_or_divide(batch):
    with pytest.raises(InputError, match="grid 40 does not fit images of 32x32"):
        fl.ops.PatchScramble(grid=40)(batch)
    with pytest.raises(InputError, match="32x32 are not divisible into a 3x3 grid"):
        fl.ops.PatchScramble(grid=3, remainder="error")(batch)
    fl.ops.PatchScramble(grid=4, remainder="error")(batch)


# ------------------------------------------------------------------ silhouette
def test_silhouette_is_black_object_on_white(batch):
    out = fl.ops.Silhouette()(batch)
    assert torch.allclose(out.images, (1 - batch.mask).expand(-1, 3, -1, -1))
    assert torch.equal(out.layers["mask"], batch.mask)
    hard = fl.ops.Silhouette(threshold=0.5)(batch).images
    assert set(hard.unique().tolist()) == {0.0, 1.0}
    assert torch.allclose(silhouette(torch.tensor([[[[0.2, 0.8]]]]), fg=0.25, bg=0.75), torch.tensor([0.65, 0.35]).view(1, 1, 1, 2).expand(1, 3, 1, 2))


def test_silhouette_needs_a_mask():
    with pytest.raises(InputError, match="no 'mask' layer"):
        fl.ops.Silhouette()(fl.Stimuli.from_tensor(torch.rand(1, 3, 8, 8)))
    with pytest.raises(ParameterError, match="'threshold' = 0 is below"):
        fl.ops.Silhouette(threshold=0)


@pytest.mark.shared
def test_silhouette_reproduces_a_geirhos_silhouette(geirhos_shapes):
    path = geirhos_shapes / "filled-silhouettes" / "cat" / "cat1.png"
    stim = fl.Stimuli.from_files([path], masks=[path], size=224)
    out = fl.ops.Silhouette()(stim)
    # the mask comes from the black-on-white drawing, so drawing it again gives the drawing back
    assert float((out.images - stim.images).abs().mean()) < 0.02


# ------------------------------------------------------------------ edges
def step_image(size: int = 16) -> torch.Tensor:
    x = torch.full((1, 3, size, size), 0.2)
    x[..., size // 2 :] = 0.8
    return x


def test_sobel_edges_are_black_on_white_at_the_step():
    out = sobel_edges(step_image())
    assert torch.equal(out[0, 0], out[0, 1])
    assert float(out[0, 0, :, 7:9].max()) == 0.0  # strongest edge: black
    assert float(out[0, 0, :, :6].min()) == 1.0 and float(out[0, 0, :, 10:].min()) == 1.0
    flat = sobel_edges(torch.full((1, 3, 8, 8), 0.4))
    assert torch.equal(flat, torch.ones_like(flat))
    binary = fl.ops.Edges("sobel", threshold=0.5)(fl.Stimuli.from_tensor(step_image())).images
    assert set(binary.unique().tolist()) == {0.0, 1.0}


def test_canny_draws_the_outline_of_a_disc(batch):
    out = fl.ops.Edges("canny", low=0.05, high=0.15)(batch).images
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    edge = out[:, 0] == 0
    assert edge.any(dim=(1, 2)).all()
    m = batch.mask[:, 0]
    near_boundary = (m > 0.02) & (m < 0.98)
    # every edge pixel lies within 2 px of the disc's soft boundary or the image frame
    grown = torch.nn.functional.max_pool2d(near_boundary[:, None].float(), 5, 1, 2)[:, 0] > 0
    assert float((edge & ~grown).float().sum()) <= 0.02 * float(edge.float().sum())


def test_bad_edge_parameters():
    with pytest.raises(ParameterError, match="'method' = 'laplace' is not one of"):
        fl.ops.Edges("laplace")
    with pytest.raises(ParameterError, match="upside down: low=0.3 > high=0.2"):
        fl.ops.Edges("canny", low=0.3, high=0.2)
    with pytest.raises(ParameterError, match="'threshold' is for method='sobel'"):
        fl.ops.Edges("canny", threshold=0.5)


def test_sobel_magnitude_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    g = torch.Generator().manual_seed(4)
    y = torch.rand(1, 1, 12, 10, generator=g)
    from foolbox_lite.operators.structure import sobel_magnitude

    gx = cv2.Sobel(y[0, 0].numpy(), cv2.CV_32F, 1, 0, borderType=cv2.BORDER_REPLICATE) / 8
    gy = cv2.Sobel(y[0, 0].numpy(), cv2.CV_32F, 0, 1, borderType=cv2.BORDER_REPLICATE) / 8
    assert torch.allclose(sobel_magnitude(y)[0, 0], torch.from_numpy((gx**2 + gy**2) ** 0.5), atol=1e-6)
    x = torch.rand(2, 3, 12, 10, generator=g)
    from foolbox_lite.operators.color import grayscale

    mag = sobel_magnitude(grayscale(x)[:, :1])  # the torch path (used off the CPU)
    ref = (1 - mag / mag.amax(dim=(1, 2, 3), keepdim=True)).expand(-1, 3, -1, -1)
    assert torch.allclose(sobel_edges(x), ref, atol=1e-5)  # the OpenCV path


def test_canny_backends_agree_on_most_pixels(batch):
    a = fl.ops.Edges("canny", low=0.05, high=0.15)(batch).images
    b = fl.ops.Edges("canny", low=0.05, high=0.15, backend="kornia")(batch).images
    ea, eb = a[:, 0] == 0, b[:, 0] == 0
    grown = torch.nn.functional.max_pool2d(eb[:, None].float(), 3, 1, 1)[:, 0] > 0
    assert float((ea & ~grown).float().sum()) <= 0.1 * float(ea.float().sum())
    with pytest.raises(ParameterError, match="'backend' = 'skimage' is not one of"):
        fl.ops.Edges("canny", backend="skimage")


def test_patch_copy_path_equals_indexed_path():
    x = ramp(3, 13, 12)
    perms = [torch.randperm(16, generator=torch.Generator().manual_seed(i)).tolist() for i in range(3)]
    fast = patch_scramble(x, 4, perms)
    slow = patch_scramble(x.clone().requires_grad_(), 4, perms)
    assert torch.equal(fast, slow.detach())
