"""Batched parameter records: counter-based draws, columns, row views and O(1) sampling."""

from __future__ import annotations

import copy
import json
import sys

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.errors import InputError
from foolbox_lite.operators.homography import flip_matrix, rotation_matrix, scale_translate_matrix, tilt_matrix
from foolbox_lite.operators.records import BatchRecord, Params, RowRecord
from foolbox_lite.operators.warp_matrices import flip_matrices, rotation_matrices, scale_translate_matrices, tilt_matrices
from foolbox_lite.seeding import BatchDraws


def _stim(b: int, size: int = 16) -> fl.Stimuli:
    g = torch.Generator().manual_seed(0)
    masks = torch.zeros(b, 1, size, size)
    masks[:, :, 4:12, 4:12] = 1
    return fl.Stimuli.from_tensor(torch.rand(b, 3, size, size, generator=g), masks)


def test_draws_are_pinned_and_independent_of_the_batch():
    d = BatchDraws(0, [0, 1, 7], "x")
    u, seeds = d.uniform(), d.seeds()
    # literal values: a change of the stream changes every stimulus set, so it must be deliberate
    assert u.tolist() == [0.8983170345025597, 0.41136557425371545, 0.9789616110913696]
    assert seeds.tolist() == [6449719269971174544, 5986442657306666171, 5788250417858422518]
    alone = BatchDraws(0, [7], "x")
    assert alone.uniform().item() == u[2].item() and alone.seeds().item() == seeds[2].item()
    reordered = BatchDraws(0, [7, 0], "x")
    assert reordered.uniform().tolist() == [u[2].item(), u[0].item()]
    assert BatchDraws(1, [7], "x").uniform().item() != u[2].item()
    assert BatchDraws(0, [7], "y").uniform().item() != u[2].item()


def test_draws_are_uniform_and_permutations_valid():
    d = BatchDraws(3, range(20000), "p")
    u = d.uniform()
    assert 0.0 <= float(u.min()) and float(u.max()) < 1.0
    hist = torch.histc(u.float(), bins=10, min=0, max=1) / len(u)
    assert float((hist - 0.1).abs().max()) < 0.01  # 10 bins of 2,000 each, within 10%
    assert abs(float(torch.corrcoef(torch.stack([u, d.uniform()]))[0, 1])) < 0.03  # successive draws uncorrelated
    perms = BatchDraws(0, range(50), "q").permutations(9)
    assert all(sorted(p) == list(range(9)) for p in perms.tolist()) and len({tuple(p) for p in perms.tolist()}) > 40
    k = BatchDraws(0, range(3000), "k").integers(3)
    assert set(k.tolist()) == {0, 1, 2}


def test_batched_matrices_equal_the_scalar_ones():
    a = torch.tensor([-170.0, -33.3, 0.0, 90.0, 181.0], dtype=torch.float64)
    assert torch.allclose(rotation_matrices(a), torch.tensor([rotation_matrix(float(x)) for x in a], dtype=torch.float64), atol=1e-15)
    p, y, r, f = (torch.tensor(v, dtype=torch.float64) for v in ([10.0, -40.0], [5.0, 20.0], [0.0, -15.0], [224.0, 300.0]))
    want = torch.tensor([tilt_matrix(*map(float, v)) for v in zip(p, y, r, f)], dtype=torch.float64)
    assert torch.allclose(tilt_matrices(p, y, r, f), want, atol=1e-12)
    assert torch.equal(scale_translate_matrices(f, p, y), torch.tensor([scale_translate_matrix(*map(float, v)) for v in zip(f, p, y)], dtype=torch.float64))
    h, v = torch.tensor([True, False, True]), torch.tensor([False, True, True])
    assert torch.equal(flip_matrices(h, v, 30, 20), torch.tensor([flip_matrix(bool(a), bool(b), 30, 20) for a, b in zip(h, v)], dtype=torch.float64))


def test_params_from_columns_and_rows_agree():
    cols = Params({"a": torch.tensor([0.5, 1.5], dtype=torch.float64), "k": torch.tensor([1, 2]), "flag": torch.tensor([True, False]), "name": ["x", "y"]}, size=2)
    rows = Params(rows=cols.rows())
    assert rows.rows() == [{"a": 0.5, "k": 1, "flag": True, "name": "x"}, {"a": 1.5, "k": 2, "flag": False, "name": "y"}]
    for name in ("a", "k", "flag"):
        assert torch.equal(cols.column(name), rows.column(name)) and cols.column(name).dtype == rows.column(name).dtype
    assert cols.select([1]).rows() == [rows.rows()[1]]
    with pytest.raises(InputError, match="no 'b'"):
        rows.column("b")
    with pytest.raises(InputError, match="parameter 'name' must be a number"):
        rows.column("name", what="op")


def test_row_records_are_views_materialised_on_demand():
    out = fl.ops.Rotate(angle=(-30, 30))(_stim(4), seed=2)
    rec = out.items[1].params[-1]
    assert isinstance(rec, RowRecord) and rec["op"] == "rotate" and rec["path"] == "rotate" and rec["applied"] is True
    batch = rec.batch
    assert batch.params._rows is None  # nothing per item built yet
    angle = rec["params"]["angle"]
    assert isinstance(angle, float) and -30 <= angle <= 30
    assert batch.params.column("angle")[1].item() == angle
    plain = out.items[1].plain_params()[-1]
    assert plain == rec and type(plain) is dict and copy.deepcopy(rec) == plain
    assert json.loads(json.dumps(plain)) == plain
    # the record's matrix is the one applied: replaying the plain dicts gives the same bytes
    again = fl.ops.Rotate(angle=(-30, 30)).replay(_stim(4), [it.plain_params()[-1] for it in out.items])
    assert torch.equal(again.images, out.images)


