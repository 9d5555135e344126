"""Background compositing and the Backgrounds-Challenge variants."""

from __future__ import annotations

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.assets.synthetic import disc_scene
from foolbox_lite.errors import InputError, ParameterError
from foolbox_lite.kernels import composite
from foolbox_lite.operators.composite import feather_masks, fit_backgrounds


def _scene(b: int = 4, size: int = 32, dtype: torch.dtype = torch.float32) -> fl.Stimuli:
    images, masks = disc_scene(b, size, dtype)
    return fl.Stimuli.from_tensor(images, masks, cues=[{"shape": "disc" if i % 2 else "cat"} for i in range(b)])


def _bgs(n: int = 3, h: int = 32, w: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(5)
    return torch.rand(n, 3, h, w, generator=g)


def _centroid(m: torch.Tensor) -> tuple[float, float]:
    h, w = m.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    m = m.double().reshape(h, w)
    return float((m * xs).sum() / m.sum()), float((m * ys).sum() / m.sum())


def test_composite_formula_and_labels():
    stim, bgs = _scene(), _bgs()
    op = fl.ops.Composite(bgs, labels=["a", "b", "c"])
    for s in (stim, stim.to(dtype=torch.float64)):  # fast path and torch path
        out = op(s, seed=1)
        for i, it in enumerate(out.items):
            k = it.params[-1]["params"]["background"]
            m = s.mask[i]
            expected = m * s.images[i] + (1 - m) * bgs[k].to(s.dtype)
            torch.testing.assert_close(out.images[i], expected, atol=1e-6, rtol=0)
            assert it.cues["background"] == "abc"[k] and it.params[-1]["params"]["label"] == "abc"[k]
            assert it.sources["background"] == f"backgrounds[{k}]"
        assert torch.equal(out.mask, s.mask)
    assert len({it.params[-1]["params"]["background"] for it in op(_scene(12), seed=2).items}) == 3
    f = composite(stim.images, bgs[:1].expand(4, -1, -1, -1), stim.mask)
    torch.testing.assert_close(f, stim.images * stim.mask + bgs[0] * (1 - stim.mask))


def test_fit_policies():
    bg = torch.arange(2 * 4, dtype=torch.float32).view(1, 2, 4).expand(3, 2, 4) / 8
    tiled = fit_backgrounds([bg], 5, 6, "tile")[0]
    assert torch.equal(tiled[:, :2, :4], bg) and torch.equal(tiled[:, 2:4, 4:6], bg[:, :, :2]) and torch.equal(tiled[:, 4], tiled[:, 0])
    wide = torch.zeros(3, 20, 40)
    wide[:, :, 10:30] = 1.0  # a bright band in the middle half
    crop = fit_backgrounds([wide], 20, 20, "crop")[0]
    assert crop.min() > 0.99  # the centre crop keeps only the band
    resized = fit_backgrounds([wide], 20, 20, "resize")[0]
    assert resized[:, :, 0].max() < 0.01 and resized[:, :, 10].min() > 0.99
    same = torch.rand(3, 8, 8)
    assert torch.equal(fit_backgrounds([same], 8, 8, "crop")[0], same)
    op = fl.ops.Composite([wide, torch.rand(3, 7, 9)], fit="crop")
    assert op.fitted(32, 32).shape == (2, 3, 32, 32)
    assert op.fitted(32, 32) is op.fitted(32, 32)  # cached


def test_placement_moves_and_scales_the_object():
    stim = _scene(2, 64)
    op = fl.ops.Composite(_bgs(1, 64, 64), scale=0.5, x=0.5, y=0.5)
    out = op(stim, seed=0)
    for i in range(2):
        cx, cy = _centroid(out.mask[i])
        assert abs(cx - 31.5) < 0.3 and abs(cy - 31.5) < 0.3
        assert abs(float(out.mask[i].sum() / stim.mask[i].sum()) - 0.25) < 0.02
    with pytest.raises(ParameterError, match=r"inside the frame"):
        fl.ops.Composite(_bgs(1, 64, 64), scale=3.0)(stim)


def test_feathering_both_paths_agree_and_keep_mass():
    m = torch.zeros(2, 1, 40, 40)
    m[:, :, 10:30, 12:28] = 1
    fast = feather_masks(m, [0.0, 2.0])
    ref = feather_masks(m.double(), [0.0, 2.0])
    assert torch.equal(fast[0], m[0])
    torch.testing.assert_close(fast.double(), ref, atol=1e-6, rtol=0)
    assert abs(float(fast[1].sum() - m[1].sum())) < 1e-2  # blur away from the border conserves mass
    assert 0 < float(fast[1, 0, 20, 11]) < 1  # the edge is soft now
    stim = _scene(2, 32)
    out = fl.ops.Composite(_bgs(1), feather=3.0)(stim)
    assert torch.equal(out.mask, stim.mask)  # the mask layer stays the object, unfeathered
    hard = fl.ops.Composite(_bgs(1))(stim)
    assert (out.images - hard.images).abs().max() > 0.05


def test_gradcheck_images_and_background():
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_()
    bg = torch.rand(2, 3, 6, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).requires_grad_()
    m = torch.zeros(2, 1, 8, 8, dtype=torch.float64)
    m[:, :, 2:6, 3:7] = 0.7
    stim = fl.Stimuli.from_tensor(x.detach(), m)

    def f(t: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        op = fl.ops.Composite(list(b.unbind(0)), fit="crop", scale=1.1, feather=0.8)
        return op(fl.Stimuli.from_tensor(t, m), seed=3).images

    assert torch.autograd.gradcheck(f, (x, bg), fast_mode=True)
    assert stim.images.grad is None


def test_backgrounds_challenge_variants():
    stim = _scene(6)
    m, x = stim.mask, stim.images
    only_fg = fl.ops.BackgroundsChallenge("only_fg")(stim)
    torch.testing.assert_close(only_fg.images, m * x)
    assert all(it.cues["background"] == "none" for it in only_fg.items)
    only_bg = fl.ops.BackgroundsChallenge("only_bg")(stim)
    torch.testing.assert_close(only_bg.images, (1 - m) * x)
    assert only_bg.items[0].cues == stim.items[0].cues
    bgs, labels = _bgs(4), ["cat", "disc", "cat", "tree"]
    same = fl.ops.BackgroundsChallenge("mixed_same", bgs, labels)(stim, seed=4)
    for it in same.items:
        assert it.cues["background"] == it.cues["shape"]
        assert labels[it.params[-1]["params"]["background"]] == it.cues["shape"]
    nxt = fl.ops.BackgroundsChallenge("mixed_next", bgs, labels)(stim)
    assert [it.cues["background"] for it in nxt.items] == [{"cat": "disc", "disc": "tree"}[it.cues["shape"]] for it in stim.items]
    rnd = fl.ops.BackgroundsChallenge("mixed_rand", bgs)(_scene(16), seed=1)
    assert len({it.params[-1]["params"]["background"] for it in rnd.items}) >= 3
    k = same.items[0].params[-1]["params"]["background"]
    torch.testing.assert_close(same.images[0], m[0] * x[0] + (1 - m[0]) * bgs[k], atol=1e-6, rtol=0)


def test_real_silhouette_on_a_real_background(geirhos_shapes, imagenet_samples):
    mask = fl.load_mask(geirhos_shapes / "filled-silhouettes" / "cat" / "cat1.png", mode="dark")[None]
    photo = fl.load_image(imagenet_samples / "n02123045_tabby.JPEG", size=224, fit="crop")[None]
    valley = imagenet_samples / "n09468604_valley.JPEG"
    stim = fl.Stimuli.from_tensor(photo, mask, cues=[{"shape": "cat"}])
    out = fl.ops.Composite([valley], labels=["valley"], fit="crop")(stim)
    bg = fl.load_image(valley, size=224, fit="crop")
    inside, outside = mask[0, 0] > 0.999, mask[0, 0] < 0.001
    assert inside.sum() > 5000 and outside.sum() > 5000
    torch.testing.assert_close(out.images[0][:, inside], photo[0][:, inside], atol=1e-5, rtol=0)
    # our antialiased torch resize and PIL's bicubic differ a little; the content is the valley
    assert (out.images[0][:, outside] - bg[:, outside]).abs().mean() < 0.03
    assert out.items[0].cues == {"shape": "cat", "background": "valley"}
    assert out.items[0].sources["background"] == str(valley)


def test_errors_name_the_problem():
    stim = _scene(2)
    with pytest.raises(InputError, match=r"\(N, 3, H, W\).*got shape \(3, 32, 32\)"):
        fl.ops.Composite(torch.rand(3, 32, 32))
    with pytest.raises(InputError, match=r"backgrounds\[1\] must be an image tensor \(3, H, W\)"):
        fl.ops.Composite([torch.rand(3, 8, 8), torch.rand(8, 8)])
    with pytest.raises(InputError, match=r"backgrounds\[0\] has values outside \[0, 1\]"):
        fl.ops.Composite([torch.full((3, 4, 4), 2.0)])
    with pytest.raises(ParameterError, match=r"labels must be 2 strings"):
        fl.ops.Composite(_bgs(2), labels=["a"])
    with pytest.raises(ParameterError, match=r"'fit' = 'stretch' is not one of \['crop', 'resize', 'tile'\]"):
        fl.ops.Composite(_bgs(1), fit="stretch")
    with pytest.raises(ParameterError, match=r"'feather'.*upside down"):
        fl.ops.Composite(_bgs(1), feather=(3, 1))
    with pytest.raises(ParameterError, match=r"'scale' must be finite"):
        fl.ops.Composite(_bgs(1), scale=float("inf"))
    with pytest.raises(InputError, match=r"no 'mask' layer"):
        fl.ops.Composite(_bgs(1))(fl.Stimuli.from_tensor(stim.images))
    bad = fl.Stimuli.from_tensor(stim.images, stim.mask * 2)
    with pytest.raises(InputError, match=r"mask values must lie in \[0, 1\]"):
        fl.ops.Composite(_bgs(1))(bad)
    with pytest.raises(fl.AssetError, match=r"does not exist"):
        fl.ops.Composite(["/nonexistent/bg.png"])
    with pytest.raises(ParameterError, match=r"'variant' = 'mixed'"):
        fl.ops.BackgroundsChallenge("mixed")
    with pytest.raises(ParameterError, match=r"needs labels"):
        fl.ops.BackgroundsChallenge("mixed_same", _bgs(1))
    with pytest.raises(ParameterError, match=r"no 'shape' cue"):
        fl.ops.BackgroundsChallenge("mixed_same", _bgs(1), ["cat"])(fl.Stimuli.from_tensor(stim.images, stim.mask))
    with pytest.raises(ParameterError, match=r"no background is labelled 'disc'"):
        fl.ops.BackgroundsChallenge("mixed_same", _bgs(1), ["cat"])(stim)
