"""The evaluator: mappings, decisions, cue attribution, observers' CSVs, sets on disk, and
EfficientNet-Lite0 on real photos and Geirhos silhouettes."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.classifiers import LabelSpace, imagenet_labels
from foolbox_lite.errors import InputError, ModelError, ParameterError
from foolbox_lite.evaluator import (
    GEIRHOS16,
    NA,
    OTHER,
    LabelMapping,
    evaluate_set,
    followed_cue,
    get_mapping,
    make_decider,
    read_observer_csv,
    register_mapping,
    write_trials_csv,
)
from foolbox_lite.evaluator.observers import StimulusInfo, stimulus_name
from foolbox_lite.evaluator.run import load_stimulus_set
from foolbox_lite.stimulus_set import ManifestEntry, SetInfo, manifest_line, sha256_file, write_set_info

WNID = {n: w for w, n in zip(imagenet_labels().wnids, imagenet_labels().names)}


# ----------------------------------------------------------------------------- helpers


def make_set(
    folder: Path,
    rows: Sequence[tuple[str, torch.Tensor, Mapping[str, str], str]],
    *,
    label_space: str = "imagenet1k",
    cues: Sequence[str] = ("shape", "texture"),
    reference_cue: str = "shape",
) -> Path:
    """Write a stimulus set: rows of (file name, image (3, H, W), cues, condition)."""
    lines = []
    for i, (name, img, cue, cond) in enumerate(rows):
        p = fl.save_image(img, folder / "images" / name)
        entry = ManifestEntry(id=Path(name).stem, file=f"images/{name}", sha256=sha256_file(p), seed=0, index=i, cues=dict(cue), condition=cond)
        lines.append(manifest_line(entry))
    (folder / "manifest.jsonl").write_text("".join(lines), encoding="utf-8")
    write_set_info(folder, SetInfo(name=folder.name, label_space=label_space, cues=list(cues), reference_cue=reference_cue, n=len(rows)))
    return folder


def photo_rows(imagenet_samples: Path, n: int, step: int = 11) -> list[tuple[str, torch.Tensor, dict[str, str], str]]:
    files = sorted(imagenet_samples.glob("*.JPEG"))[::step][:n]
    rows = []
    for f in files:
        wnid = f.name.split("_")[0]
        rows.append((f"photo_{wnid}.png", fl.load_image(f, 224, "crop"), {"shape": wnid}, "photo"))
    return rows


def silhouette_rows(geirhos_shapes: Path, per_category: int) -> list[tuple[str, torch.Tensor, dict[str, str], str]]:
    rows = []
    for cat in GEIRHOS16.names:
        for k in range(1, per_category + 1):
            f = geirhos_shapes / "filled-silhouettes" / cat / f"{cat}{k}.png"
            rows.append((f"{cat}{k}.png", fl.load_image(f, 224), {"shape": cat}, "silhouette"))
    return rows


def tiny_rows(n: int = 4) -> list[tuple[str, torch.Tensor, dict[str, str], str]]:
    g = torch.Generator().manual_seed(0)
    cats = ["cat", "dog", "car", "boat"]
    return [(f"s{i}-{cats[(i + 1) % 4]}.png", torch.rand(3, 32, 32, generator=g), {"shape": cats[i % 4], "texture": cats[(i + 1) % 4]}, f"c{i % 2}") for i in range(n)]


class FixedModel(torch.nn.Module):
    """Returns preset logits in order, whatever the images (for exact decision tests)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits
        self.pos = 0
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.logits[self.pos : self.pos + x.shape[0]]
        self.pos += x.shape[0]
        return out + 0 * x.mean()


# ----------------------------------------------------------------------------- mappings and decisions


@pytest.mark.shared
def test_geirhos16_equals_reference_table(shared_dir: Path) -> None:
    ref = json.loads((shared_dir / "reference" / "geirhos16.json").read_text())["categories"]
    assert {k: list(v) for k, v in GEIRHOS16.categories.items()} == ref
    assert list(GEIRHOS16.names) == sorted(ref)


