from __future__ import annotations

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.errors import InputError, ParameterError
from foolbox_lite.seeding import derive_seed


def test_derive_seed_is_stable_and_distinct():
    assert derive_seed(7, 0, "0") == derive_seed(7, 0, "0")
    assert len({derive_seed(7, i, "0") for i in range(100)}) == 100
    assert derive_seed(1, "2") != derive_seed("1", 2)
    # a fixed value pins the hash across machines and versions
    assert derive_seed(0) == 2640579788076731180
    assert derive_seed(0, 1, "a") == 8690606166950585934


def test_probability_records_and_partial_application(batch):
    pipe = fl.Pipeline([fl.ops.Invert(p=0.5)], seed=11)
    out = pipe(batch)
    applied = [it.params[0]["applied"] for it in out.items]
    assert 0 < sum(applied) < len(applied)
    for i, a in enumerate(applied):
        expected = 1 - batch.images[i] if a else batch.images[i]
        assert torch.allclose(out.images[i], expected)


def test_one_of_respects_weights(batch):
    big = fl.Stimuli.cat([batch] * 40)
    big = fl.Stimuli(big.images, big.layers, [fl.Item(id=str(i), index=i) for i in range(len(big))])
    out = fl.OneOf([fl.ops.Grayscale(), fl.ops.Invert()], weights=[1, 3])(big, seed=0)
    picks = [it.params[0]["params"]["choice"] for it in out.items]
    frac = sum(picks) / len(picks)
    assert 0.65 < frac < 0.85


def test_pipeline_replay_from_history(batch):
    pipe = fl.Pipeline([fl.ops.Grayscale(p=0.5), fl.OneOf([fl.ops.Invert(), fl.ops.Grayscale()])], seed=3)
    out = pipe(batch)
    again = pipe.replay(batch, [it.params for it in out.items])
    assert torch.equal(again.images, out.images)


def test_adding_an_operator_keeps_earlier_draws(batch):
    a = fl.Pipeline([fl.ops.Invert(p=0.5)], seed=5)(batch)
    b = fl.Pipeline([fl.ops.Invert(p=0.5), fl.ops.Grayscale(p=0.5)], seed=5)(batch)
    assert [it.params[0] for it in a.items] == [it.params[0] for it in b.items]


def test_bad_inputs_are_named():
    with pytest.raises(ParameterError, match="at least one operator"):
        fl.Pipeline([])
    with pytest.raises(ParameterError, match="'p'"):
        fl.ops.Invert(p=1.5)
    with pytest.raises(InputError, match=r"\(B, 3, H, W\)"):
        fl.Stimuli(torch.rand(3, 8, 8))
    with pytest.raises(InputError, match="layer 'mask'"):
        fl.Stimuli(torch.rand(2, 3, 8, 8), {"mask": torch.rand(2, 1, 4, 4)})
    with pytest.raises(InputError, match="Stimuli batch"):
        fl.ops.Invert()(torch.rand(1, 3, 4, 4))
    with pytest.raises(ParameterError, match="unknown operator 'invertt'.*invert"):
        fl.get_operator("invertt")
