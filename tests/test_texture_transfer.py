"""Patch-based texture transfer (quilting) and the optional AdaIN style transfer."""

from __future__ import annotations

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.errors import InputError, ModelError, ParameterError
from foolbox_lite.operators.texture import example_textures
from foolbox_lite.operators.texture_transfer import AdaINTransfer, QuiltTransfer
from foolbox_lite.textures import Texture
from foolbox_lite.textures.adain import adain, load_adain_weights, random_adain_weights, style_transfer
from foolbox_lite.textures.quilting import _seam_masks, quilt_transfer

ZEBRA = "n02391049_zebra.JPEG"
ZEBRA_SKIN = (100, 60, 220, 230)


@pytest.fixture(scope="module")
def zebra(imagenet_samples) -> Texture:
    return Texture.from_region(imagenet_samples / ZEBRA, box=ZEBRA_SKIN)


# ----------------------------------------------------------------------------- quilting
def test_seam_cut_follows_the_cheapest_path():
    err = torch.ones(2, 6, 4)
    err[0, :, 2] = 0  # a free straight column
    err[1, :3, 0] = 0  # free path: column 0 then 1 (one step per row at most)
    err[1, 3:, 1] = 0
    m = _seam_masks(err)
    assert torch.equal(m[0], (torch.arange(4) >= 2).float().expand(6, 4))
    expected = torch.stack([(torch.arange(4) >= (0 if y < 3 else 1)).float() for y in range(6)])
    assert torch.equal(m[1], expected)


def test_quilt_copies_texture_pixels_and_follows_the_target():
    # a texture of distinct colours, dark on the left half and bright on the right
    g = torch.Generator().manual_seed(0)
    tex = torch.rand(3, 30, 30, generator=g) * 0.3
    tex[:, :, 15:] += 0.65
    target = torch.zeros(2, 1, 36, 36)
    target[:, :, :, 18:] = 1.0  # left dark, right bright
    out = quilt_transfer(tex, target, None, [1, 2], patch=8, overlap=2, candidates=2, stride=1)
    assert out.shape == (2, 3, 36, 36)
    # every output pixel is a pixel of the texture (patches are copied, never blended)
    pix = {tuple(v) for v in tex.permute(1, 2, 0).reshape(-1, 3).tolist()}
    assert all(tuple(v) in pix for v in out.permute(0, 2, 3, 1).reshape(-1, 3).tolist())
    lum = out.mean(dim=1)
    assert float(lum[:, :, 22:].mean()) > float(lum[:, :, :14].mean()) + 0.4
    # seeded: the same seeds give the same image, another seed another
    assert torch.equal(quilt_transfer(tex, target, None, [1, 2], patch=8, overlap=2, candidates=2, stride=1), out)
    other = quilt_transfer(tex, target[:1], None, [3], patch=8, overlap=2, candidates=2, stride=1)
    assert not torch.equal(other[0], out[0])
    # batch invariance of the kernel itself
    assert torch.equal(quilt_transfer(tex, target[1:], None, [2], patch=8, overlap=2, candidates=2, stride=1)[0], out[1])


def test_quilt_operator_on_silhouettes(geirhos_shapes, zebra):
    files = [geirhos_shapes / "filled-silhouettes" / c / f"{c}2.png" for c in ("bear", "truck")]
    stim = fl.Stimuli.from_files(files, masks=files, size=48, cues=[{"shape": "bear"}, {"shape": "truck"}])
    op = QuiltTransfer(zebra, patch=8, overlap=2, max_texture_side=40)
    out = op(stim, seed=4)
    m = stim.mask
    outside = (m == 0).expand_as(stim.images)
    assert torch.equal(out.images[outside], stim.images[outside])
    assert [it.cues for it in out.items] == [{"shape": "bear", "texture": "zebra"}, {"shape": "truck", "texture": "zebra"}]
    inside = out.images.permute(0, 2, 3, 1)[m[:, 0] >= 1]
    # the zebra's statistics reach the inside: black and white stripes on a black silhouette
    assert float(inside.std()) > 0.2 and abs(float(inside.mean()) - float(op.textures[0].image.mean())) < 0.12
    again = op.replay(stim, [it.params[-1] for it in out.items])
    assert torch.equal(again.images, out.images)


