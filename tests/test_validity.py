"""Cue validity from control twins, graded cue evidence and figures by factor, in the evaluator and the report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from test_evaluator import FixedModel

import foolbox_lite as fl
from foolbox_lite.classifiers import from_module, imagenet_labels
from foolbox_lite.cli import main
from foolbox_lite.evaluator import GEIRHOS16, evaluate_set, make_decider
from foolbox_lite.evaluator.evidence import EvidenceRecorder
from foolbox_lite.files import sha256_file
from foolbox_lite.report import write_evaluation
from foolbox_lite.report.factor_plots import wilson
from foolbox_lite.stimulus_set.format import ManifestEntry, SetInfo, manifest_line, write_set_info

NAMES = list(GEIRHOS16.names)


def _controlled_set(folder: Path, with_twins: bool = True) -> Path:
    """Four conflict items (shape cat/dog x texture car/cat at pitch 0/40), each with a shape and a texture twin."""
    g = torch.Generator().manual_seed(0)
    items = [("cat", "car", 40), ("dog", "car", 0), ("cat", "cat", 0), ("dog", "cat", 40)]
    lines = []
    for i, (shape, texture, pitch) in enumerate(items):
        for control in ("", "shape", "texture") if with_twins else ("",):
            iid = f"{i:06d}" + (f"-{control}" if control else "")
            p = fl.save_image(torch.rand(3, 32, 32, generator=g), folder / "images" / f"{iid}.png")
            e = ManifestEntry(id=iid, file=f"images/{iid}.png", sha256=sha256_file(p), seed=0, index=i, cues={"shape": shape, "texture": texture},
                              condition=f"pitch={pitch}", factors={"pitch": pitch, "shape": shape}, control=control, twin=f"{i:06d}" if control else "")
            lines.append(manifest_line(e))
    (folder / "manifest.jsonl").write_text("".join(lines))
    write_set_info(folder, SetInfo(name="ctl", label_space="geirhos16", cues=["shape", "texture"], n=len(lines)))
    return folder


def _logits(answers: list[str], second: list[str] | None = None) -> torch.Tensor:
    """16-way logits: each row's answer scores 5, an optional runner-up 3, the rest 0."""
    x = torch.zeros(len(answers), 16)
    for i, a in enumerate(answers):
        x[i, NAMES.index(a)] = 5.0
        if second:
            x[i, NAMES.index(second[i])] = 3.0
    return x


# manifest order: item 0, its shape twin, its texture twin, item 1, ...
ANSWERS = ["car", "cat", "car",     # item 0: texture; both twins recognised -> valid
           "dog", "dog", "boat",    # item 1: shape; texture twin missed -> invalid
           "cat", "cat", "cat",     # item 2: no conflict (cat/cat)
           "cat", "bear", "cat"]    # item 3: texture; shape twin missed -> invalid
SECOND = ["cat", "dog", "cat", "car", "car", "car", "dog", "dog", "dog", "dog", "dog", "dog"]


