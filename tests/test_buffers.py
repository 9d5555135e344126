"""Output reuse must never hand out memory that a caller can still reach.

Operators allocate fresh outputs; only a :class:`Pipeline` offers a buffer, and only the
images of its own intermediate batch two steps back.  The contract test below holds every
operator's output while the same operator runs again (alone, on its own output and inside
a pipeline) on batches well above the 1 MiB the old reference-count pool reused.
"""

from __future__ import annotations

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.operators.buffers import empty_output, offer_output, reusable
from foolbox_lite.operators.color import Invert
from foolbox_lite.operators.registry import REGISTRY
from foolbox_lite.pipeline import OneOf, Pipeline

OPS = {name: cls for name, cls in sorted(REGISTRY.items())}
OPS["one_of"] = OneOf
OPS["pipeline"] = Pipeline
SLOW = {"texture_adain", "texture_quilt", "restyle_object", "inpaint_background"}  # seconds to a minute each


def _snapshot(stim: fl.Stimuli) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    return stim.images.clone(), {k: v.clone() for k, v in stim.layers.items()}


def _unchanged(stim: fl.Stimuli, snap: tuple[torch.Tensor, dict[str, torch.Tensor]]) -> bool:
    return torch.equal(stim.images, snap[0]) and all(torch.equal(stim.layers[k], v) for k, v in snap[1].items())


# every operator in inference mode (how builds run) and with grad mode on (the default);
# the slow model-backed ones once (their reuse path does not depend on the mode)
CASES = [pytest.param(n, "inference", marks=pytest.mark.slow) if n in SLOW else pytest.param(n, m) for n in sorted(OPS) for m in ("grad", "inference")
         if n not in SLOW or m == "inference"]


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_held_output_survives_the_next_call(name, mode, big_batch):
    op = OPS[name].example()
    light = name in SLOW  # seconds per call: the essential calls only
    ctx = torch.inference_mode() if mode == "inference" else torch.enable_grad()
    with ctx:
        first = op(big_batch, seed=1)
        snap = _snapshot(first)
        op(big_batch, seed=2)
        if not light:
            op(first, seed=3)
        assert _unchanged(first, snap), f"{name}: a held output was overwritten by the next call"

        steps = 2 if light else 3  # with 3 steps the third reuses the first's output
        pipe = Pipeline([op] * steps, seed=4)
        a = pipe(big_batch)
        snap_a = _snapshot(a)
        b = pipe(big_batch)
        assert _unchanged(a, snap_a), f"{name}: a held pipeline output was overwritten by the next call"
        assert torch.equal(b.images, a.images)
        if light:
            return
        pipe.replay(big_batch, [it.params for it in a.items])
        assert _unchanged(a, snap_a) and _unchanged(big_batch, _snapshot(big_batch))
        # reuse inside the pipeline changes nothing: the same as calling the children one by one
        s = big_batch
        for k in range(steps):
            s = op(s, seed=4, path=str(k))
        assert torch.equal(s.images, a.images)
        assert [it.params for it in s.items] == [it.params for it in a.items]


class _PointerLog(Invert):
    """A real Invert that notes where each output lives."""

    def __init__(self, log: list[int]) -> None:
        super().__init__()
        self.log = log

    def apply(self, stim, params):
        out = super().apply(stim, params)
        self.log.append(out.images.data_ptr())
        return out


def test_pipeline_reuses_the_batch_two_steps_back(big_batch):
    log: list[int] = []
    step = _PointerLog(log)
    with torch.inference_mode():
        out = Pipeline([step] * 5)(big_batch)
    assert log[2] == log[0] and log[3] == log[1] and log[4] == log[2]
    assert len({log[0], log[1], big_batch.images.data_ptr()}) == 3
    assert torch.allclose(out.images, 1 - big_batch.images)


def test_nothing_is_offered_outside_a_pipeline_or_to_the_callers_batch(big_batch):
    log: list[int] = []
    step = _PointerLog(log)
    with torch.inference_mode():
        held = [step(big_batch) for _ in range(3)]
    assert len({*log, big_batch.images.data_ptr()}) == 4
    assert all(torch.allclose(h.images, 1 - big_batch.images) for h in held)


def test_an_offer_is_taken_once_and_only_when_it_matches():
    buf = torch.empty(2, 3, 8, 8)
    like = torch.zeros(2, 3, 8, 8)
    with offer_output(buf):
        assert empty_output(like, (2, 1, 8, 8)).data_ptr() != buf.data_ptr()  # other shape
        assert empty_output(like.double()).data_ptr() != buf.data_ptr()  # other dtype
        assert empty_output(like).data_ptr() == buf.data_ptr()
        assert empty_output(like).data_ptr() != buf.data_ptr()  # already taken
        with offer_output(None):
            pass
    assert empty_output(like).data_ptr() != buf.data_ptr()


def test_an_offer_is_taken_only_by_an_allocation_of_its_memory_format():
    from foolbox_lite.operators.buffers import empty_cpu

    cl = torch.channels_last
    planar, hwc = torch.empty(2, 3, 8, 8), torch.empty(2, 3, 8, 8, memory_format=cl)
    assert reusable(hwc, [])  # channels-last and dense: a warp's output can be offered
    with offer_output(planar):
        assert empty_cpu((2, 3, 8, 8), torch.float32, cl).data_ptr() != planar.data_ptr()
        assert empty_cpu((2, 3, 8, 8), torch.float32).data_ptr() == planar.data_ptr()
    with offer_output(hwc):
        assert empty_cpu((2, 3, 8, 8), torch.float32).data_ptr() != hwc.data_ptr()
        got = empty_cpu((2, 3, 8, 8), torch.float32, cl)
        assert got.data_ptr() == hwc.data_ptr() and got.is_contiguous(memory_format=cl)


def test_only_dead_unshared_tensors_are_reusable():
    t = torch.rand(2, 3, 8, 8)
    assert reusable(t, [torch.rand(2, 3, 8, 8)])
    assert not reusable(t, [t[:1]])  # a live view of it
    assert not reusable(t[1:], [])  # part of a larger storage
    assert not reusable(t.transpose(2, 3), [])
    assert not reusable(t, [torch.rand(2, 3, 8, 8, requires_grad=True)])  # a graph may have saved it
    with torch.inference_mode():
        assert not reusable(t, [])  # a normal tensor inside inference mode: left alone
        u = torch.rand(2, 3, 8, 8)
        assert reusable(u, [])
    assert not reusable(u, [])  # an inference tensor cannot be written outside inference mode