def test_quilt_bad_input(zebra):
    small = Texture.from_tensor(torch.rand(3, 10, 10, generator=torch.Generator().manual_seed(0)), name="small")
    with pytest.raises(ParameterError, match="smaller than one 12x12 patch"):
        QuiltTransfer(small, patch=12)
    with pytest.raises(ParameterError, match="overlap"):
        QuiltTransfer(zebra, patch=8, overlap=5)
    with pytest.raises(ParameterError, match="takes no 'scale'"):
        QuiltTransfer(zebra, scale=2.0)
    with pytest.raises(InputError, match="smaller than one"):
        quilt_transfer(small.image, torch.rand(1, 1, 16, 16), None, [0], patch=12, overlap=3)
    images = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with pytest.raises(InputError, match="all ones"):
        QuiltTransfer(zebra, patch=8, overlap=2)(fl.Stimuli.from_tensor(images, torch.ones(1, 1, 16, 16)))


# ----------------------------------------------------------------------------- AdaIN
def test_adain_statistics_step():
    g = torch.Generator().manual_seed(0)
    content = torch.randn(2, 5, 6, 7, generator=g) * 3 + 1
    style = torch.randn(2, 5, 4, 4, generator=g) * 0.5 - 2
    t = adain(content, style, eps=0.0)
    assert torch.allclose(t.mean(dim=(2, 3)), style.mean(dim=(2, 3)), atol=1e-5)
    assert torch.allclose(t.flatten(2).std(dim=2), style.flatten(2).std(dim=2), atol=1e-5)


def test_adain_missing_weights_say_what_to_supply(tmp_path):
    with pytest.raises(ModelError, match="needs encoder and decoder weights") as exc:
        AdaINTransfer(example_textures())
    assert "vgg_normalised.pth" in str(exc.value) and "decoder.pth" in str(exc.value)
    with pytest.raises(ModelError, match="does not exist"):
        AdaINTransfer(example_textures(), encoder=tmp_path / "vgg_normalised.pth", decoder=tmp_path / "decoder.pth")


def test_adain_loads_pytorch_adain_files(tmp_path):
    enc, dec = random_adain_weights(1)
    full_vgg = dict(enc)
    full_vgg["31.weight"] = torch.zeros(512, 512, 3, 3)  # layers after relu4_1 are present in the release file: ignored
    full_vgg["31.bias"] = torch.zeros(512)
    torch.save(full_vgg, tmp_path / "vgg_normalised.pth")
    torch.save(dec, tmp_path / "decoder.pth")
    e2, d2 = load_adain_weights(tmp_path / "vgg_normalised.pth", tmp_path / "decoder.pth")
    assert set(e2) == set(enc) and all(torch.equal(e2[k], enc[k]) for k in enc)
    # swapped files are named in the error
    with pytest.raises(ModelError, match="encoder weights have no tensor '0.weight'"):
        load_adain_weights(tmp_path / "decoder.pth", tmp_path / "vgg_normalised.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a state dict")
    with pytest.raises(ModelError, match="cannot be read"):
        load_adain_weights(tmp_path / "junk.pth", tmp_path / "decoder.pth")
    # the operator runs from the files, keeps the background, labels the texture
    images = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(2))
    masks = torch.zeros(2, 1, 24, 24)
    masks[:, :, 4:20, 6:18] = 1
    stim = fl.Stimuli.from_tensor(images, masks)
    op = AdaINTransfer(example_textures()[:1], encoder=str(tmp_path / "vgg_normalised.pth"), decoder=str(tmp_path / "decoder.pth"))
    out = op(stim, seed=0)
    assert torch.equal(out.images[:, :, :4], images[:, :, :4])
    assert out.items[0].cues["texture"] == "zebra"
    direct = style_transfer(images[:1], images[1:], e2, d2, 1.0)
    assert direct.shape == (1, 3, 24, 24) and float(direct.min()) >= 0 and float(direct.max()) <= 1
