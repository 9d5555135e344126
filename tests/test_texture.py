"""Texture sources, seamless tiling, rendering, colour matching and the fill operators.

Real data: textures cut from ImageNet sample photos (zebra, leopard) and Geirhos
silhouettes as shapes.
"""

from __future__ import annotations

import math

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.assets.synthetic import disc_scene
from foolbox_lite.errors import AssetError, InputError, ParameterError
from foolbox_lite.operators.texture import ColourMatch, ShadedTextureFill, TextureFill, example_textures
from foolbox_lite.textures import Texture, inscribed_box, make_seamless, render_texture
from foolbox_lite.textures.colour import colour_transfer, from_space, masked_stats, to_space
from foolbox_lite.textures.fill import luminance, shade
from foolbox_lite.textures.source import _render_torch

ZEBRA = "n02391049_zebra.JPEG"
LEOPARD = "n02128385_leopard.JPEG"
ZEBRA_SKIN = (100, 60, 220, 230)  # the zebra's neck: stripes only
LEOPARD_SKIN = (370, 40, 495, 320)  # the leopard's flank: spots only


@pytest.fixture(scope="module")
def zebra(imagenet_samples) -> Texture:
    return Texture.from_region(imagenet_samples / ZEBRA, box=ZEBRA_SKIN)


@pytest.fixture(scope="module")
def leopard(imagenet_samples) -> Texture:
    return Texture.from_region(imagenet_samples / LEOPARD, box=LEOPARD_SKIN)


@pytest.fixture(scope="module")
def silhouettes(geirhos_shapes) -> fl.Stimuli:
    files = [geirhos_shapes / "filled-silhouettes" / c / f"{c}1.png" for c in ("elephant", "cat", "bottle")]
    stim = fl.Stimuli.from_files(files, masks=files, size=96, cues=[{"shape": c} for c in ("elephant", "cat", "bottle")])
    return stim


# ----------------------------------------------------------------------------- sources
def test_from_file_reads_imagenet_labels(imagenet_samples):
    t = Texture.from_file(imagenet_samples / ZEBRA, max_side=128)
    assert (t.name, t.label, t.wnid) == ("zebra", "zebra", "n02391049")
    assert max(t.size) == 128 and t.image.shape[0] == 3
    assert t.sources() == {"texture": f"file:{ZEBRA}|resized=128x96", "texture_wnid": "n02391049"}


def test_region_box_and_mask(imagenet_samples):
    photo = fl.load_image(imagenet_samples / ZEBRA)
    t = Texture.from_region(photo, box=(10, 20, 60, 90), name="z")
    assert torch.equal(t.image, photo[:, 20:90, 10:60])
    # the masked interior: a rectangle with a thin protrusion -> the rectangle
    m = torch.zeros(1, photo.shape[1], photo.shape[2])
    m[:, 50:150, 100:260] = 1
    m[:, 150:300, 120:125] = 1
    t2 = Texture.from_region(photo, mask=m, name="z")
    assert torch.equal(t2.image, photo[:, 50:150, 100:260])
    assert "mask=100,50,260,150" in t2.source


def test_inscribed_box_known_values():
    m = torch.zeros(10, 12, dtype=torch.bool)
    m[2:7, 3:9] = True  # 5 x 6 = 30
    m[0:10, 10] = True  # 10 x 1 = 10
    assert inscribed_box(m) == (3, 2, 9, 7)
    with pytest.raises(InputError, match="empty"):
        inscribed_box(torch.zeros(5, 5, dtype=torch.bool))


def test_single_channel_and_bad_tiles_refused():
    with pytest.raises(InputError, match="single channel"):
        Texture.from_tensor(torch.rand(1, 32, 32))
    with pytest.raises(InputError, match="single channel"):
        Texture.from_tensor(torch.rand(32, 32))
    with pytest.raises(InputError, match=r"outside \[0, 1\]"):
        Texture.from_tensor(torch.rand(3, 32, 32) * 2)
    with pytest.raises(InputError, match="at least 8x8"):
        Texture.from_tensor(torch.rand(3, 5, 32))
    with pytest.raises(ParameterError, match="exactly one of box"):
        Texture.from_region(torch.rand(3, 32, 32))
    with pytest.raises(ParameterError, match="not inside"):
        Texture.from_region(torch.rand(3, 32, 32), box=(0, 0, 40, 20))


def test_unknown_asset_names_nearest():
    with pytest.raises(AssetError, match="zebar") as exc:
        Texture.from_asset("zebar")
    assert "zebra" in str(exc.value)
    with pytest.raises(AssetError):
        TextureFill("no_such_texture_at_all")


