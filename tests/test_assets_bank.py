"""The built-in asset bank: generators, silhouettes, backgrounds, photos, lookup, manifest."""

from __future__ import annotations

import json
import re
import sys

import pytest
import torch
import torch.nn.functional as F

from foolbox_lite.assets import bank, photos
from foolbox_lite.assets.bank import Asset, get_asset, list_assets
from foolbox_lite.assets.procedural import GENERATORS, generate, list_generators, lookup, render
from foolbox_lite.assets.silhouettes import SHAPES, polygon_sdf, shape_image, shape_mask
from foolbox_lite.classifiers import imagenet_labels
from foolbox_lite.errors import AssetError, InputError, ParameterError

ALL_GENERATORS = {n: g for n, g in GENERATORS.items() if g.kind in ("texture", "background")}


# ----------------------------------------------------------------------------- procedural generators
@pytest.mark.parametrize("name", sorted(ALL_GENERATORS))
def test_generator_is_seeded_and_in_range(name: str) -> None:
    gen = ALL_GENERATORS[name]
    before = torch.random.get_rng_state()
    a = render(gen, 48, seed=5)
    b = render(gen, 48, seed=5)
    c = render(gen, 48, seed=6)
    assert torch.equal(torch.random.get_rng_state(), before), "generators must not touch the global RNG"
    assert a.shape == (3, 48, 48) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    assert float((a - c).abs().mean()) > 0.02, "different seeds must give different pictures"
    assert float(a.std()) > 0.03, "a texture is not a flat colour"


@pytest.mark.parametrize("name", sorted(ALL_GENERATORS))
def test_generator_is_resolution_free(name: str) -> None:
    gen = ALL_GENERATORS[name]
    small = render(gen, 64, seed=3)
    big = F.avg_pool2d(render(gen, 128, seed=3)[None], 2)[0]
    other = render(gen, 64, seed=4)
    diff = float((small - big).abs().mean())
    assert diff < 0.05
    assert diff < 0.5 * float((small - other).abs().mean())


@pytest.mark.parametrize("name", ["zebra", "honeycomb", "savanna"])
def test_wide_render_extends_the_square_one(name: str) -> None:
    """The shorter side spans one unit: the centre of a wide render is the square render."""
    gen = ALL_GENERATORS[name]
    square = render(gen, 40, seed=1)
    wide = render(gen, (40, 64), seed=1)
    assert wide.shape == (3, 40, 64)
    torch.testing.assert_close(wide[:, :-1, 12:51], square[:, :-1, :-1], atol=1e-4, rtol=0)


def test_generator_bad_arguments() -> None:
    with pytest.raises(ParameterError, match=r"seed must be an int in \[0, 2\*\*63\), got -1"):
        generate("zebra", 32, seed=-1)
    with pytest.raises(InputError, match=r"size: width must be an int in \[1, 4096\], got 0"):
        generate("zebra", (32, 0))
    with pytest.raises(AssetError, match=r"unknown procedural generator 'zebar' \(hint: did you mean zebra\?\)"):
        generate("zebar", 32)


def test_one_table_holds_every_generator_by_kind() -> None:
    """Textures, background scenes and recipe patterns live in one table; each kind is looked up on its own."""
    assert len(list_generators("texture")) == 10 and len(list_generators("background")) == 5
    assert list_generators("pattern") == ["checkerboard", "disc", "stripes", "value_noise"]
    assert sorted(GENERATORS) == sorted(list_generators("texture") + list_generators("background") + list_generators("pattern"))
    assert lookup("savanna", "background").kind == "background"
    with pytest.raises(AssetError, match=r"unknown procedural generator 'savanna' \(hint: known: brick"):
        lookup("savanna")  # a scene is not a texture
    img, mask = GENERATORS["disc"].fn((20, 30), radius=0.3)
    assert img.shape == (3, 20, 30) and mask is not None and mask.shape == (1, 20, 30) and float(mask[0, 10, 15]) == 1.0
    with pytest.raises(ParameterError, match="'stripes' is a pattern"):
        render(GENERATORS["stripes"], 32)


# ----------------------------------------------------------------------------- silhouettes
def test_polygon_sdf_known_values() -> None:
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    x = torch.tensor([[0.5, 0.25, 2.0, 0.5]])
    y = torch.tensor([[0.5, 0.5, 0.5, -1.0]])
    torch.testing.assert_close(polygon_sdf(x, y, square), torch.tensor([[-0.5, -0.25, 1.0, 1.0]]))


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_silhouette_mask(name: str) -> None:
    m = shape_mask(name, 96)
    assert m.shape == (1, 96, 96) and m.dtype == torch.float32
    area = float(m.mean())
    assert 0.05 < area < 0.6, f"{name} covers {area:.2f} of the frame"
    border = torch.cat([m[0, 0], m[0, -1], m[0, :, 0], m[0, :, -1]])
    assert float(border.max()) == 0.0, "the shape must lie inside the frame"
    soft = ((m > 0) & (m < 1)).float().mean()
    assert 0 < float(soft) < 0.1, "anti-aliased edges only"
    torch.testing.assert_close(shape_image(name, 96), (1 - m).expand(3, -1, -1))
    big = F.avg_pool2d(shape_mask(name, 192)[None], 2)[0]
    assert float((big - m).abs().mean()) < 0.005


def test_toilet_seat_has_a_hole_and_a_lid() -> None:
    m = shape_mask("toilet_seat", 100)[0]
    assert float(m[72, 50]) == 0.0  # the hole in the ring
    assert float(m[25, 50]) == 1.0  # the raised lid
    assert float(m[72, 20]) == 1.0  # the ring left of the hole
    assert float(m[42, 22]) == 0.0  # the gap between lid and seat, beside the lid


