"""Adding a given perturbation under an L-inf or L2 budget."""

from __future__ import annotations

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.errors import InputError, ParameterError
from foolbox_lite.operators.perturbation import fit_delta, project


def delta(h: int = 32, w: int = 32, scale: float = 0.2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(3, h, w, generator=g) - 0.5) * 2 * scale


def test_adds_and_clamps_without_budget(batch):
    d = delta()
    out = fl.ops.AddPerturbation(d)(batch)
    assert torch.equal(out.images, (batch.images + d).clamp(0, 1))
    rec = out.items[0].params[-1]["params"]
    assert rec["norm"] == "linf" and rec["eps"] is None
    assert rec["delta_norm"] == pytest.approx(float(d.abs().max()))


def test_linf_budget_clamps_each_value(batch):
    d = delta(scale=0.2)
    out = fl.ops.AddPerturbation(d, norm="linf", eps=8 / 255)(batch)
    applied = out.images - batch.images
    assert float(applied.abs().max()) <= 8 / 255 + 1e-7
    assert torch.equal(out.images, (batch.images + d.clamp(-8 / 255, 8 / 255)).clamp(0, 1))
    assert out.items[0].params[-1]["params"]["delta_norm"] == pytest.approx(8 / 255)


def test_l2_budget_rescales_the_whole_perturbation(batch):
    d = delta(scale=0.2)
    op = fl.ops.AddPerturbation(d, norm="l2", eps=1.5)
    out = op(batch)
    applied, _ = op.delta_for(32, 32)
    assert float(applied.double().norm()) == pytest.approx(1.5, rel=1e-6)
    assert torch.allclose(applied, d * (1.5 / float(d.double().norm())))
    assert out.items[0].params[-1]["params"]["delta_norm"] == pytest.approx(1.5, rel=1e-6)
    small = project(d * 0.001, "l2", 1.5)
    assert torch.equal(small, d * 0.001)  # inside the ball: unchanged


def test_resize_rules():
    d = delta(4, 6)
    tiled = fit_delta(d, 8, 10, "tile")
    assert torch.equal(tiled[:, :4, :6], d) and torch.equal(tiled[:, 4:8, :6], d) and torch.equal(tiled[:, :4, 6:10], d[:, :, :4])
    resized = fit_delta(d, 8, 12, "resize")
    assert torch.allclose(resized, torch.nn.functional.interpolate(d[None], size=(8, 12), mode="bilinear", align_corners=False)[0])
    assert fit_delta(d, 4, 6, "error") is d
    with pytest.raises(InputError, match="the perturbation is 4x6 but the images are 8x10"):
        fit_delta(d, 8, 10, "error")


def test_size_mismatch_with_resize_error(batch):
    with pytest.raises(InputError, match="the perturbation is 16x16 but the images are 32x32"):
        fl.ops.AddPerturbation(delta(16, 16), resize="error")(batch)


def test_l2_projection_happens_at_the_image_size(batch):
    op = fl.ops.AddPerturbation(delta(8, 8, scale=0.3), norm="l2", eps=2.0, resize="tile")
    op(batch)
    applied, n = op.delta_for(32, 32)
    assert applied.shape == (3, 32, 32)
    assert float(applied.double().norm()) == pytest.approx(2.0, rel=1e-6) and n == pytest.approx(2.0, rel=1e-6)


def test_gradcheck(one_thread):
    g = torch.Generator().manual_seed(1)
    x = (0.3 + 0.4 * torch.rand(2, 3, 8, 8, generator=g, dtype=torch.float64)).requires_grad_()
    op = fl.ops.AddPerturbation(delta(8, 8, scale=0.1), norm="l2", eps=0.5)
    assert torch.autograd.gradcheck(lambda t: op(fl.Stimuli.from_tensor(t)).images, (x,))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: fl.ops.AddPerturbation(torch.zeros(1, 8, 8)), r"shape \(3, h, w\), got \(1, 8, 8\)"),
        (lambda: fl.ops.AddPerturbation(torch.zeros(1, 3, 8, 8)), r"shape \(3, h, w\), got \(1, 3, 8, 8\)"),
        (lambda: fl.ops.AddPerturbation([[0.0]]), "must be a torch.Tensor"),
        (lambda: fl.ops.AddPerturbation(torch.zeros(3, 4, 4, dtype=torch.uint8)), "must be floating point"),
        (lambda: fl.ops.AddPerturbation(torch.full((3, 4, 4), float("nan"))), "NaN or infinite"),
        (lambda: fl.ops.AddPerturbation(torch.zeros(3, 4, 4), norm="l1"), "'norm' = 'l1' is not one of"),
        (lambda: fl.ops.AddPerturbation(torch.zeros(3, 4, 4), eps=-1.0), "'eps' = -1.0 is below its minimum 0"),
        (lambda: fl.ops.AddPerturbation(torch.zeros(3, 4, 4), eps=float("inf")), "'eps' must be finite"),
        (lambda: fl.ops.AddPerturbation(torch.zeros(3, 4, 4), resize="crop"), "'resize' = 'crop' is not one of"),
    ],
)
def test_bad_perturbations(make, match):
    with pytest.raises(ParameterError, match=match):
        make()


def test_delta_is_copied_so_later_edits_do_not_leak(batch):
    d = delta()
    op = fl.ops.AddPerturbation(d)
    before = op(batch).images
    d.add_(0.5)
    assert torch.equal(op(batch).images, before)