def test_seamless_tiles_wrap_without_seam(zebra):
    raw = zebra.image
    for mode in ("crossfade", "mirror"):
        tile = make_seamless(raw, mode)
        inner = (tile[:, :, 1:] - tile[:, :, :-1]).abs().mean()
        wrap_x = (tile[:, :, 0] - tile[:, :, -1]).abs().mean()
        wrap_y = (tile[:, 0, :] - tile[:, -1, :]).abs().mean()
        assert wrap_x < 1.5 * inner and wrap_y < 1.5 * inner, (mode, wrap_x, wrap_y, inner)
    raw_wrap = (raw[:, :, 0] - raw[:, :, -1]).abs().mean()
    assert raw_wrap > 2 * (raw[:, :, 1:] - raw[:, :, :-1]).abs().mean()  # the raw crop does have a seam
    assert make_seamless(raw, "mirror").shape == (3, 2 * raw.shape[1], 2 * raw.shape[2])


def test_render_known_values():
    g = torch.Generator().manual_seed(0)
    tile = torch.rand(3, 40, 48, generator=g)
    ident = render_texture(tile, 24, 24, [1.0], [0.0], [(0.0, 0.0)])[0]
    assert torch.equal(ident, tile[:, :24, :24])
    # a half-tile offset of a full-size render is a roll; coordinates wrap around
    rolled = render_texture(tile, 40, 48, [1.0], [0.0], [(0.5, 0.25)])[0]
    assert torch.allclose(rolled, torch.roll(tile, shifts=(-10, -24), dims=(1, 2)), atol=1e-6)
    # a 90-degree rotation (about the image centre) is rot90 of the unrotated render
    r0 = render_texture(tile, 24, 24, [1.0], [0.0], [(0.1, 0.1)])[0]
    r90 = render_texture(tile, 24, 24, [1.0], [90.0], [(0.1, 0.1)])[0]
    assert torch.allclose(r90, torch.rot90(r0, k=1, dims=(1, 2)), atol=2e-3)
    # the torch path (GPU) agrees with the OpenCV path (CPU)
    args = ([0.6, 2.0], [33.0, -70.0], [(0.3, 0.9), (0.7, 0.1)])
    a = render_texture(tile, 30, 20, *args)
    mats = []
    import numpy as np

    for s, ang, (ox, oy) in zip(*args):
        c, si = math.cos(math.radians(ang)) / s, math.sin(math.radians(ang)) / s
        m = np.array([[c, -si, 0.0], [si, c, 0.0]])
        m[0, 2] = 9.5 - (c * 9.5 - si * 14.5) + ox * 48
        m[1, 2] = 14.5 - (si * 9.5 + c * 14.5) + oy * 40
        mats.append(m)
    b = _render_torch(tile, 30, 20, mats, torch.float32)
    import cv2

    if int(cv2.__version__.split(".")[0]) >= 5:  # float sampling positions, as grid_sample's
        assert (a - b).abs().max() < 2e-3
    else:  # OpenCV 4.x steps positions in 1/32 px (fixed point): larger at the tile's sharp edges
        assert (a - b).abs().max() < 0.03 and (a - b).abs().mean() < 5e-3  # a noise tile: sharp everywhere


# ----------------------------------------------------------------------------- colour
def test_colour_spaces_round_trip():
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.9 + 0.05
    for space in ("lab", "lalphabeta"):
        assert torch.allclose(from_space(to_space(x, space), space), x, atol=1e-5), space


def test_colour_transfer_reaches_target_statistics(imagenet_samples, leopard):
    images, masks = disc_scene(2, 48, dtype=torch.float64)
    t_mean, t_std = masked_stats(to_space(leopard.image[None].double(), "lab"), None)
    out, clipped = colour_transfer(images, t_mean.expand(2, -1, -1, -1), t_std.expand(2, -1, -1, -1), mask=masks, space="lab")
    mean, std = masked_stats(to_space(out, "lab"), masks)
    assert float(clipped.max()) < 0.02
    assert torch.allclose(mean, t_mean.expand_as(mean), atol=1.0) and torch.allclose(std, t_std.expand_as(std), atol=1.5)


