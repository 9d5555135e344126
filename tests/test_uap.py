"""Universal perturbations of EfficientNet-Lite0 on a few real ImageNet photos (../shared)."""

from __future__ import annotations

import json

import pytest
import torch

from foolbox_lite.assets.folder import load_image_folder
from foolbox_lite.attacks import (
    Budget,
    fit_uap,
    fooling_rate,
    load_perturbation,
    perturbation_norm,
    random_perturbation,
    save_perturbation,
)
from foolbox_lite.attacks._model import prepare_classifier
from foolbox_lite.cli import main as cli_main

pytestmark = [pytest.mark.shared, pytest.mark.slow]

N_IMAGES = 8
FIT = {"norm": "linf", "eps": "10/255", "epochs": 3, "batch_size": 4, "lr": 0.5, "lr_final": 0.1, "seed": 11, "progress": False}


@pytest.fixture(scope="module")
def photos(imagenet_samples):
    return load_image_folder(imagenet_samples, 224, limit=N_IMAGES)


@pytest.fixture(scope="module")
def fast(lite0):
    return prepare_classifier(lite0)


@pytest.fixture(scope="module")
def fitted(fast, photos):
    return fit_uap(fast, photos.images, **FIT)


def test_photos_have_imagenet_labels(photos):
    assert photos.images.shape == (N_IMAGES, 3, 224, 224) and photos.has_labels
    assert all(f.split("/")[-1].startswith("n0") for f in photos.files)


def test_fitted_perturbation_respects_budget_exactly(fitted):
    eps = Budget.make("linf", "10/255").eps
    assert fitted.delta.shape == (1, 3, 224, 224) and fitted.delta.dtype == torch.float32
    top = float(perturbation_norm(fitted.delta.double(), "linf")[0])
    assert top <= eps and top > 0.99 * eps  # uses the whole budget, never more


def test_fooling_rate_far_above_random_noise_of_same_norm(fast, photos, fitted):
    eps = fitted.budget.eps
    uap = fooling_rate(fast, photos.images, fitted.delta, labels=photos.labels)
    rnd = fooling_rate(fast, photos.images, random_perturbation((1, 3, 224, 224), "linf", eps, seed=0), labels=photos.labels)
    assert uap.fooling_rate == pytest.approx(fitted.fit_fooling_rate)
    assert uap.fooling_rate >= rnd.fooling_rate + 0.5, (uap, rnd)
    assert uap.accuracy_drop is not None and uap.accuracy_drop > 0
    assert uap.n == N_IMAGES and uap.n_labelled == N_IMAGES


def test_seeded_fit_reproduces_and_save_load_round_trip(fast, photos, fitted, tmp_path):
    again = fit_uap(fast, photos.images, **FIT)
    assert torch.equal(again.delta, fitted.delta)
    assert [h["running_fooling_rate"] for h in again.history] == [h["running_fooling_rate"] for h in fitted.history]
    p, mp = save_perturbation(tmp_path / "u.pt", fitted.delta, {"model": "efficientnet_lite0", "norm": "linf", "eps": fitted.budget.eps, "seed": fitted.seed})
    back = load_perturbation(p)
    assert torch.equal(back.delta, fitted.delta) and back.delta.dtype == torch.float32
    assert json.loads(mp.read_text())["measured_norm"] <= fitted.budget.eps


def test_cli_fit_and_eval(imagenet_samples, tmp_path, capsys):
    out = tmp_path / "lite0_uap.pt"
    rc = cli_main(["uap", "fit", "--model", "efficientnet_lite0", "--images", str(imagenet_samples), "--limit", "3", "--norm", "linf", "--eps", "10/255",
                   "--epochs", "1", "--batch-size", "3", "--no-progress", "-o", str(out)])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n_fit"] == 3 and 0 <= summary["fit_fooling_rate"] <= 1
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["model"] == "efficientnet_lite0" and meta["eps"] == 10 / 255 and meta["method"] == "sgd" and len(meta["images"]) == 3
    assert meta["preprocessing"]["scale"] == 255.0 and len(meta["images"][0]["sha256"]) == 64
    rc = cli_main(["uap", "eval", str(out), "--model", "efficientnet_lite0", "--images", str(imagenet_samples), "--limit", "3", "--no-progress"])
    assert rc == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ev["n"] == 3 and ev["fooling_rate"] == pytest.approx(summary["fit_fooling_rate"])


def test_cli_bad_input_messages(imagenet_samples, tmp_path, capsys):
    rc = cli_main(["uap", "fit", "--images", str(imagenet_samples), "--eps", "0", "-o", str(tmp_path / "x.pt")])
    assert rc == 2 and "eps must be positive" in capsys.readouterr().err
    rc = cli_main(["uap", "fit", "--images", str(imagenet_samples), "--norm", "l1", "-o", str(tmp_path / "x.pt")])
    assert rc == 2 and "'l1' is not one of linf, l2" in capsys.readouterr().err  # refused by the option's fixed values
    rc = cli_main(["uap", "fit", "--images", str(imagenet_samples), "--eps", "10", "-o", str(tmp_path / "x.pt")])
    err = capsys.readouterr().err
    assert rc == 2 and "above the pixel range" in err and "10/255" in err
    rc = cli_main(["uap", "fit", "--images", str(tmp_path), "-o", str(tmp_path / "x.pt")])
    assert rc == 2 and "no readable images" in capsys.readouterr().err
    p, _ = save_perturbation(tmp_path / "small.pt", torch.zeros(1, 3, 32, 32), {"model": "efficientnet_lite0", "norm": "linf", "eps": 0.04})
    rc = cli_main(["uap", "eval", str(p), "--images", str(imagenet_samples), "--limit", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "32x32" in err and "--size-rule" in err
    q, _ = save_perturbation(tmp_path / "other.pt", torch.zeros(1, 3, 224, 224), {"model": "resnet50", "norm": "linf", "eps": 0.04})
    rc = cli_main(["uap", "eval", str(q), "--model", "efficientnet_lite0", "--images", str(imagenet_samples), "--limit", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "fitted for model 'resnet50'" in err and "--allow-other-model" in err
