"""Budgets, image folders, perturbation files and DeepFool on small real components (no big model)."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from foolbox_lite.assets.folder import label_from_name, load_image_folder
from foolbox_lite.attacks import (
    Budget,
    deepfool,
    fit_size,
    fit_uap,
    fooling_rate,
    load_perturbation,
    parse_eps,
    perturbation_norm,
    project,
    save_perturbation,
)
from foolbox_lite.classifiers import Classifier, LabelSpace, Preprocessing
from foolbox_lite.errors import AssetError, InputError, ModelError, ParameterError
from foolbox_lite.stimuli import Stimuli


def _toy(n_classes: int = 4, size: int = 8, seed: int = 0, name: str = "toy") -> Classifier:
    """A real (tiny, seeded) conv net classifier: cheap enough to fit many perturbations."""
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(6 * size * size, n_classes))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    net.eval()
    labels = LabelSpace(tuple(f"c{i}" for i in range(n_classes)), tuple(f"class{i}" for i in range(n_classes)))
    return Classifier(name=name, model=net, input_size=(size, size), preprocessing=Preprocessing(), labels=labels)


def _images(n: int, size: int = 8, seed: int = 1) -> torch.Tensor:
    return torch.rand((n, 3, size, size), generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- budgets
def test_parse_eps_scales_and_fractions():
    assert parse_eps("10/255") == pytest.approx(10 / 255, abs=0)
    assert parse_eps(10, scale=255) == pytest.approx(10 / 255)
    assert parse_eps("0.04") == 0.04
    b = Budget.make("Linf", "10/255")
    assert (b.norm, b.eps) == ("linf", 10 / 255)
    assert Budget.make("l2", 2.5).eps == 2.5


@pytest.mark.parametrize(
    ("norm", "eps", "scale", "match"),
    [
        ("linf", 0, 1, "must be positive"),
        ("linf", "-3/255", 1, "must be positive"),
        ("linf", 10, 1, "above the pixel range"),
        ("linf", "abc", 1, "is not a number"),
        ("linf", float("nan"), 1, "finite"),
        ("l1", "10/255", 1, "norm 'l1' is not supported"),
        ("linf", 10, 100, "scale must be 1 or 255"),
        ("l2", 1000, 1, "above the largest possible L2"),
    ],
)
def test_bad_budgets(norm, eps, scale, match):
    with pytest.raises(ParameterError, match=match):
        Budget.make(norm, eps, scale=scale, size=(224, 224))


def test_linf_eps_above_range_suggests_fraction():
    with pytest.raises(ParameterError) as exc:
        Budget.make("linf", "10")
    assert "10/255" in str(exc.value)


def test_project_is_exact():
    d = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    p = project(d, "linf", 0.1)
    top = float(p.abs().max())
    assert top <= 0.1 and top == pytest.approx(0.1, rel=1e-7)  # float32 cannot hold 0.1: rounded down
    assert torch.equal(p, d.clamp(-top, top))
    q = project(d, "l2", 0.5)
    n = perturbation_norm(q.double(), "l2")
    assert bool((n <= 0.5).all()) and torch.allclose(n, torch.full((2,), 0.5, dtype=torch.float64), atol=1e-6)
    small = d * 1e-3
    assert torch.equal(project(small, "l2", 0.5), small)


def test_fit_size_rules():
    d = (torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(0)) - 0.5) * 0.2
    t = fit_size(d, (10, 6), "tile")
    assert t.shape == (1, 3, 10, 6) and torch.equal(t[..., 4:8, 0:4], d) and torch.equal(t[..., 8:10, 4:6], d[..., 0:2, 0:2])
    r = fit_size(d, (9, 9), "resize")
    assert r.shape == (1, 3, 9, 9) and float(r.abs().max()) <= float(d.abs().max())
    r2 = fit_size(d, (16, 16), "resize", norm="l2", eps=0.3)
    assert float(perturbation_norm(r2.double(), "l2")[0]) <= 0.3
    with pytest.raises(InputError, match="resize.*tile"):
        fit_size(d, (5, 5), "error")


# ---------------------------------------------------------------- folders
def _write(folder, name, size=(20, 10), color=(200, 10, 10)):
    Image.new("RGB", size, color).save(folder / name)


def test_load_image_folder_labels_sizes_and_skips(tmp_path):
    _write(tmp_path, "n02391049_zebra.png", (20, 10))
    _write(tmp_path, "holiday.jpg", (7, 9))
    (tmp_path / "broken.png").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.warns(UserWarning, match="broken.png"):
        data = load_image_folder(tmp_path, (12, 16))
    assert data.images.shape == (2, 3, 12, 16)
    assert [p.split("/")[-1] for p in data.files] == ["holiday.jpg", "n02391049_zebra.png"]
    assert data.labels.tolist() == [-1, 340] and data.sizes == [(7, 9), (20, 10)]
    assert len(data.sha256[0]) == 64 and data.skipped[0].endswith("broken.png")
    assert not data.has_labels
    assert torch.allclose(data.images[1, 0], torch.full((12, 16), 200 / 255), atol=1e-6)
    assert label_from_name("n99999999_unknown.png") == -1


def test_folder_without_readable_images(tmp_path):
    with pytest.raises(AssetError, match="no readable images: no files with an image suffix"):
        load_image_folder(tmp_path)
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.warns(UserWarning), pytest.raises(AssetError, match="1 unreadable image files"):
        load_image_folder(tmp_path)
    with pytest.raises(AssetError, match="does not exist"):
        load_image_folder(tmp_path / "missing")


def test_split_is_seeded_and_disjoint(tmp_path):
    for i in range(6):
        _write(tmp_path, f"im{i}.png", color=(i * 40, 0, 0))
    data = load_image_folder(tmp_path, 4)
    a1, b1 = data.split(4, seed=3)
    a2, _ = data.split(4, seed=3)
    assert a1.files == a2.files and len(a1) == 4 and len(b1) == 2 and not set(a1.files) & set(b1.files)


# ---------------------------------------------------------------- deepfool, toy fits
def test_deepfool_on_linear_classifier_is_the_exact_minimal_step():
    w = torch.zeros(2, 3 * 2 * 2)
    w[0, 0], w[1, 0] = 1.0, -1.0  # f0 - f1 = 2 * x[0]; boundary at x[0] = 0
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
    with torch.no_grad():
        lin[1].weight.copy_(w)
        lin[1].bias.zero_()
    clf = Classifier(name="lin", model=lin, input_size=(2, 2), labels=LabelSpace(("a", "b"), ("a", "b")))
    x = torch.full((1, 3, 2, 2), 0.3)
    r, ok = deepfool(clf, x, norm="l2", num_classes=2, overshoot=0.0)
    assert ok
    # the minimal L2 step moves x[0] from 0.3 to just below 0: norm 0.3 (+1e-4 of DeepFool's push)
    assert float(r.norm()) == pytest.approx(0.3 + 1e-4, abs=1e-5)
    assert float(r.flatten()[0]) < 0 and torch.count_nonzero(r) == 1


def test_fit_uap_deepfool_and_sgd_on_toy_model_respect_budget():
    clf = _toy()
    x = _images(16)
    for method, norm, eps in (("deepfool", "linf", "20/255"), ("sgd", "l2", 0.5), ("sgd", "linf", "8/255")):
        res = fit_uap(clf, x, norm=norm, eps=eps, method=method, epochs=3, batch_size=8, progress=False, seed=1)
        b = Budget.make(norm, eps)
        assert float(perturbation_norm(res.delta.double(), norm)[0]) <= b.eps
        assert res.delta.shape == (1, 3, 8, 8) and res.method == method and res.epochs >= 1
        rep = fooling_rate(clf, Stimuli.from_tensor(x), res.delta)  # a Stimuli batch works as well as a tensor
        assert rep.fooling_rate == pytest.approx(res.fit_fooling_rate)


def test_targeted_sgd_raises_the_target_rate():
    clf = _toy(seed=2)
    x = _images(16, seed=5)
    before = fooling_rate(clf, x, torch.zeros(1, 3, 8, 8), target=3).target_rate
    res = fit_uap(clf, x, norm="linf", eps="64/255", target="class3", epochs=5, batch_size=8, progress=False)
    after = fooling_rate(clf, x, res.delta, target=3)
    assert res.target == 3 and after.target_rate > before + 0.3 and after.target_rate == pytest.approx(res.fit_fooling_rate)


def test_fit_uap_bad_input():
    clf = _toy()
    x = _images(4)
    with pytest.raises(ParameterError, match="method 'fgsm' is not supported"):
        fit_uap(clf, x, method="fgsm", progress=False)
    with pytest.raises(ParameterError, match="untargeted only"):
        fit_uap(clf, x, method="deepfool", target=1, progress=False)
    with pytest.raises(InputError, match="input size is 8x8"):
        fit_uap(clf, _images(4, size=9), progress=False)
    with pytest.raises(ParameterError, match="unknown ImageNet class|unknown"):
        fit_uap(clf, x, target="nonexistent-class", progress=False)
    with pytest.raises(ParameterError, match="stopping rule"):
        fit_uap(clf, x, epochs=None, progress=False)


# ---------------------------------------------------------------- files
def _meta(model="toy", eps=0.1):
    return {"model": model, "norm": "linf", "eps": eps, "method": "sgd", "seed": 0, "input_size": [8, 8]}


def test_save_load_round_trip_and_checks(tmp_path):
    clf = _toy()
    d = project(torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)), "linf", 0.1)
    p, mp = save_perturbation(tmp_path / "uap", d, _meta())
    assert p.name == "uap.pt" and mp.name == "uap.json"
    first = p.read_bytes()
    save_perturbation(tmp_path / "uap.pt", d, _meta())
    assert p.read_bytes() == first  # deterministic bytes
    pert = load_perturbation(p)
    assert torch.equal(pert.delta, d) and pert.meta["model"] == "toy" and pert.meta["tensor_sha256"]
    assert torch.equal(load_perturbation(mp).delta, d)
    assert torch.equal(pert.for_classifier(clf), d)
    with pytest.raises(ModelError, match="fitted for model 'toy', not 'other'"):
        pert.for_classifier(_toy(name="other"))
    assert pert.for_classifier(_toy(name="other"), allow_other_model=True).shape == (1, 3, 8, 8)
    big = _toy(size=16)
    with pytest.raises(InputError, match="size rule 'resize' or 'tile'"):
        pert.for_classifier(big)
    assert pert.for_classifier(big, size_rule="tile").shape == (1, 3, 16, 16)


def test_load_rejects_tampered_or_missing_files(tmp_path):
    d = torch.zeros(1, 3, 8, 8)
    p, _ = save_perturbation(tmp_path / "u.pt", d, _meta())
    p.write_bytes(p.read_bytes()[:-3] + b"xyz")
    with pytest.raises(AssetError, match="does not match the sha256"):
        load_perturbation(p)
    with pytest.raises(AssetError, match="does not exist"):
        load_perturbation(tmp_path / "nope.pt")
    with pytest.raises(InputError, match=r"\(1, 3, H, W\)"):
        save_perturbation(tmp_path / "v.pt", torch.zeros(3, 8, 8), _meta())
    with pytest.raises(InputError, match="lacks 'eps'"):
        save_perturbation(tmp_path / "v.pt", d, {"model": "m", "norm": "linf"})
    assert math.isfinite(load_perturbation(save_perturbation(tmp_path / "w.pt", d, _meta())[0]).eps)


def test_perturbation_operator_adds_the_saved_tensor(tmp_path):
    import foolbox_lite as fl

    d = project(torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(4)), "linf", 0.05)
    p, _ = save_perturbation(tmp_path / "u.pt", d, _meta(eps=0.05))
    op = load_perturbation(p).operator()
    x = torch.full((2, 3, 8, 8), 0.5)
    out = op(fl.Stimuli.from_tensor(x))
    assert torch.allclose(out.images, (x + d).clamp(0, 1))


def test_load_stimulus_set_labels_from_reference_cue(tmp_path):
    from foolbox_lite.stimulus_set import ManifestEntry, SetInfo, atomic_write_text, manifest_line, sha256_file, write_set_info

    (tmp_path / "images").mkdir()
    entries = []
    for i, (wnid, color) in enumerate((("n02391049", (10, 10, 10)), ("not-a-wnid", (250, 0, 0)))):
        _write(tmp_path / "images", f"s{i}.png", (6, 6), color)
        entries.append(ManifestEntry(id=f"s{i}", file=f"images/s{i}.png", sha256=sha256_file(tmp_path / "images" / f"s{i}.png"), seed=0, index=i, cues={"shape": wnid}))
    atomic_write_text(tmp_path / "manifest.jsonl", "".join(manifest_line(e) for e in entries))
    write_set_info(tmp_path, SetInfo(name="tiny", cues=["shape"], reference_cue="shape", n=2))
    data = load_image_folder(tmp_path, 4)
    assert data.images.shape == (2, 3, 4, 4) and data.labels.tolist() == [340, -1]
    assert data.files[0].endswith("images/s0.png") and data.sha256[0] == entries[0].sha256