def test_mapping_mean_probability_decides() -> None:
    # 'dog' has 109 members: mass spread over them loses against 'knife' (1 member) under the mean rule.
    logits = torch.full((1, 1000), -20.0)
    logits[0, list(GEIRHOS16.categories["dog"])] = 2.0
    logits[0, 499] = 4.0  # knife
    probs = logits.softmax(1)
    cat = GEIRHOS16.probabilities(logits)
    assert cat.shape == (1, 16)
    assert cat[0, GEIRHOS16.names.index("dog")].item() == pytest.approx(probs[0, list(GEIRHOS16.categories["dog"])].mean().item(), rel=1e-5)
    assert GEIRHOS16.decide(logits) == ["knife"]
    total = LabelMapping("sum16", GEIRHOS16.categories, aggregate="sum")
    assert total.decide(logits) == ["dog"]  # the sum rule would say dog


def test_mapping_validation_and_registry() -> None:
    with pytest.raises(ParameterError, match="class index 3 is in both 'a' and 'b'"):
        LabelMapping("bad", {"a": (1, 3), "b": (3,)})
    with pytest.raises(ParameterError, match="outside 0..999"):
        LabelMapping("bad", {"a": (1000,)})
    with pytest.raises(ParameterError, match="unknown label mapping 'nope'.*geirhos16"):
        get_mapping("nope")
    m = register_mapping(LabelMapping.from_dict({"name": "stripes-vs-spots", "categories": {"striped": [340, 292], "spotted": [288, 293]}}))
    assert get_mapping("stripes-vs-spots") is m
    logits = torch.zeros(2, 1000)
    logits[0, 340], logits[1, 288] = 9.0, 9.0
    assert make_decider(imagenet_labels(), "stripes-vs-spots")(logits) == ["striped", "spotted"]


def test_deciders_top1_restricted_mapping() -> None:
    labels = imagenet_labels()
    logits = torch.zeros(2, 1000)
    logits[0, 340] = 5.0  # zebra
    logits[0, 861] = 3.0  # toilet seat
    logits[1, 1] = 9.0  # goldfish: not named by any cue
    logits[1, 861] = 1.0
    assert make_decider(labels)(logits) == [WNID["zebra"], WNID["goldfish"]]
    d = make_decider(labels, rule="restricted", cue_labels=[WNID["zebra"], WNID["toilet seat"]])
    assert d(logits) == [WNID["zebra"], WNID["toilet seat"]]
    # top-1 through a mapping set: the category of the top class, or na
    logits16 = torch.zeros(2, 1000)
    logits16[0, 404], logits16[1, 1] = 5.0, 5.0
    assert make_decider(labels, "geirhos16", "top1")(logits16) == ["airplane", NA]
    restricted = make_decider(labels, "geirhos16", "restricted", cue_labels=["cat", "dog"])
    assert restricted(logits16) == ["cat", "cat"]  # airplane is not allowed; cat's mean beats dog's (fewer members)
    with pytest.raises(ParameterError, match="needs a label mapping"):
        make_decider(labels, "imagenet1k", "mapping")
    with pytest.raises(ParameterError, match="decision rule must be one of"):
        make_decider(labels, rule="best")  # type: ignore[arg-type]
    # a model whose own classes are the 16 categories decides directly
    own = LabelSpace(GEIRHOS16.names, GEIRHOS16.names)
    l16 = torch.zeros(1, 16)
    l16[0, 3] = 1.0
    assert make_decider(own, "geirhos16")(l16) == ["bird"]
    with pytest.raises(ModelError, match="maps ImageNet-1k classes"):
        make_decider(LabelSpace(("a", "b"), ("a", "b")), "geirhos16")