def test_validity_controls_exclusions_evidence_and_factors(tmp_path: Path) -> None:
    folder = _controlled_set(tmp_path / "s")
    clf = from_module(FixedModel(_logits(ANSWERS, SECOND)), name="fixed", input_size=32, labels="geirhos16")
    ev = evaluate_set(folder, [clf], progress=False, batch_size=5)
    paths = write_evaluation(ev, tmp_path / "out")
    s = json.loads(paths["summary"].read_text())
    assert s["controls"] == ["shape", "texture"]
    o = s["observers"]["fixed"]
    assert o["n"] == 4  # conflict items only
    assert o["cue_fractions"] == {"shape": 0.5, "texture": 0.5, "other": 0.0}  # item 2 counts as shape (cue order)
    assert o["shape_bias"] == pytest.approx(1 / 3)  # items 0, 1, 3; item 2 has no conflict
    assert o["controls"] == {"shape": {"n": 4, "accuracy": 0.75}, "texture": {"n": 4, "accuracy": 0.75}}
    assert o["valid"] == {"n": 1, "cue_fractions": {"shape": 0.0, "texture": 1.0, "other": 0.0}, "shape_bias": 0.0}
    ex = o["exclusions"]
    assert (ex["control_twins"], ex["no_conflict"], ex["invalid"], ex["validity_unknown"], ex["shape_or_texture_decisions"]) == (8, 1, 2, 0, 3)
    assert "1 items whose shape and texture labels are the same (no conflict)" in ex["explanation"] and "2 conflict items are invalid" in ex["explanation"]
    # graded evidence: the answer has rank 1, the runner-up rank 2, others tie behind them
    evd = o["evidence"]
    assert evd["shape_over_texture"] == {"n": 3, "fraction": pytest.approx(1 / 3)}
    p5 = torch.tensor([5.0, 3.0] + [0.0] * 14).softmax(0)
    assert evd["cues"]["texture"]["median_rank"] == 1.0
    assert evd["cues"]["texture"]["mean_probability"] == pytest.approx(float((p5[0] * 3 + p5[1]) / 4), rel=1e-5)
    # by factor, numeric levels in numeric order
    bf = o["by_factor"]
    assert list(bf["pitch"]) == ["0", "40"] and list(bf["shape"]) == ["cat", "dog"]
    assert bf["pitch"]["0"]["n"] == 2 and bf["pitch"]["0"]["valid_n"] == 0 and bf["pitch"]["40"]["valid_n"] == 1
    assert bf["pitch"]["40"]["controls"] == {"shape": {"n": 2, "accuracy": 0.5}, "texture": {"n": 2, "accuracy": 1.0}}
    assert bf["pitch"]["40"]["cue_fractions"]["texture"] == 1.0 and bf["pitch"]["0"]["accuracy"] == 1.0
    rows = list(csv.DictReader(paths["trials"].open()))
    assert [r["valid"] for r in rows[::3]] == ["1", "0", "1", "0"]
    assert [(r["control"], r["twin"]) for r in rows[:3]] == [("", ""), ("shape", "000000"), ("texture", "000000")]
    assert rows[0]["rank_texture"] == "1" and rows[0]["rank_shape"] == "2" and rows[0]["factor_pitch"] == "40"
    html = paths["report"].read_text()
    assert "shape only" in html and "pitch=40" in html and "by_pitch" not in html and "By pitch" in html
    assert "2 conflict items are invalid" in html and "shape outranks texture" in html
    assert paths["by_pitch"].is_file() and "by_shape" not in paths  # asset factors are not plotted as curves
    gallery = html.split("<h2>Stimuli</h2>")[1]
    assert gallery.count("class='card") == 4  # twins are shown beside their conflict item, not as cards


def test_sets_and_observers_without_controls_report_null(tmp_path: Path) -> None:
    folder = _controlled_set(tmp_path / "plain", with_twins=False)
    clf = from_module(FixedModel(_logits(["car", "dog", "cat", "cat"])), name="fixed", input_size=32, labels="geirhos16")
    s = evaluate_set(folder, [clf], progress=False).summary()
    assert s["controls"] is None and s["observers"]["fixed"]["controls"] is None and s["observers"]["fixed"]["valid"] is None
    assert s["observers"]["fixed"]["exclusions"]["invalid"] is None
    # a human who saw only the conflict items of a controlled set: controls absent, validity unknown
    folder = _controlled_set(tmp_path / "ctl")
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = ["subj,session,trial,rt,object_response,category,condition,imagename"]
    for i, (shape, resp) in enumerate([("cat", "car"), ("dog", "dog"), ("cat", "cat"), ("dog", "cat")]):
        lines.append(f"subject-01,1,{i + 1},500,{resp},{shape},c,{i:06d}.png")
    (raw / "h.csv").write_text("\n".join(lines) + "\n")
    ev = evaluate_set(folder, [], observers=str(raw / "*.csv"), progress=False)
    o = ev.summary()["observers"]["subject-01"]
    assert o["controls"] is None and o["valid"] is None and o["evidence"] is None
    assert o["exclusions"]["validity_unknown"] == 4 and "validity is unknown for 4 items" in o["exclusions"]["explanation"]


