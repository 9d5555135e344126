"""Stimulus PNGs: lossless and byte-identical however often (and in whichever thread) they are encoded."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from foolbox_lite.stimulus_set.writer import encode_png


def test_png_is_lossless_and_deterministic():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    flat = np.full((64, 64, 3), 255, np.uint8)
    flat[20:40, 10:30] = (12, 200, 90)
    for arr in (noise, flat):
        data = encode_png(arr)
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), arr)
        with ThreadPoolExecutor(2) as pool:
            assert set(pool.map(encode_png, [arr] * 4)) == {data}


def test_default_png_is_stored_without_filter_and_valid():
    """Level 0: one IDAT of stored deflate blocks, filter byte 0 per row; libpng, PIL and zlib accept it (CRCs, Adler-32)."""
    import struct
    import zlib

    import cv2

    rng = np.random.default_rng(1)
    for shape in [(224, 224, 3), (37, 53, 3), (300, 500, 3), (40, 30), (1, 1, 3)]:
        arr = rng.integers(0, 256, shape, dtype=np.uint8)
        data = encode_png(arr)
        assert encode_png(arr, 0) == data
        with Image.open(io.BytesIO(data)) as im:
            im.verify()  # chunk CRCs
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), arr)
        dec = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(dec[:, :, ::-1] if dec.ndim == 3 else dec, arr)
        n = struct.unpack(">I", data[33:37])[0]
        assert data[37:41] == b"IDAT" and data[41 + n + 4:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"
        rows = zlib.decompress(data[41:41 + n])  # checks the Adler-32
        h = shape[0]
        raw = np.frombuffer(rows, np.uint8).reshape(h, -1)
        assert (raw[:, 0] == 0).all() and np.array_equal(raw[:, 1:].reshape(arr.shape), arr)
        assert len(data) < arr.size + h + 100 + 5 * (arr.size // 65535 + 1)


def test_every_compression_level_is_lossless():
    from foolbox_lite.stimulus_set.png import encode_mask

    rng = np.random.default_rng(2)
    photo = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    photo[:, :32] = 200  # compressible half
    sizes = []
    for level in range(10):
        data = encode_png(photo, level)
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), photo)
        sizes.append(len(data))
    assert sizes[1] < sizes[0] and sizes[9] <= sizes[1]
    mask = np.zeros((48, 64), np.uint8)
    mask[10:30, 5:40] = 255
    data = encode_mask(mask)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), mask) and len(data) < 500


@pytest.mark.parametrize("bad", [-1, 10, 1.0, True, "1"])
def test_bad_compression_refused(bad):
    from foolbox_lite.errors import FoolboxLiteError

    with pytest.raises(FoolboxLiteError, match="png_compression"):
        encode_png(np.zeros((8, 8, 3), np.uint8), bad)


def test_recipe_png_compression_changes_bytes_not_pixels(tmp_path):
    """png_compression: 1 writes smaller files with the same pixels; the setting is in the lock file."""
    import yaml

    from foolbox_lite.recipes.build import build_recipe
    from foolbox_lite.stimulus_set import read_manifest

    text = ("schema: 1\nname: png\nseed: 3\nsize: 40\nassets:\n  disc: {procedural: disc, label: analog clock}\n"
            "design:\n  cross: {shape: {assets: disc}, angle: [0, 30]}\npipeline:\n  - rotate: {angle: {factor: angle}}\ncues:\n  shape: {factor: shape}\n")
    sets = {}
    for level in (None, 1):
        p = tmp_path / f"r{level}.yaml"
        p.write_text(text + (f"png_compression: {level}\n" if level is not None else ""))
        sets[level] = build_recipe(p, tmp_path / f"out{level}", progress=False)
    for d, level in ((sets[None], 0), (sets[1], 1)):
        assert yaml.safe_load((d / "recipe.lock.yaml").read_text())["recipe"]["png_compression"] == level
    a, b = read_manifest(sets[None]), read_manifest(sets[1])
    assert [e.id for e in a] == [e.id for e in b] and all(x.sha256 != y.sha256 for x, y in zip(a, b))
    for x, y in zip(a, b):
        pa, pb = sets[None] / x.file, sets[1] / y.file
        assert np.array_equal(np.asarray(Image.open(pa)), np.asarray(Image.open(pb)))
        assert pa.stat().st_size == 40 * (40 * 3 + 1) + 68  # signature, IHDR, IDAT (zlib header, one block, Adler-32), IEND and pb.stat().st_size < pa.stat().st_size
        assert (sets[None] / x.layers["mask"]["file"]).read_bytes() == (sets[1] / y.layers["mask"]["file"]).read_bytes()


def test_stored_pngs_decode_without_a_library_and_anything_else_is_declined() -> None:
    import cv2

    from foolbox_lite.stimulus_set.png import decode_stored_rgb, encode_png

    rng = np.random.default_rng(0)
    for shape in [(224, 224, 3), (1, 1, 3), (300, 17, 3), (500, 400, 3)]:  # one to several stored blocks
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        data = encode_png(a, 0)
        got = decode_stored_rgb(data)
        assert got is not None and np.array_equal(got, a)
        read = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # what a library reads (BGR)
        assert np.array_equal(cv2.cvtColor(read, cv2.COLOR_BGR2RGB), got)
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    data = encode_png(a, 0)
    assert decode_stored_rgb(encode_png(a, 1)) is None  # compressed: left to the library
    assert decode_stored_rgb(encode_png(a[:, :, 0], 0)) is None  # grey
    assert decode_stored_rgb(data[:-1]) is None and decode_stored_rgb(data + b"x") is None
    filtered = bytearray(data)
    filtered[43 + 5] = 1  # first row's filter byte
    assert decode_stored_rgb(bytes(filtered)) is None