def test_p_below_one_records_not_applied_items_as_empty():
    out = fl.ops.Contrast(c=(0.2, 0.8), p=0.5)(_stim(40), seed=1)
    flags = [it.params[-1]["applied"] for it in out.items]
    assert 5 < sum(flags) < 35
    assert all((it.params[-1]["params"] == {}) != f for it, f in zip(out.items, flags))
    assert BatchRecord.from_records("contrast", [it.params[-1] for it in out.items]).applied == flags


def _python_calls(fn) -> int:
    calls = 0

    def prof(frame, event, arg):
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize("op", [
    fl.ops.Rotate(angle=(-30, 30)), fl.ops.Tilt(pitch=(-40, 40), yaw=(-20, 20)), fl.ops.ScaleTranslate(scale=(0.8, 1.2), tx=(-0.1, 0.1)),
    fl.ops.Flip(horizontal=0.5, vertical=0.5), fl.ops.Contrast(c=(0.1, 0.9), p=0.5), fl.ops.GaussianNoise(std=(0.01, 0.1)),
    fl.ops.SaltPepperNoise(amount=(0.01, 0.1)), fl.ops.PatchScramble(grid=4), fl.ops.Grayscale(), fl.ops.LowPass(sigma=(0.5, 2.0)),
], ids=lambda op: op.name)
def test_sampling_costs_the_same_python_work_for_any_batch_size(op):
    small, large = _stim(4), _stim(256)
    n_small = _python_calls(lambda: op.sample_record(small, seed=0, path="x"))
    n_large = _python_calls(lambda: op.sample_record(large, seed=0, path="x"))
    assert n_large == n_small, f"{op.name}: {n_small} Python calls for 4 items, {n_large} for 256"


@pytest.mark.parametrize("make", [lambda: fl.ops.Invert(), lambda: fl.ops.Contrast(c=(0.1, 0.9))], ids=["invert", "contrast"])
def test_recording_a_call_costs_the_same_python_work_for_any_batch_size(make):
    op = make()  # torch paths (float64 batches): no per-item kernels, so any per-item work would be the records'
    small = fl.ops.Invert()(_stim(4).to(dtype=torch.float64), seed=0)  # already derived: items not materialised
    large = fl.ops.Invert()(_stim(256).to(dtype=torch.float64), seed=0)
    n_small = _python_calls(lambda: op(small, seed=1))
    n_large = _python_calls(lambda: op(large, seed=1))
    assert n_large == n_small, f"{op.name}: {n_small} Python calls for 4 items, {n_large} for 256"


def test_histories_are_materialised_in_order_and_never_shared():
    base = _stim(3)
    a = fl.ops.Rotate(angle=(-30, 30))(base, seed=1)
    b = fl.ops.Grayscale()(a, seed=2)
    c = fl.ops.Invert()(a, seed=3)  # a second branch from the same batch
    assert [[r["op"] for r in it.params] for it in b.items] == [["rotate", "grayscale"]] * 3
    assert [[r["op"] for r in it.params] for it in c.items] == [["rotate", "invert"]] * 3
    assert [r["op"] for r in a.items[0].params] == ["rotate"] and base.items[0].params == []
    assert b.items[0] is not c.items[0] and b.items[0].cues is not c.items[0].cues
    assert a.items[0].params[0] == b.items[0].params[0]  # the same record, read through each history


def test_changes_to_read_items_carry_into_later_batches_only():
    a = fl.ops.Rotate(angle=(-30, 30))(_stim(3), seed=1)
    a.items[1].cues["texture"] = "tiger"  # the items are a's own once read
    b = fl.ops.Invert()(a, seed=2)
    assert b.items[1].cues == {"texture": "tiger"} and [r["op"] for r in b.items[1].params] == ["rotate", "invert"]
    b.items[1].cues["texture"] = "zebra"
    assert a.items[1].cues == {"texture": "tiger"}
    assert fl.ops.Grayscale()(a, seed=3).items[1].cues == {"texture": "tiger"}
    assert a.indices == [0, 1, 2] and b.indices == [0, 1, 2]


def test_a_bad_batch_record_is_refused_with_a_clear_error():
    stim = _stim(3)
    with pytest.raises(InputError, match="record of the whole batch"):
        stim.with_record({"op": "rotate", "path": "rotate", "params": {}})
    rec = fl.ops.Invert().sample_record(_stim(2), seed=0, path="invert")
    with pytest.raises(InputError, match="2 rows given for a batch of 3"):
        stim.with_record(rec)


def test_patch_scramble_with_several_grid_sizes_records_valid_permutations():
    out = fl.ops.PatchScramble(grid=[1, 4])(_stim(30), seed=0)
    grids = [it.params[-1]["params"]["grid"] for it in out.items]
    assert set(grids) == {1, 2, 3, 4}
    for it in out.items:
        p = it.params[-1]["params"]
        assert sorted(p["perm"]) == list(range(p["grid"] ** 2))


def test_negative_item_indices_draw_like_any_other():
    stim = fl.Stimuli.from_tensor(torch.rand(3, 3, 8, 8), start_index=-2)  # indices -2, -1, 0
    whole = fl.ops.Contrast(c=(0.1, 0.9))(stim, seed=1)
    alone = fl.ops.Contrast(c=(0.1, 0.9))(stim.select([0]), seed=1)
    assert whole.items[0].params[-1] == alone.items[0].params[-1]
    assert torch.equal(whole.images[0], alone.images[0])