def test_colour_match_operator_recolours_object_only(leopard):
    images, masks = disc_scene(3, 48)
    stim = fl.Stimuli.from_tensor(images, masks, cues=[{"shape": "disc"}] * 3)
    out = ColourMatch(leopard)(stim, seed=0)
    outside = masks == 0
    assert torch.equal(out.images.masked_select(outside.expand_as(images)), images.masked_select(outside.expand_as(images)))
    inside = (masks > 0.99).double()
    mean, _ = masked_stats(to_space(out.images.double(), "lab"), inside)
    t_mean, _ = masked_stats(to_space(leopard.image[None].double(), "lab"), None)
    assert (mean - t_mean).abs().max() < 3.0  # Lab units; the soft edge and gamut clipping move it a little
    assert out.items[0].cues == {"shape": "disc", "colour": "leopard"}


# ----------------------------------------------------------------------------- fills
def test_fill_keeps_background_and_puts_the_texture_inside(silhouettes, zebra, leopard):
    op = TextureFill([zebra, leopard], scale=(0.8, 1.2), angle=(-20, 20))
    out = op(silhouettes, seed=11)
    m = silhouettes.mask
    out_px = (m == 0).expand_as(out.images)
    assert torch.equal(out.images[out_px], silhouettes.images[out_px])
    textures = {"zebra": zebra, "leopard": leopard}
    for i, it in enumerate(out.items):
        assert it.cues["shape"] == silhouettes.items[i].cues["shape"]
        tex = textures[it.cues["texture"]]
        assert it.params[-1]["params"]["texture_name"] == tex.name
        inside = out.images[i][:, m[i, 0] >= 1]
        # the texture's statistics reach the inside (the black silhouette had mean ~0, std ~0)
        assert torch.allclose(inside.mean(dim=1), tex.image.flatten(1).mean(dim=1), atol=0.08)
        assert abs(float(inside.std()) - float(tex.image.std())) < 0.08
    assert {it.cues["texture"] for it in out.items} == {"zebra", "leopard"}  # both drawn among 3 items with this seed


def test_fill_backgrounds_blank_and_replace(silhouettes, zebra, leopard):
    blank = TextureFill(zebra, background="blank", fill=[1.0, 0.5, 0.0])(silhouettes, seed=1)
    m = silhouettes.mask
    px = (m[:, 0] == 0)
    assert torch.equal(blank.images.permute(0, 2, 3, 1)[px], torch.tensor([1.0, 0.5, 0.0]).expand(int(px.sum()), 3))
    rep = TextureFill(zebra, background="replace", background_texture=leopard)(silhouettes, seed=1)
    assert rep.items[0].cues["background"] == "leopard" and rep.items[0].cues["texture"] == "zebra"
    bg = rep.images.permute(0, 2, 3, 1)[px]
    assert abs(float(bg.mean()) - float(leopard.image.mean())) < 0.08
    with pytest.raises(ParameterError, match="background_texture"):
        TextureFill(zebra, background="replace")
    with pytest.raises(ParameterError, match="background"):
        TextureFill(zebra, background="transparent")


def test_fill_replay_and_wrong_texture_order(silhouettes, zebra, leopard):
    op = TextureFill([zebra, leopard], scale={"choice": [0.5, 1.0]}, angle=(0, 90))
    out = op(silhouettes, seed=5)
    recs = [it.params[-1] for it in out.items]
    assert torch.equal(op.replay(silhouettes, recs).images, out.images)
    swapped = TextureFill([leopard, zebra], scale={"choice": [0.5, 1.0]}, angle=(0, 90))
    with pytest.raises(ParameterError, match="record names texture"):
        swapped.replay(silhouettes, recs)


def test_shaded_fill_follows_object_luminance(zebra):
    # an object shaded from dark (left) to light (right), a disc mask
    ramp = torch.linspace(0.1, 0.9, 64).view(1, 1, 1, 64).expand(2, 3, 64, 64).contiguous()
    _, masks = disc_scene(2, 64)
    images = ramp
    stim = fl.Stimuli.from_tensor(images, masks)
    flat = TextureFill(zebra, offset=False)(stim, seed=0)
    zero = ShadedTextureFill(zebra, strength=0.0, offset=False)(stim, seed=0)
    assert torch.equal(zero.images, flat.images)  # strength 0 is the plain fill
    full = ShadedTextureFill(zebra, strength=1.0, offset=False)(stim, seed=0)
    inside = masks[:, 0] >= 1
    obj = luminance(images)[:, 0]
    bright = inside & (obj > obj[inside].median())
    dark = inside & (obj <= obj[inside].median())

    def contrast(x: torch.Tensor) -> float:
        y = luminance(x)[:, 0]
        return float(y[bright].mean() - y[dark].mean())

    assert contrast(full.images) > contrast(flat.images) + 0.1
    edged = ShadedTextureFill(zebra, strength=0.0, edges=1.0, offset=False)(stim, seed=0)
    assert float(edged.images.mean()) < float(flat.images.mean())