def test_followed_cue() -> None:
    cues = {"shape": "cat", "texture": "elephant", "background": "boat"}
    order = ["shape", "texture", "background"]
    assert followed_cue("cat", cues, order) == "shape"
    assert followed_cue("elephant", cues, order) == "texture"
    assert followed_cue("boat", cues, order) == "background"
    assert followed_cue("dog", cues, order) == OTHER
    assert followed_cue(NA, cues, order) == OTHER
    assert followed_cue("cat", {"shape": "cat", "texture": "cat"}, order) == "shape"  # no conflict: first cue wins


# ----------------------------------------------------------------------------- observers' CSVs


def _stimuli() -> dict[str, StimulusInfo]:
    return {
        "cat1-elephant2.png": StimulusInfo("cat1-elephant2", "images/cat1-elephant2.png", {"shape": "cat", "texture": "elephant"}, "0"),
        "dog3-boat1.png": StimulusInfo("dog3-boat1", "images/dog3-boat1.png", {"shape": "dog", "texture": "boat"}, "0"),
    }


def _csv(path: Path, rows: list[str], header: str = "subj,session,trial,rt,object_response,category,condition,imagename") -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_read_model_vs_human_csv(tmp_path: Path) -> None:
    assert stimulus_name("0001_s5n_s01_0_bird_00_bird3-bird2.png") == "bird3-bird2.png"
    f = _csv(
        tmp_path / "h.csv",
        [
            "subject-01,1,1,812.5,elephant,cat,0,0001_cc_s01_0_cat_00_cat1-elephant2.png",
            "subject-01,1,2,901,na,dog,0,0002_cc_s01_0_dog_00_dog3-boat1.png",
            "subject-02,1,1,700,cat,cat,0,0001_cc_s02_0_cat_00_cat1-elephant2.png",
        ],
    )
    got = read_observer_csv(f, _stimuli(), label_space="geirhos16")
    assert list(got) == ["subject-01", "subject-02"]
    a, b = got["subject-01"]
    assert (a.stimulus, a.response, a.followed, a.rt, a.reference) == ("cat1-elephant2.png", "elephant", "texture", 812.5, "cat")
    assert (b.response, b.followed) == (NA, OTHER)
    assert got["subject-02"][0].followed == "shape"


def test_trials_csv_round_trip(tmp_path: Path) -> None:
    f = _csv(tmp_path / "h.csv", ["s1,1,1,500,elephant,cat,0,x_cat1-elephant2.png", "s1,1,2,600,dog,dog,0,x_dog3-boat1.png"])
    trials = read_observer_csv(f, _stimuli(), label_space="geirhos16")["s1"]
    out = write_trials_csv(tmp_path / "t.csv", trials, ["shape", "texture"])
    text = out.read_text()
    assert text.splitlines()[0] == "subj,session,trial,rt,object_response,category,condition,imagename,cue_shape,cue_texture,followed_cue,control,twin,valid"
    assert text.splitlines()[1] == "s1,1,1,500.0,elephant,cat,0,cat1-elephant2.png,cat,elephant,texture,,,"
    again = read_observer_csv(out, _stimuli(), label_space="geirhos16")["s1"]
    assert [(t.stimulus, t.response, t.followed, t.rt) for t in again] == [(t.stimulus, t.response, t.followed, t.rt) for t in trials]


@pytest.mark.parametrize(
    ("rows", "header", "match"),
    [
        (["s1,1,1,500,cat,cat,0,x_cat1-elephant2.png"], "subj,session,trial,object_response,imagename", "lacks the column\\(s\\) rt, category, condition"),
        (["s1,1,1,500,cat,cat,0,x_zebra1-cat2.png"], None, "line 2: stimulus 'zebra1-cat2.png' .* is not in the stimulus set"),
        (["s1,1,1,500,cat,cat,0,x_cat1-elephant2.png", "s1,1,2,500,kat,dog,0,x_dog3-boat1.png"], None, "line 3: object_response 'kat' is not a label"),
        (["s1,1,1,500,cat,dog,0,x_cat1-elephant2.png"], None, "category 'dog' disagrees with the set's shape label 'cat'"),
        (["s1,1,1,500,cat,cat,0,x_cat1-elephant2.png", "s1,1,2,500,cat,cat,0,y_cat1-elephant2.png"], None, "answered stimulus 'images/cat1-elephant2.png' twice"),
    ],
)
def test_observer_csv_errors(tmp_path: Path, rows: list[str], header: str | None, match: str) -> None:
    f = _csv(tmp_path / "bad.csv", rows, *( [header] if header else []))
    with pytest.raises(InputError, match=match):
        read_observer_csv(f, _stimuli(), label_space="geirhos16")