def test_evidence_ranks_and_probabilities_per_rule() -> None:
    labels = imagenet_labels()
    zebra, seat, coil = (labels.wnids[labels.index(n)] for n in ("zebra", "toilet seat", "coil"))
    logits = torch.zeros(2, 1000)
    logits[0, labels.index("coil")] = 4.0
    logits[0, labels.index("zebra")] = 3.0
    logits[0, labels.index("toilet seat")] = 1.0
    logits[0, 5] = 2.0
    logits[1, labels.index("toilet seat")] = 6.0
    rec = EvidenceRecorder(make_decider(labels, "imagenet1k", "top1"), [zebra, seat])
    assert rec(logits) == [coil, seat]
    ranks, probs = rec.for_cues(0, {"shape": seat, "texture": zebra})
    assert ranks == {"shape": 4, "texture": 2}
    assert probs["texture"] == pytest.approx(float(logits[0].softmax(0)[labels.index("zebra")]))
    restricted = EvidenceRecorder(make_decider(labels, "imagenet1k", "restricted", cue_labels=[zebra, seat]), [zebra, seat])
    assert restricted(logits) == [zebra, seat]
    assert restricted.for_cues(0, {"shape": seat, "texture": zebra})[0] == {"shape": 2, "texture": 1}
    mapped = EvidenceRecorder(make_decider(labels, "geirhos16", "mapping"), ["cat", "dog"])
    x = torch.randn(1, 1000, generator=torch.Generator().manual_seed(3))
    mapped(x)
    cat = GEIRHOS16.probabilities(x)[0]
    r, p = mapped.for_cues(0, {"shape": "cat", "texture": "dog"})
    assert p == pytest.approx({"shape": float(cat[NAMES.index("cat")]), "texture": float(cat[NAMES.index("dog")])})
    assert r["shape"] == 1 + int((cat > cat[NAMES.index("cat")]).sum())


@pytest.mark.parametrize("space,rule", [("imagenet1k", "top1"), ("imagenet1k", "restricted"), ("geirhos16", "mapping"), ("geirhos16", "top1")])
def test_evidence_for_each_items_own_labels_equals_the_full_table(space: str, rule: str) -> None:
    """Recording only each item's cue labels gives the same bits as recording every label, and keeps only those."""
    labels = imagenet_labels()
    g = torch.Generator().manual_seed(11)
    if space == "imagenet1k":
        pool = [labels.wnids[i] for i in torch.randperm(1000, generator=g)[:40].tolist()]
    else:
        pool = list(NAMES)
    n = 37  # batches of 16, 16 and 5
    per_item = [[pool[int(j)] for j in torch.randint(len(pool), (int(k),), generator=g)] for k in torch.randint(0, 4, (n,), generator=g)]
    per_item[3] = [pool[0], pool[0]]  # a label twice (shape and texture alike)
    per_item[5] = ["na", pool[1]]  # a label no class has
    decider = make_decider(labels, space, rule, cue_labels=pool)  # type: ignore[arg-type]
    full, own = EvidenceRecorder(decider, pool), EvidenceRecorder(decider, pool, per_item)
    logits = torch.randn(n, 1000, generator=g) * 3
    for lo in range(0, n, 16):
        assert full(logits[lo : lo + 16]) == own(logits[lo : lo + 16])
    for i, item in enumerate(per_item):
        ranks, probs = own.of(i)
        want = [c for c in dict.fromkeys(item) if c in full.labels]
        assert list(ranks) == want and list(probs) == want
        all_ranks, all_probs = full.of(i)
        assert ranks == {c: all_ranks[c] for c in want}
        assert probs == {c: all_probs[c] for c in want}  # the same floats, not approximately
    assert own.of(5)[0].keys() == {pool[1]}
    with pytest.raises(RuntimeError, match="labels for 37 items"):
        own(logits[:1])
    none = EvidenceRecorder(decider, pool, [[], ["na"]])  # a batch (a Ray block) whose items name no label of the space
    assert none(logits[:2]) == full.decider(logits[:2]) and none.of(0) == none.of(1) == ({}, {})


def test_wilson_interval_values() -> None:
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_run_prints_the_flagship_claim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    text = (root / "recipes" / "zebra-toilet-seat.yaml").read_text()
    text = text.replace("pitch: [0, 40, 60]", "pitch: [0, 60]").replace("angle: [0, 45, 90, 135, 180, 225, 270, 315]", "angle: [0, 90]").replace("repeat: 4", "repeat: 1")
    recipe = tmp_path / "small.yaml"
    recipe.write_text(text)
    assert main(["run", str(recipe), "-o", str(tmp_path / "run"), "-q"]) == 0
    printed = capsys.readouterr().out
    s = json.loads((tmp_path / "run" / "evaluation" / "summary.json").read_text())
    o = s["observers"]["efficientnet_lite0"]
    acc = o["controls"]["shape"]["accuracy"]
    assert f"shape-only twin named toilet seat: {acc:.2f} ({round(acc * 4)}/4)" in printed
    assert "texture-only twin named zebra:" in printed and "conflict item named toilet seat:" in printed
    assert "by pitch:" in printed and "by angle:" in printed and "shape twin = toilet seat" in printed
    assert o["n"] == 4 and o["controls"]["texture"]["n"] == 4 and s["cue_labels"]["shape"] == "n04447861"
