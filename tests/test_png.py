"""Stimulus PNGs: lossless and byte-identical however often (and in whichever thread) they are encoded."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
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