# ----------------------------------------------------------------------------- sets on disk


def test_set_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="has no manifest.jsonl"):
        evaluate_set(tmp_path / "empty", ["efficientnet_lite0"])
    folder = make_set(tmp_path / "s", tiny_rows(4), label_space="geirhos16")
    fl.save_image(torch.zeros(3, 32, 32), folder / "images" / "s1-car.png")  # tamper with one image
    with pytest.raises(InputError, match="'images/s1-car.png' of item 's1-car' does not match its sha256"):
        evaluate_set(folder, ["efficientnet_lite0"])
    with pytest.raises(ModelError, match="unknown model 'efficientnet_lite9'.*efficientnet_lite0"):
        evaluate_set(folder, ["efficientnet_lite9"], on_mismatch="skip")


def test_evaluate_with_a_module_in_manifest_order(tmp_path: Path) -> None:
    from foolbox_lite.classifiers import from_module

    folder = make_set(tmp_path / "s", tiny_rows(4), label_space="geirhos16")
    fl.save_image(torch.zeros(3, 32, 32), folder / "images" / "s1-car.png")
    want = ["cat", "boat", "oven", "dog"]  # rows consumed in order by the 3 items left: shape, texture, other
    logits = torch.full((4, 16), -1.0)
    for i, c in enumerate(want):
        logits[i, GEIRHOS16.names.index(c)] = 1.0
    clf = from_module(FixedModel(logits), name="fixed", input_size=32, labels="geirhos16")
    ev = evaluate_set(folder, [clf], on_mismatch="skip", batch_size=2, progress=False)
    assert len(ev.set.problems) == 1 and "s1-car.png" in ev.set.problems[0]
    trials = ev.trials["fixed"]
    assert [t.stimulus for t in trials] == ["s0-dog.png", "s2-boat.png", "s3-cat.png"]
    assert [t.response for t in trials] == ["cat", "boat", "oven"]
    assert [t.followed for t in trials] == ["shape", "texture", "other"]
    assert [t.trial for t in trials] == [1, 2, 3] and all(math.isnan(t.rt) for t in trials)
    s = ev.summary()
    assert s["observers"]["fixed"]["cue_fractions"] == {"shape": 1 / 3, "texture": 1 / 3, "other": 1 / 3}
    assert s["observers"]["fixed"]["shape_bias"] == 0.5
    assert s["observers"]["fixed"]["accuracy"]["per_condition"] == {"c0": 0.5, "c1": 0.0}


def test_ragged_sizes_are_resized_per_image(tmp_path: Path) -> None:
    from foolbox_lite.classifiers import from_module

    rows = tiny_rows(3)
    rows[1] = (rows[1][0], torch.rand(3, 40, 24), rows[1][2], rows[1][3])
    folder = make_set(tmp_path / "r", rows, label_space="geirhos16")
    seen: list[tuple[int, ...]] = []

    def model(x: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(x.shape))
        return torch.zeros(x.shape[0], 16)

    ev = evaluate_set(folder, [from_module(model, name="m", input_size=(20, 20), labels="geirhos16")], batch_size=3, progress=False)
    assert seen == [(3, 3, 20, 20)] and len(ev.trials["m"]) == 3


# ----------------------------------------------------------------------------- real data


