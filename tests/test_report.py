"""``foolbox-lite evaluate`` end to end: trials.csv, summary.json, plots, report.html; and its errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from test_evaluator import FixedModel, make_set, tiny_rows

from foolbox_lite.classifiers import from_module
from foolbox_lite.cli import main
from foolbox_lite.evaluator import GEIRHOS16, evaluate_set
from foolbox_lite.report import shape_bias_plot, write_evaluation

HEADER = "subj,session,trial,rt,object_response,category,condition,imagename"


def _humans(folder: Path, rows) -> Path:
    """Two subjects in the published layout: subject-01 follows shape except once, subject-02 texture."""
    lines = [HEADER]
    for subj, pick in (("subject-01", "shape"), ("subject-02", "texture")):
        for i, (name, _, cues, cond) in enumerate(rows):
            resp = cues[pick] if not (subj == "subject-01" and i == 1) else "na"
            lines.append(f"{subj},1,{i + 1},{700 + i},{resp},{cues['shape']},{cond},{i:04d}_cc_{subj}_0_{cues['shape']}_00_{name}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "humans.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_evaluate_command_end_to_end(tmp_path: Path) -> None:
    rows = tiny_rows(6)
    folder = make_set(tmp_path / "cc", rows, label_space="geirhos16")
    _humans(tmp_path / "raw", rows)
    out = tmp_path / "out"
    code = main(["evaluate", str(folder), "-m", "efficientnet_lite0", "--observers", str(tmp_path / "raw" / "*.csv"), "-o", str(out), "-q", "-b", "4"])
    assert code == 0
    with open(out / "trials.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0])[:8] == HEADER.split(",") and list(table[0])[8:11] == ["cue_shape", "cue_texture", "followed_cue"]
    assert list(table[0])[11:] == ["control", "twin", "valid", "rank_shape", "rank_texture", "prob_shape", "prob_texture"]  # no factors in this set
    assert len(table) == 3 * 6
    model_rows = [r for r in table if r["subj"] == "efficientnet_lite0"]
    assert [r["imagename"] for r in model_rows] == [r[0] for r in rows]  # manifest order
    assert [r["trial"] for r in model_rows] == ["1", "2", "3", "4", "5", "6"] and {r["rt"] for r in model_rows} == {"NaN"}
    assert all(r["object_response"] in GEIRHOS16.names for r in model_rows)
    assert [r["category"] for r in model_rows] == [r[2]["shape"] for r in rows]

    s = json.loads((out / "summary.json").read_text())
    assert list(s["observers"]) == ["efficientnet_lite0", "subject-01", "subject-02"]
    h1, h2 = s["observers"]["subject-01"], s["observers"]["subject-02"]
    assert h1["n"] == 6 and h1["cue_fractions"] == {"shape": 5 / 6, "texture": 0.0, "other": 1 / 6} and h1["shape_bias"] == 1.0
    assert h2["shape_bias"] == 0.0 and h2["accuracy"]["overall"] == 0.0
    ec = {(p["a"], p["b"]): p for p in s["error_consistency"]}
    assert set(ec) == {("efficientnet_lite0", "subject-01"), ("efficientnet_lite0", "subject-02"), ("subject-01", "subject-02")}
    # subject-01 right on 5 of 6, subject-02 on none: c_obs = 1/6, c_exp = 5/6*0 + 1/6*1 = 1/6, kappa 0
    h = ec[("subject-01", "subject-02")]
    assert (h["observed"], h["expected"], h["kappa"], h["n"]) == pytest.approx((1 / 6, 1 / 6, 0.0, 6))

    for png in ("cue_fractions.png", "shape_bias.png", "error_consistency.png"):
        with Image.open(out / png) as im:
            assert im.format == "PNG" and im.size[0] > 300
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and html.count("data:image/jpeg;base64,") == 6
    assert "subject-02: " in html and "src='http" not in html and 'src="http' not in html


def test_evaluate_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_set(tmp_path / "cc", tiny_rows(2), label_space="geirhos16")
    assert main(["evaluate", str(folder), "-m", "resnet5O", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'resnet5O'" in err and "efficientnet_lite0" in err
    (tmp_path / "bad.csv").write_text("subj,trial,object_response\ns1,1,cat\n")
    assert main(["evaluate", str(folder), "--observers", str(tmp_path / "bad.csv"), "-o", str(tmp_path / "o")]) == 2
    assert "lacks the column(s) session, rt, category, condition, imagename" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nothing"), "-o", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["evaluate", str(folder), "--observers", str(tmp_path / "none*.csv"), "-o", str(tmp_path / "o")]) == 2
    assert "no observer files match" in capsys.readouterr().err


def test_report_with_one_observer_and_no_conflicts(tmp_path: Path) -> None:
    rows = [(n, img, {"shape": c["shape"], "texture": c["shape"]}, cond) for n, img, c, cond in tiny_rows(3)]
    folder = make_set(tmp_path / "s", rows, label_space="geirhos16")
    logits = torch.zeros(3, 16)
    clf = from_module(FixedModel(logits), name="fixed", input_size=32, labels="geirhos16")
    ev = evaluate_set(folder, [clf], progress=False)
    paths = write_evaluation(ev, tmp_path / "out")
    assert set(paths) == {"trials", "summary", "cue_fractions", "report"}  # no shape-bias or kappa plot to draw
    assert shape_bias_plot(ev.trials, tmp_path / "x.png") is None and not (tmp_path / "x.png").exists()
    s = json.loads(paths["summary"].read_text())
    assert s["observers"]["fixed"]["shape_bias"] is None and s["error_consistency"] == []


def test_run_command_builds_and_evaluates_a_recipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    text = (root / "recipes" / "zebra-toilet-seat.yaml").read_text()
    for old, new in (("pitch: [0, 40, 60]", "pitch: [40]"), ("angle: [0, 45, 90, 135, 180, 225, 270, 315]", "angle: [0, 90]"), ("repeat: 4", "repeat: 1")):
        assert old in text, f"the flagship recipe no longer has {old!r}: update this test's shrinking"
        text = text.replace(old, new)
    recipe = tmp_path / "small.yaml"
    recipe.write_text(text)
    out = tmp_path / "run"
    assert main(["run", str(recipe), "-o", str(out), "-q", "--decision", "restricted"]) == 0
    printed = capsys.readouterr().out
    assert "efficientnet_lite0" in printed and "background" in printed
    s = json.loads((out / "evaluation" / "summary.json").read_text())
    o = s["observers"]["efficientnet_lite0"]
    assert o["n"] == 2 and set(o["cue_fractions"]) == {"shape", "texture", "background", "other"}
    assert sum(o["cue_fractions"].values()) == pytest.approx(1.0)
    assert (out / "set" / "manifest.jsonl").is_file() and (out / "evaluation" / "report.html").is_file()
    # a second run reuses the identical build and gives the same answer
    assert main(["run", str(recipe), "-o", str(out), "-q", "--decision", "restricted"]) == 0
    assert json.loads((out / "evaluation" / "summary.json").read_text())["observers"] == s["observers"]
