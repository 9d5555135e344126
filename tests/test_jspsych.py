"""The jsPsych export run end to end in a real headless Chromium: a scripted participant
presses keys, the downloaded CSV is imported as an observer and evaluated."""

from __future__ import annotations

import csv
import json
import os
import statistics
from pathlib import Path

import pytest
from test_export import RECIPE

from foolbox_lite.cli import main
from foolbox_lite.errors import InputError
from foolbox_lite.recipes.build import build_recipe
from foolbox_lite.stimulus_set import read_manifest
from foolbox_lite.stimulus_set.export import export_set
from foolbox_lite.stimulus_set.export.jspsych import KEYS, noise_mask, trial_order

CHROMIUM = os.environ.get("FOOLBOX_LITE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
GEIRHOS16 = ["airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair", "clock", "dog", "elephant", "keyboard", "knife", "oven", "truck"]


@pytest.fixture(scope="module")
def cue_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("jsp")
    (tmp / "r.yaml").write_text(RECIPE)
    return build_recipe(tmp / "r.yaml", tmp / "set", progress=False)


def _chromium() -> str:
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).is_file():
        msg = f"no Chromium at {CHROMIUM}: apt-get install -y chromium (scripts/test.sh does), or set FOOLBOX_LITE_CHROMIUM"
        if os.environ.get("FOOLBOX_LITE_SHARED"):  # CI: the browser test must run
            pytest.fail(msg)
        pytest.skip(msg)
    return CHROMIUM


def test_trial_order_is_a_seeded_permutation() -> None:
    a = trial_order(0, "p01", 50)
    assert sorted(a) == list(range(50)) and a == trial_order(0, "p01", 50)
    assert a != trial_order(0, "p02", 50) and a != trial_order(1, "p01", 50)


def test_noise_mask_is_pink_and_full_contrast() -> None:
    import numpy as np

    m = noise_mask((64, 64), 0, 3)
    assert m.dtype == np.uint8 and m.min() == 0 and m.max() == 255
    power = np.abs(np.fft.fft2(m.astype(float) - m.mean())) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(64), np.fft.fftfreq(64), indexing="ij"))
    low, high = power[(f > 0.02) & (f < 0.06)].mean(), power[(f > 0.2) & (f < 0.4)].mean()
    assert low / high > 20  # 1/f amplitude: power falls ~ 1/f^2 (white noise would give ~1)
    assert np.array_equal(m, noise_mask((64, 64), 0, 3)) and not np.array_equal(m, noise_mask((64, 64), 0, 4))