# ----------------------------------------------------------------------------- the bank
def test_every_asset_is_found_and_renders() -> None:
    names = list_assets()
    assert len(names) == len(set(names)) >= 25
    for name in names:
        a = get_asset(name)
        assert isinstance(a, Asset) and a.name == name and a.kind in bank.KINDS
        assert a.licence and a.provenance
        if a.source_kind == "skimage":
            continue  # rendered in test_skimage_photos
        img = a.image((24, 32), seed=1)
        assert img.shape == (3, 24, 32) and img.dtype == torch.float32
        m = a.mask(24)
        assert (m is None) == (a.kind != "shape")
        assert re.fullmatch(r"[0-9a-f]{64}", a.sha256())
    assert len({get_asset(n).sha256() for n in names if get_asset(n).source_kind != "skimage"}) == len([n for n in names if get_asset(n).source_kind != "skimage"])


def test_kinds_and_required_assets() -> None:
    assert {"zebra", "leopard", "cheetah", "giraffe", "tiger", "honeycomb", "brick", "chain_mail", "scales", "wood_grain"} <= set(list_assets("texture"))
    assert {"toilet_seat", "teapot", "rocking_chair", "wine_bottle", "sports_car", "airliner"} <= set(list_assets("shape"))
    assert {"savanna", "lakeside", "seashore", "valley", "alp"} <= set(list_assets("background"))
    assert sorted(list_assets("texture") + list_assets("shape") + list_assets("background") + list_assets("photo")) == list_assets()
    assert get_asset("chair") is get_asset("rocking_chair")
    assert get_asset("airplane").category == "airplane"
    with pytest.raises(ParameterError, match=r"kind must be one of texture, shape, background, photo or None, got 'textures'"):
        list_assets("textures")


def test_typo_suggests_nearest_names() -> None:
    with pytest.raises(AssetError) as err:
        get_asset("zebar")
    assert str(err.value) == "unknown asset 'zebar' (hint: did you mean zebra?)"
    with pytest.raises(AssetError, match=r"unknown asset 'toilet seat' \(hint: did you mean toilet_seat"):
        get_asset("toilet seat")
    with pytest.raises(AssetError, match=r"unknown asset 'qqqqq' \(hint: list the names with"):
        get_asset("qqqqq")


def test_manifest_matches_code_and_labels() -> None:
    labels = imagenet_labels()
    manifest = bank.load_manifest()
    sources = {a.source for a in manifest.values()}
    for name in list_generators("texture"):
        assert f"procedural:{name}" in sources
    for name in list_generators("background"):
        assert f"background:{name}" in sources
    for name in SHAPES:
        assert f"shape:{name}" in sources
    for name in photos.SKIMAGE_PHOTOS:
        assert f"skimage:{name}" in sources
    for a in manifest.values():
        assert (a.wnid is None) == (a.label is None)
        if a.wnid is not None:
            assert labels.names[labels.index(a.wnid)] == a.label, a.name
        if a.preview is not None:
            assert bank._bank_file(a.preview).stat().st_size < 60_000


def test_manifest_categories_match_geirhos16(shared_dir) -> None:
    table = json.loads((shared_dir / "reference" / "geirhos16.json").read_text())["categories"]
    category_of = {i: c for c, members in table.items() for i in members}
    labels = imagenet_labels()
    for a in bank.load_manifest().values():
        expected = category_of.get(labels.index(a.wnid)) if a.wnid else None
        assert a.category == expected, a.name


def test_cached_images_are_not_aliased() -> None:
    a = get_asset("zebra").image(16, seed=2)
    a.zero_()
    assert float(get_asset("zebra").image(16, seed=2).max()) > 0.5


# ----------------------------------------------------------------------------- photos
def test_skimage_photos() -> None:
    pytest.importorskip("skimage")
    cat = get_asset("skimage:chelsea")
    assert (cat.label, cat.category, cat.kind) == ("tabby", "cat", "photo")
    img = cat.image((64, 96))
    assert img.shape == (3, 64, 96) and 0.2 < float(img.mean()) < 0.8
    assert cat.mask(64) is None
    horse = get_asset("skimage:horse")
    m = horse.mask(80)
    im = horse.image(80)
    assert m is not None and 0.15 < float(m.mean()) < 0.6
    assert float(im.mean(0)[m[0] > 0.99].max()) < 0.05  # the horse is black where the mask is 1
    assert float(im.mean(0)[m[0] < 0.01].min()) > 0.95
    gravel = get_asset("skimage:gravel").image(32)
    assert torch.equal(gravel[0], gravel[1])  # a grey photo on three channels
    assert cat.sha256() == photos.skimage_sha256("chelsea") != horse.sha256()


def test_missing_scikit_image_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    photos.skimage_array.cache_clear()
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    try:
        with pytest.raises(AssetError, match=r"needs scikit-image, which is not installed \(hint: pip install 'foolbox-lite\[photos\]'"):
            photos.skimage_array("coffee")
    finally:
        photos.skimage_array.cache_clear()


# ----------------------------------------------------------------------------- the textures carry their class
@pytest.mark.slow
def test_textures_carry_their_class(lite0) -> None:
    """Zebra, cheetah, honeycomb and chain mail are the classifier's top-1 on at least 6 of 8 seeds (one batch)."""
    names = ["zebra", "cheetah", "honeycomb", "chain_mail"]
    x = torch.stack([get_asset(n).image(224, seed=s) for n in names for s in range(8)])
    with torch.no_grad():
        top1 = lite0(x).argmax(1).view(len(names), 8)
    for i, n in enumerate(names):
        want = lite0.labels.index(get_asset(n).wnid)
        assert int((top1[i] == want).sum()) >= 6, f"{n}: top-1 on {(top1[i] == want).tolist()}"
