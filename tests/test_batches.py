"""The evaluator's batch reader: normalisation by lookup tables and the batches it hands over."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_evaluator import make_set

from foolbox_lite.assets.io import decode_rgb_hwc
from foolbox_lite.classifiers import IMAGENET_PREPROCESSING, Preprocessing, from_module
from foolbox_lite.errors import InputError
from foolbox_lite.evaluator import evaluate_set
from foolbox_lite.evaluator.batches import BatchReader, Normalise, Prepared, exact_multiply_add
from foolbox_lite.stimulus_set.format import read_manifest

PREPROCESSINGS = [
    Preprocessing(scale=255.0, mean=(127.0, 127.0, 127.0), std=(128.0, 128.0, 128.0)),  # EfficientNet-Lite
    IMAGENET_PREPROCESSING,
    Preprocessing(scale=1.0, mean=(0.1, 0.2, 0.3), std=(0.7, 0.3, 0.05)),
]


def arithmetic(u8_hwc: np.ndarray, prep: Preprocessing) -> torch.Tensor:
    """What the evaluator computes without tables: a float copy, then ``mul_(a).add_(b)``."""
    a, b = prep.affine(torch.float32, "cpu", input_scale=255.0)
    return torch.from_numpy(np.ascontiguousarray(u8_hwc)).permute(2, 0, 1)[None].float().mul_(a).add_(b)[0]


@pytest.mark.parametrize("prep", PREPROCESSINGS, ids=["lite", "imagenet", "odd"])
def test_tables_equal_the_arithmetic_bit_for_bit(prep: Preprocessing) -> None:
    norm = Normalise.of(from_module(lambda x: x, input_size=16, preprocessing=prep))
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    img = np.stack([values, values.T, values[::-1]], -1)  # every value in every channel
    out = np.full((3, 16, 16), np.nan, np.float32)
    norm.planes(img, out)
    assert torch.equal(torch.from_numpy(out), arithmetic(img, prep))
    # rows with a gap between them, as a stored PNG's rows are (a filter byte before each)
    rows = np.zeros((16, 1 + 48), np.uint8)
    rows[:, 1:] = img.reshape(16, 48)
    view = rows[:, 1:].reshape(16, 16, 3)
    assert not view.flags.c_contiguous
    out2 = np.full((3, 16, 16), np.nan, np.float32)
    norm.planes(view, out2)
    assert np.array_equal(out2, out)


def test_exact_products_use_a_multiply_add_that_equals_the_arithmetic_at_odd_sizes() -> None:
    lite, imagenet, odd = (Normalise.of(from_module(lambda x: x, input_size=(7, 9), preprocessing=p)) for p in PREPROCESSINGS)
    assert lite.affine == ((1 / 128, -127 / 128),) * 3  # x / 128 is exact in float32
    assert imagenet.affine is None and odd.affine is None  # x / (255 * 0.229) is not: the sum's rounding could differ
    assert exact_multiply_add(((1 / 128, -127 / 128),), (224, 224))
    assert not exact_multiply_add(((0.1, 0.0),), (224, 224))
    # 63 pixels a plane: five images carry every value, in the vectorised body and in the scalar tail
    values = np.arange(5 * 63) % 256
    for k in range(5):
        img = np.stack([np.roll(values, s)[k * 63 : (k + 1) * 63].reshape(7, 9) for s in (0, 17, 101)], -1).astype(np.uint8)
        out = np.full((3, 7, 9), np.nan, np.float32)
        lite.planes(img, out)
        expected = arithmetic(img, PREPROCESSINGS[0])
        assert np.array_equal(out.view(np.uint32), expected.numpy().view(np.uint32))  # bits, not just values
    # the multiply-add path, not the tables, computed them: with the tables spoilt the planes are unchanged
    spoilt = Normalise(lite.size, np.zeros_like(lite.tables), lite.affine)
    again = np.full((3, 7, 9), np.nan, np.float32)
    spoilt.planes(img, again)
    assert np.array_equal(again.view(np.uint32), out.view(np.uint32))


def test_normalisations_compare_by_size_and_values() -> None:
    lite, imagenet = (Normalise.of(from_module(lambda x: x, input_size=16, preprocessing=p)) for p in PREPROCESSINGS[:2])
    assert lite.same_as(Normalise.of(from_module(lambda x: x, input_size=16, preprocessing=PREPROCESSINGS[0])))
    assert not lite.same_as(imagenet)
    assert not lite.same_as(Normalise.of(from_module(lambda x: x, input_size=24, preprocessing=PREPROCESSINGS[0])))


def _set(tmp_path: Path, sizes: list[tuple[int, int]]) -> Path:
    g = torch.Generator().manual_seed(1)
    rows = [(f"i{k}.png", torch.rand(3, h, w, generator=g), {"shape": "cat"}, "c") for k, (h, w) in enumerate(sizes)]
    return make_set(tmp_path / "set", rows, label_space="geirhos16", cues=["shape"])


def test_reader_normalises_batches_at_the_model_size(tmp_path: Path) -> None:
    folder = _set(tmp_path, [(32, 32)] * 5)
    entries = read_manifest(folder)
    paths = [folder / e.file for e in entries]
    norm = Normalise.of(from_module(lambda x: x, input_size=32))
    reader = BatchReader(paths, 2, entries, norm)
    batches = iter(reader)
    first = next(batches)
    assert isinstance(first, Prepared) and first.x.shape == (2, 3, 32, 32) and first.x.dtype == torch.float32
    kept = first.x.clone()
    second = next(batches)  # read into the other buffer: the first batch is still intact
    assert torch.equal(first.x, kept)
    third = next(batches)
    assert isinstance(second, Prepared) and isinstance(third, Prepared) and len(third) == 1
    expected = torch.stack([arithmetic(decode_rgb_hwc(p), IMAGENET_PREPROCESSING) for p in paths[2:4]])
    assert torch.equal(second.x, expected)


def test_reader_starts_reading_on_entering_and_drops_an_unread_batch_on_leaving(tmp_path: Path) -> None:
    folder = _set(tmp_path, [(32, 32)] * 3)
    entries = read_manifest(folder)
    paths = [folder / e.file for e in entries]
    norm = Normalise.of(from_module(lambda x: x, input_size=32))
    (folder / entries[0].file).write_bytes(b"not the image the manifest hashed")
    with BatchReader(paths, 2, entries, norm) as reader:
        pass  # the first batch was being read (and fails its hash check): leaving drops it without raising
    assert reader.pool._shutdown  # its thread is stopped
    with BatchReader(paths, 2, entries, norm) as reader, pytest.raises(InputError, match=entries[0].file):
        next(iter(reader))  # iterating hands over the batch read since entering: its error names the file


def test_reader_reads_the_first_batch_on_entering(tmp_path: Path) -> None:
    folder = _set(tmp_path, [(32, 32)] * 3)
    entries = read_manifest(folder)
    paths = [folder / e.file for e in entries]
    expected = torch.stack([arithmetic(decode_rgb_hwc(p), IMAGENET_PREPROCESSING) for p in paths[:2]])
    with BatchReader(paths, 2, entries, Normalise.of(from_module(lambda x: x, input_size=32))) as reader:
        reader._first.result(timeout=60)  # read in the background since entering
        (folder / entries[0].file).write_bytes(b"changed after it was read")
        first = next(iter(reader))
    assert isinstance(first, Prepared) and torch.equal(first.x, expected)


def test_reader_hands_over_pixels_when_images_are_not_at_the_model_size(tmp_path: Path) -> None:
    folder = _set(tmp_path, [(32, 32), (32, 32), (40, 24)])
    entries = read_manifest(folder)
    paths = [folder / e.file for e in entries]
    norm = Normalise.of(from_module(lambda x: x, input_size=24))
    first, second = list(BatchReader(paths, 2, entries, norm))
    assert first.dtype == torch.uint8 and tuple(first.shape) == (2, 3, 32, 32)  # type: ignore[union-attr]
    assert torch.equal(first[1], torch.from_numpy(decode_rgb_hwc(paths[1])).permute(2, 0, 1))  # type: ignore[index]
    assert isinstance(second, torch.Tensor) and tuple(second.shape) == (1, 3, 40, 24)


def _recording(seen: list[torch.Tensor]):
    def model(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.clone())  # the reader reuses its buffers
        return torch.zeros(x.shape[0], 16)

    return model


def test_models_see_the_same_input_whether_the_reader_or_the_runner_normalises(tmp_path: Path) -> None:
    folder = _set(tmp_path, [(32, 32)] * 5)
    shared: list[torch.Tensor] = []
    evaluate_set(folder, [from_module(_recording(shared), name="m", input_size=32, labels="geirhos16")], batch_size=2, progress=False)
    # a second model with another preprocessing: the reader hands over pixels and each model normalises
    alone: list[torch.Tensor] = []
    other = from_module(_recording([]), name="o", input_size=32, labels="geirhos16", preprocessing=PREPROCESSINGS[2])
    evaluate_set(folder, [from_module(_recording(alone), name="m", input_size=32, labels="geirhos16"), other], batch_size=2, progress=False)
    assert [tuple(x.shape) for x in shared] == [(2, 3, 32, 32), (2, 3, 32, 32), (1, 3, 32, 32)]
    assert torch.equal(torch.cat(shared), torch.cat(alone))
    paths = [folder / e.file for e in read_manifest(folder)]
    assert torch.equal(torch.cat(shared), torch.stack([arithmetic(decode_rgb_hwc(p), IMAGENET_PREPROCESSING) for p in paths]))