@pytest.mark.shared
@pytest.mark.slow
def test_lite0_top1_on_photos_is_high(tmp_path: Path, imagenet_samples: Path, lite0) -> None:
    folder = make_set(tmp_path / "photos", photo_rows(imagenet_samples, 32), cues=["shape"])
    ev = evaluate_set(folder, [lite0], progress=False)
    acc = ev.summary()["observers"]["efficientnet_lite0"]["accuracy"]["overall"]
    assert acc >= 0.75, f"top-1 {acc:.2f} on ImageNet photos: is the preprocessing right?"


@pytest.mark.shared
@pytest.mark.slow
def test_lite0_on_geirhos_silhouettes_16_categories(tmp_path: Path, geirhos_shapes: Path, lite0) -> None:
    folder = make_set(tmp_path / "sil", silhouette_rows(geirhos_shapes, 2), label_space="geirhos16", cues=["shape"])
    ev = evaluate_set(folder, [lite0], progress=False)
    trials = ev.trials["efficientnet_lite0"]
    assert len(trials) == 32 and all(t.response in GEIRHOS16.names for t in trials)
    acc = ev.summary()["observers"]["efficientnet_lite0"]["accuracy"]["overall"]
    assert 0.25 <= acc <= 0.9, acc  # far above chance (1/16); silhouettes are hard for CNNs (~0.5 over all 160)


def test_imagenet_set_seen_through_a_mapping(tmp_path: Path) -> None:
    from foolbox_lite.classifiers import from_module

    g = torch.Generator().manual_seed(1)
    tabby, zebra, sports_car = WNID["tabby"], WNID["zebra"], WNID["sports car"]
    rows = [
        ("a.png", torch.rand(3, 16, 16, generator=g), {"shape": tabby, "texture": zebra}, ""),
        ("b.png", torch.rand(3, 16, 16, generator=g), {"shape": sports_car, "texture": tabby}, ""),
    ]
    folder = make_set(tmp_path / "in", rows)
    logits = torch.zeros(2, 1000)
    logits[0, 282] = 8.0  # tiger cat: same 'cat' category as the tabby shape
    logits[1, 285] = 8.0  # Egyptian cat: the texture's category
    clf = from_module(FixedModel(logits), name="fixed", input_size=16)
    ev = evaluate_set(folder, [clf], mapping="geirhos16", progress=False)
    t = ev.trials["fixed"]
    assert [x.response for x in t] == ["cat", "cat"]
    assert [x.followed for x in t] == ["shape", "texture"]
    assert t[0].cues == {"shape": "cat", "texture": zebra}  # zebra belongs to no category: it matches nothing
    assert ev.set.info.label_space == "geirhos16"
    with pytest.raises(ParameterError, match="cannot be read through mapping 'geirhos16'"):
        register_mapping(LabelMapping("two", {"x": (1,), "y": (2,)}), overwrite=True)
        evaluate_set(make_set(tmp_path / "two", rows[:1], label_space="two"), [clf], mapping="geirhos16", progress=False)


def test_hashes_checked_on_the_bytes_read_in_a_later_batch(tmp_path: Path) -> None:
    folder = make_set(tmp_path / "s", tiny_rows(4), label_space="geirhos16")
    loaded = load_stimulus_set(folder, defer_hashes=True)
    assert loaded.hashes_pending and len(loaded.entries) == 4
    last = loaded.entries[-1].file
    fl.save_image(torch.ones(3, 32, 32), folder / last)  # tampered after the set was read: found when the last batch is decoded
    with pytest.raises(InputError, match=f"'{last}' of item .* does not match its sha256"):
        evaluate_set(folder, ["efficientnet_lite0"], batch_size=2, progress=False)
    (folder / last).unlink()  # a missing file is still reported before any inference
    with pytest.raises(InputError, match="is missing"):
        load_stimulus_set(folder, defer_hashes=True)
    assert not load_stimulus_set(folder, on_mismatch="skip", defer_hashes=True).hashes_pending  # skip/warn hash up front
