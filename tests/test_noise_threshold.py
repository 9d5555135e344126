"""Noise thresholds: reproducible patterns, exact bisection, and a small real run with EfficientNet-Lite0."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from foolbox_lite.attacks import accuracy_curve, noise_batch, noise_thresholds
from foolbox_lite.classifiers import Classifier, LabelSpace, Preprocessing
from foolbox_lite.cli import main as cli_main
from foolbox_lite.errors import ParameterError


def _grey(n: int, size: int = 16, value: float = 0.5) -> torch.Tensor:
    return torch.full((n, 3, size, size), value)


class _Brightness(torch.nn.Module):
    """Known decision rules: class 1 when the red mean is above 0.5 or more than 5% of red values are white."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x[:, 0].mean(dim=(1, 2))
        white = (x[:, 0] > 0.99).float().mean(dim=(1, 2))
        score = torch.maximum(m - 0.5, white - 0.05)
        return torch.stack([-score, score], dim=1) * 100


def _bright_clf(size: int = 16) -> Classifier:
    return Classifier(name="bright", model=_Brightness(), input_size=(size, size), preprocessing=Preprocessing(), labels=LabelSpace(("a", "b"), ("dark", "bright")))


def test_patterns_are_seeded_batch_independent_and_have_the_right_scale():
    x = _grey(3, 64)
    seeds = [11, 22, 33]
    a = noise_batch(x, torch.tensor([0.1, 0.1, 0.1]), "gaussian", seeds)
    b = noise_batch(x[1:2], torch.tensor([0.1]), "gaussian", seeds[1:2])
    assert torch.equal(a[1], b[0]) and not torch.equal(a[0], a[1])
    assert float((a - x).std()) == pytest.approx(0.1, rel=0.05)
    u = noise_batch(x, torch.tensor([0.1, 0.1, 0.1]), "uniform", seeds)
    assert float((u - x).std()) == pytest.approx(0.1, rel=0.05) and float((u - x).abs().max()) <= 0.1 * math.sqrt(3) + 1e-6
    assert torch.equal(noise_batch(x, torch.zeros(3), "gaussian", seeds), x)
    sp1 = noise_batch(x, torch.full((3,), 0.1), "salt_pepper", seeds)
    sp2 = noise_batch(x, torch.full((3,), 0.3), "salt_pepper", seeds)
    hit1, hit2 = (sp1 != x).any(1), (sp2 != x).any(1)
    assert float(hit1.float().mean()) == pytest.approx(0.1, abs=0.02) and bool((hit2 | ~hit1).all())  # nested: more level, superset of pixels
    assert set(sp2[(sp2 != x)].unique().tolist()) <= {0.0, 1.0}


def test_bisection_brackets_the_threshold_exactly():
    clf = _bright_clf()
    x = torch.cat([_grey(2, value=0.3), _grey(2, value=0.45)])
    res = noise_thresholds(clf, x, "salt_pepper", seed=5, steps=12, progress=False)
    assert res.clean.tolist() == [0, 0, 0, 0]
    t = res.thresholds
    assert bool(torch.isfinite(t).all()) and bool((t > 0).all())
    res_step = res.max_level / 2**res.steps
    changed = clf(noise_batch(x, t, "salt_pepper", res.seeds)).argmax(1) != res.clean
    before = clf(noise_batch(x, t - res_step, "salt_pepper", res.seeds)).argmax(1) != res.clean
    assert bool(changed.all()) and not bool(before.any())
    # half of the hit pixels are white: about 10% hit makes 5% white
    assert float(t.mean()) == pytest.approx(0.1, abs=0.03)
    again = noise_thresholds(clf, x.flip(0), "salt_pepper", seed=5, steps=12, progress=False)
    assert not torch.equal(again.thresholds, t.flip(0))  # patterns follow the position, not the content
    assert torch.equal(noise_thresholds(clf, x, "salt_pepper", seed=5, steps=12, progress=False).thresholds, t)


def test_unchanged_images_get_nan_and_curve_counts():
    clf = _bright_clf()
    x = torch.cat([torch.zeros(1, 3, 16, 16), _grey(1, value=0.45)])
    # > 5% white needs P(std * z > 0.54) > 0.05, std > 0.33 for the grey image; black would need std > 0.6
    res = noise_thresholds(clf, x, "gaussian", max_level=0.5, steps=8, progress=False)
    assert math.isnan(float(res.thresholds[0])) and float(res.thresholds[1]) == pytest.approx(0.33, abs=0.05)
    assert res.changed_fraction() == 0.5
    rows = accuracy_curve(clf, x, [0.0, 0.5], "gaussian", labels=torch.tensor([0, 0]), progress=False)
    assert rows[0] == {"kind": "gaussian", "level": 0.0, "accuracy": 1.0, "unchanged": 1.0}
    assert rows[1] == {"kind": "gaussian", "level": 0.5, "accuracy": 0.5, "unchanged": 0.5}
    assert accuracy_curve(clf, x, [0.0], "gaussian", progress=False)[0]["accuracy"] is None


@pytest.mark.parametrize(("kwargs", "match"), [({"kind": "pink"}, "noise kind 'pink'"), ({"max_level": 0.0}, "max_level must be positive"), ({"kind": "salt_pepper", "max_level": 2.0}, "at most 1")])
def test_bad_input(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        noise_thresholds(_bright_clf(), _grey(1), progress=False, **kwargs)


@pytest.mark.shared
@pytest.mark.slow
def test_real_thresholds_and_cli(imagenet_samples, tmp_path, capsys):
    out = tmp_path / "noise"
    rc = cli_main(["noise-threshold", "--model", "efficientnet_lite0", "--images", str(imagenet_samples), "--limit", "2", "--kinds", "gaussian,salt_pepper",
                   "--steps", "3", "--levels", "0,0.3", "--threads", "2", "--no-progress", "-o", str(out)])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["n"] == 2 and set(printed["kinds"]) == {"gaussian", "salt_pepper"}
    rows = list(csv.DictReader((out / "thresholds.csv").open()))
    assert len(rows) == 2 and all(r["label"] != "-1" for r in rows)
    g = [float(r["gaussian"]) for r in rows if r["gaussian"]]
    assert g and all(0 < v <= 1 for v in g)
    curve = list(csv.DictReader((out / "curve.csv").open()))
    zero = next(r for r in curve if r["kind"] == "gaussian" and float(r["level"]) == 0.0)
    assert float(zero["unchanged"]) == 1.0
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG" and json.loads((out / "summary.json").read_text())["n"] == 2