def test_jspsych_export_is_self_contained(cue_set: Path, tmp_path: Path) -> None:
    out = export_set(cue_set, "jspsych", tmp_path / "exp", stimulus_ms=150)
    html = (out / "index.html").read_text()
    for src in ("lib/jspsych/jspsych.js", "lib/jspsych/plugin-html-keyboard-response.js", "config.js", "experiment.js"):
        assert f'"{src}"' in html and (out / src).is_file()
    assert "://" not in html  # nothing loaded from the network
    versions = json.loads((out / "lib" / "jspsych" / "VERSIONS.json").read_text())
    assert versions["jspsych.js"]["version"].startswith("8.")
    assert "MIT" in (out / "lib" / "jspsych" / "LICENSE").read_text()
    config = json.loads((out / "config.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    assert (config["stimulus_ms"], config["mask_ms"], config["labels"]) == (150, 200, GEIRHOS16)
    assert sorted(i["imagename"] for i in config["items"]) == sorted(Path(e.file).name for e in read_manifest(cue_set))
    desc = json.loads((out / "dataset_description.json").read_text())
    assert desc["@type"] == "Dataset" and [v["name"] for v in desc["variableMeasured"]] == ["subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename"]
    with pytest.raises(InputError, match="stimulus_ms must be positive"):
        export_set(cue_set, "jspsych", tmp_path / "bad", stimulus_ms=0)


@pytest.mark.slow
def test_scripted_participant_in_chromium(cue_set: Path, tmp_path: Path) -> None:
    """Keys pressed in headless Chromium -> downloaded CSV -> import responses -> evaluate --observers."""
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    out = export_set(cue_set, "jspsych", tmp_path / "exp", practice=2, break_every=3, seed=5)
    entries = {Path(e.file).name: e for e in read_manifest(cue_set)}
    config = json.loads((out / "config.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    items = config["items"]
    order = trial_order(5, "p01", len(items))
    # the participant answers the texture for every fourth item index, else the shape
    answers = [entries[items[i]["imagename"]].cues["texture" if i % 4 == 3 else "shape"] for i in order]
    script = [answers[k] for k in range(2)] + answers  # the practice shows the first two of the same order
    csv_path = tmp_path / "responses" / "p01.csv"
    external: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            page.on("request", lambda r: external.append(r.url) if not r.url.startswith(("file:", "blob:", "data:")) else None)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((out / "index.html").as_uri() + "?participant=p01")
            pressed, spaces = 0, 0
            while pressed < len(script):
                page.wait_for_function("() => document.querySelector('.fl-grid') || document.body.innerText.includes('space bar')", timeout=20000)
                done = page.evaluate("() => FL_JSPSYCH.data.get().count()")
                if page.query_selector(".fl-grid"):
                    key = KEYS[GEIRHOS16.index(script[pressed])]
                    pressed += 1
                    if pressed == len(script):
                        with page.expect_download() as dl:
                            page.keyboard.press(key)
                        dl.value.save_as(csv_path)
                    else:
                        page.keyboard.press(key)
                else:
                    spaces += 1
                    page.keyboard.press(" ")
                page.wait_for_function(f"() => FL_JSPSYCH.data.get().count() > {done}")
            timing = page.evaluate(
                "() => { const d = FL_JSPSYCH.data.get().values(); return d.map((t, k) => [t.trial_type, k ? t.time_elapsed - d[k - 1].time_elapsed : null]); }"
            )
            assert "finished" in page.inner_text("body") and not errors
        finally:
            browser.close()
    assert external == []  # offline: every request was a file
    assert spaces == 2 + 1 + 1 + 2  # two instruction pages, practice and main intros, breaks after trials 3 and 6
    durations = [ms for kind, ms in timing if kind == "image-keyboard-response"]
    stim, mask = statistics.median(durations[0::2]), statistics.median(durations[1::2])
    assert 190 <= stim <= 400 and 190 <= mask <= 400, (stim, mask)
    print(f"measured in Chromium: stimulus {stim} ms, mask {mask} ms (median of {len(durations) // 2})")
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename"]
    assert [r["imagename"] for r in rows] == [items[i]["imagename"] for i in order]  # the browser's order is trial_order's
    assert [r["object_response"] for r in rows] == answers and all(float(r["rt"]) >= 0 for r in rows)
    assert main(["import", "responses", str(csv_path), "--set", str(cue_set), "-o", str(tmp_path / "obs")]) == 0
    raw = sorted((tmp_path / "obs" / "raw-data" / "mini-cc").glob("*.csv"))
    assert [p.name for p in raw] == ["mini-cc_p01_session-1.csv"]
    args = ["evaluate", str(cue_set), "-m", "efficientnet_lite0", "--decision", "mapping", "--observers", str(raw[0].parent / "*.csv"), "-o", str(tmp_path / "ev"), "-q"]
    assert main(args) == 0
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    p01 = summary["observers"]["p01"]
    n_shape = sum(i % 4 != 3 for i in order)
    assert n_shape == 6
    assert p01["n"] == 8 and p01["cue_fractions"]["shape"] == n_shape / 8 and p01["cue_fractions"]["texture"] == 1 - n_shape / 8
    assert p01["shape_bias"] == pytest.approx(n_shape / 8)
    print("summary:", json.dumps({k: summary[k] for k in ("observers", "error_consistency")}, sort_keys=True))
    assert len(summary["error_consistency"]) == 1 and (tmp_path / "ev" / "report.html").is_file()


def test_import_responses_rejects_bad_files(cue_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = "subj,session,trial,rt,object_response,category,condition,imagename\n"
    good = tmp_path / "good.csv"
    good.write_text(head + "s1,1,1,0.5,clock,clock,c,000000.png\ns1,1,2,0.6,bear,oven,c,0001_s5n_s01_0_oven_00_000004.png\n")
    files = __import__("foolbox_lite.evaluator.responses", fromlist=["x"]).import_responses([good], cue_set, tmp_path / "o")
    with open(files[0], newline="") as fh:
        assert [r["imagename"] for r in csv.DictReader(fh)] == ["000000.png", "000004.png"]  # model-vs-human names read
    cases = {
        "unknown.csv": (head + "s1,1,1,0.5,clock,clock,c,nothere.png\n", "stimulus 'nothere.png'"),
        "label.csv": (head + "s1,1,1,0.5,zebra,clock,c,000000.png\n", "'zebra' is not a label of the set's label space"),
        "category.csv": (head + "s1,1,1,0.5,clock,oven,c,000000.png\n", "category 'oven' disagrees"),
        "columns.csv": ("subj,trial\ns1,1\n", "lacks the column"),
    }
    for name, (text, msg) in cases.items():
        (tmp_path / name).write_text(text)
        assert main(["import", "responses", str(tmp_path / name), "--set", str(cue_set), "-o", str(tmp_path / f"o-{name}")]) == 2
        assert msg in capsys.readouterr().err, name
    assert main(["import", "responses", str(good), str(good), "--set", str(cue_set), "-o", str(tmp_path / "o2")]) == 2
    assert "in two files" in capsys.readouterr().err
    assert main(["import", "responses", str(good), "-o", str(tmp_path / "o3")]) == 2
    assert "pass --set SET" in capsys.readouterr().err


@pytest.mark.slow
def test_searchable_list_for_imagenet_labels(tmp_path: Path) -> None:
    """More than 26 categories: the participant types a class name into a searchable list."""
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    (tmp_path / "r.yaml").write_text(RECIPE.replace("label_space: geirhos16", "label_space: imagenet1k").replace("label: clock", "label: wall clock")
                                     .replace("label: oven", "label: Dutch oven").replace("label: elephant", "label: African elephant")
                                     .replace("label: bear", "label: brown bear").replace("  repeat: 2\n", ""))
    s = build_recipe(tmp_path / "r.yaml", tmp_path / "s", progress=False)
    out = export_set(s, "jspsych", tmp_path / "exp", practice=0)
    config = json.loads((out / "config.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    assert len(config["labels"]) == 1000 and config["names"][892] == "wall clock"
    typed = ["wall clock", "brown bear", "not a class", "Dutch oven"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            page.goto((out / "index.html").as_uri() + "?participant=p02")
            answered = 0
            while answered < len(typed):
                page.wait_for_function("() => document.querySelector('input[name=answer]') || document.body.innerText.includes('space bar')", timeout=20000)
                done = page.evaluate("() => FL_JSPSYCH.data.get().count()")
                if page.query_selector("input[name=answer]"):
                    page.fill("input[name=answer]", typed[answered])
                    answered += 1
                    if answered == len(typed):
                        with page.expect_download() as dl:
                            page.click("#jspsych-survey-html-form-next")
                        dl.value.save_as(tmp_path / "p02.csv")
                    else:
                        page.click("#jspsych-survey-html-form-next")
                else:
                    page.keyboard.press(" ")
                page.wait_for_function(f"() => FL_JSPSYCH.data.get().count() > {done}")
        finally:
            browser.close()
    with open(tmp_path / "p02.csv", newline="") as fh:
        responses = [r["object_response"] for r in csv.DictReader(fh)]
    assert responses == ["n04548280", "n02132136", "na", "n03259280"]  # wnids; an unknown name is 'na'
    assert main(["import", "responses", str(tmp_path / "p02.csv"), "--set", str(s), "-o", str(tmp_path / "obs")]) == 0


def test_timing_comes_from_the_recipe_unless_given(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(RECIPE + "experiment: {stimulus_ms: 100, mask_ms: 300, practice: 1}\n")
    s = build_recipe(tmp_path / "r.yaml", tmp_path / "s", progress=False)

    def config(out: Path) -> dict:
        return json.loads((out / "config.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))

    c = config(export_set(s, "jspsych", tmp_path / "a"))
    assert (c["stimulus_ms"], c["mask_ms"], c["fixation_ms"], c["practice"], c["break_every"]) == (100, 300, 500, 1, 80)
    c = config(export_set(s, "jspsych", tmp_path / "b", stimulus_ms=50))
    assert (c["stimulus_ms"], c["mask_ms"]) == (50, 300)
    desc = json.loads((tmp_path / "b" / "dataset_description.json").read_text())
    assert "image 50 ms, 1/f noise mask 300 ms" in desc["description"]