def test_shade_stays_in_range_without_clipping():
    g = torch.Generator().manual_seed(3)
    tex, lum = torch.rand(4, 3, 16, 16, generator=g), torch.rand(4, 1, 16, 16, generator=g)
    mask = (torch.rand(4, 1, 16, 16, generator=g) > 0.3).float()
    out = shade(tex, lum, mask, torch.ones(4, 1, 1, 1), torch.ones(4, 1, 1, 1))
    assert float(out.min()) >= 0 and float(out.max()) <= 1


@pytest.mark.parametrize("cls", [TextureFill, ShadedTextureFill, ColourMatch])
def test_gradcheck(cls):
    op = cls.example()
    images, masks = disc_scene(2, 8, dtype=torch.float64)
    stim = fl.Stimuli.from_tensor(images, masks)
    params = [r["params"] for r in op.sample_params(stim, seed=0, path="t")]

    def f(x: torch.Tensor) -> torch.Tensor:
        return op.apply(fl.Stimuli.from_tensor(x, masks), params).images

    assert torch.autograd.gradcheck(f, (images.clone().requires_grad_(),), eps=1e-6, atol=1e-4, fast_mode=True)


def test_bad_masks_and_parameters(zebra):
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    masks = torch.zeros(2, 1, 16, 16)
    masks[1, :, 4:10, 4:10] = 1
    for cls in (TextureFill, ShadedTextureFill, ColourMatch):
        with pytest.raises(InputError, match="item '000000' is empty"):
            cls(zebra)(fl.Stimuli.from_tensor(images, masks))
        with pytest.raises(InputError, match="all ones"):
            cls(zebra)(fl.Stimuli.from_tensor(images, torch.ones(2, 1, 16, 16)))
        with pytest.raises(InputError, match="mask"):
            cls(zebra)(fl.Stimuli.from_tensor(images))
    with pytest.raises(ParameterError, match="upside down"):
        TextureFill(zebra, scale=(2.0, 1.0))
    with pytest.raises(ParameterError, match="finite"):
        TextureFill(zebra, angle=float("nan"))
    with pytest.raises(ParameterError, match="below its minimum"):
        ShadedTextureFill(zebra, strength=-0.5)
    with pytest.raises(ParameterError, match="non-empty list"):
        TextureFill([])
    with pytest.raises(ParameterError, match="must be a Texture"):
        TextureFill([torch.rand(3, 16, 16)])  # type: ignore[list-item]


def test_example_textures_are_deterministic():
    a, b = example_textures(), example_textures()
    assert all(torch.equal(x.image, y.image) for x, y in zip(a, b))


def test_edge_strength_equals_sobel_convolution():
    import torch.nn.functional as F

    from foolbox_lite.textures.fill import EDGE_HALF, edge_strength

    x = torch.rand(2, 1, 10, 12, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=torch.float64) / 8
    g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), torch.stack([k, k.t()]).unsqueeze(1))
    mag = (g.square().sum(dim=1, keepdim=True) + 1e-12).sqrt()
    assert torch.allclose(edge_strength(x), mag / (mag + EDGE_HALF), atol=1e-12)


def test_colour_match_fast_path_agrees_with_kornia(leopard):
    images, masks = disc_scene(2, 32)
    t_mean, t_std = masked_stats(to_space(leopard.image[None], "lab"), None)
    args = (images, t_mean.expand(2, -1, -1, -1), t_std.expand(2, -1, -1, -1))
    slow, frac = colour_transfer(*args, mask=masks, space="lab")
    fast, none = colour_transfer(*args, mask=masks, space="lab", fast=True)
    assert none is None and frac is not None
    inside = (masks > 0.99).expand_as(fast)  # outside, far out of gamut, the two clip differently: the mask hides it
    assert (fast - slow)[inside].abs().max() < 0.005


def test_choose_texture_by_the_items_cue(silhouettes, zebra, leopard):
    stim = silhouettes.replace()
    for it, tex in zip(stim.items, ("leopard", "zebra", "leopard")):
        it.cues["texture"] = tex
    out = TextureFill([zebra, leopard], choose="cue")(stim, seed=0)
    assert [it.params[-1]["params"]["texture_name"] for it in out.items] == ["leopard", "zebra", "leopard"]
    stim.items[1].cues["texture"] = "tiger"
    with pytest.raises(ParameterError, match="'tiger', which names none of the textures"):
        TextureFill([zebra, leopard], choose="cue")(stim, seed=0)
