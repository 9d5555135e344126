"""Safety against hostile or careless input (issue 10): no data loss, nothing written or read outside
the output or the set, no hangs, exit code 2 with one line for every bad input, no silent wrong results.

Each test names the red-team case it covers.  The recipe corpus (tests/recipes_bad) holds the
YAML cases (alias bombs, recursion, deep nesting, duplicate keys, caches outside, unknown cues).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_build import _files as _tree
from test_build import _write
from test_export import RECIPE as EXPORT_RECIPE

from foolbox_lite.cli import main
from foolbox_lite.errors import AssetError, InputError, ModelError, ParameterError
from foolbox_lite.recipes.build import build_recipe
from foolbox_lite.stimulus_set import read_manifest
from foolbox_lite.stimulus_set.folder_lock import lock_folder

ROOT = Path(__file__).resolve().parents[1]

# the export tests' recipe (procedural assets, geirhos16 categories) without its repeat: 4 items, fast
RECIPE = EXPORT_RECIPE.replace("name: mini-cc", "name: safe").replace("  repeat: 2\n", "")


def _recipe(tmp: Path, text: str = RECIPE, name: str = "safe.yaml") -> Path:
    return _write(tmp, text, name)


def _set(tmp: Path, name: str = "set", text: str = RECIPE) -> Path:
    return build_recipe(_recipe(tmp, text, f"{name}.yaml"), tmp / name, progress=False)


def _rewrite_manifest(folder: Path, edit) -> None:
    lines = [json.loads(x) for x in (folder / "manifest.jsonl").read_text().splitlines()]
    edit(lines)
    (folder / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    return code, err


def _one_line_error(err: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error: ") and "Traceback" not in err and len(lines) <= 2, err


def _cue_conflict_folder(root: Path, names: list[str]) -> Path:
    for n in names:
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (len(n) * 9 % 255, 40, 90)).save(p)
    return root


# ============================================================================ data loss


def test_export_force_refuses_a_parent_of_the_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`export SET -o PARENT --force` where PARENT holds SET deleted PARENT whole."""
    parent = tmp_path / "parent"
    parent.mkdir()
    s = _set(parent)
    (parent / "unrelated.txt").write_text("keep me")
    before = _tree(parent)
    code, err = _cli(["export", str(s), "--format", "imagefolder", "-o", str(parent), "--force"], capsys)
    assert code == 2 and "holds the stimulus set" in err
    _one_line_error(err)
    assert _tree(parent) == before
    code, err = _cli(["export", str(s), "--format", "imagefolder", "-o", str(s / "export"), "--force"], capsys)
    assert code == 2 and "lies inside the stimulus set" in err and not (s / "export").exists()


def test_export_force_removes_only_an_earlier_export(tmp_path: Path) -> None:
    from foolbox_lite.stimulus_set.export import export_set

    s = _set(tmp_path)
    out = tmp_path / "exp"
    export_set(s, "webdataset", out, shard_size=3)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        export_set(s, "imagefolder", out)
    export_set(s, "imagefolder", out, force=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert not list(out.glob("shard-*.tar")) and not (out / "shards.txt").exists()  # the earlier export's files went
    assert len(read_manifest(out)) == 4


def test_import_force_refuses_a_parent_of_the_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`import ... -o PARENT --force` where PARENT holds the source deleted the source."""
    parent = tmp_path / "parent"
    src = _cue_conflict_folder(parent / "published", ["cat/cat1-dog2.png", "dog/dog1-cat1.png"])
    before = _tree(parent)
    code, err = _cli(["import", "cue-conflict", str(src), "-o", str(parent), "--force"], capsys)
    assert code == 2 and "lies inside the output folder" in err
    assert _tree(parent) == before
    code, err = _cli(["import", "cue-conflict", str(src), "-o", str(src / "set"), "--force"], capsys)
    assert code == 2 and "lies inside the source folder" in err and _tree(parent) == before


def test_build_force_keeps_user_files_and_refuses_inputs_inside_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`build --force` deleted the user's own images in images/ (read as inputs) and DATASHEET.md."""
    out = _set(tmp_path, "out")
    (out / "images" / "holiday.jpg").write_bytes(b"user photo")
    (out / "images" / "mine").mkdir()
    (out / "images" / "mine" / "a.png").write_bytes(b"user file")
    code, _ = _cli(["build", str(tmp_path / "out.yaml"), "-o", str(out), "--force", "-q"], capsys)
    assert code == 0
    assert (out / "images" / "holiday.jpg").read_bytes() == b"user photo" and (out / "images" / "mine" / "a.png").exists()
    # a recipe reading an image inside OUT is refused, before anything is removed
    Image.new("RGB", (16, 16), (200, 10, 10)).save(out / "images" / "input.png")
    text = RECIPE.replace("oven: {procedural: checkerboard, label: oven, kind: shape, mask: none}", "oven: {files: out/images/input.png, label: oven, kind: shape, mask: none}")
    r = _recipe(tmp_path, text, "reads_out.yaml")
    before = _tree(out)
    code, err = _cli(["build", str(r), "-o", str(out), "--force", "-q"], capsys)
    assert code == 2 and "lies inside the output folder" in err
    assert _tree(out) == before


def test_glob_matching_the_output_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A recipe whose input glob matched OUT grew the set on every --force rebuild."""
    (tmp_path / "photos").mkdir()
    Image.new("RGB", (16, 16), (10, 200, 10)).save(tmp_path / "photos" / "a.png")
    text = RECIPE.replace("oven: {procedural: checkerboard, label: oven, kind: shape, mask: none}", "oven: {files: '**/*.png', label: oven, kind: shape, mask: none}")
    r = _recipe(tmp_path, text, "greedy.yaml")
    assert _cli(["build", str(r), "-o", str(tmp_path / "out"), "-q"], capsys)[0] == 0
    n = len(read_manifest(tmp_path / "out"))
    code, err = _cli(["build", str(r), "-o", str(tmp_path / "out"), "--force", "-q"], capsys)
    assert code == 2 and "lies inside the output folder" in err
    assert len(read_manifest(tmp_path / "out")) == n


@pytest.mark.parametrize("command", ["build", "resume", "export", "import", "evaluate"])
def test_a_locked_output_folder_is_in_use(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two concurrent --force builds destroyed a complete set; a second process must get exit 2 "in use by pid N"."""
    s = _set(tmp_path)
    src = _cue_conflict_folder(tmp_path / "published", ["cat/cat1-dog2.png"])
    out = s if command in ("build", "resume") else tmp_path / "out"
    args = {
        "build": ["build", str(tmp_path / "set.yaml"), "-o", str(out), "--force", "-q"],
        "resume": ["build", str(tmp_path / "set.yaml"), "-o", str(out), "--resume", "-q"],
        "export": ["export", str(s), "--format", "imagefolder", "-o", str(out)],
        "import": ["import", "cue-conflict", str(src), "-o", str(out)],
        "evaluate": ["evaluate", str(s), "-o", str(out), "-q", "--no-report"],
    }[command]
    before = _tree(s)
    with lock_folder(out):
        code, err = _cli(args, capsys)
    assert code == 2 and f"is in use by pid {os.getpid()}" in err
    _one_line_error(err)
    assert _tree(s) == before  # nothing of the locked set was touched
    assert not (out / ".foolbox-lite.lock").exists()  # released


def test_lock_is_released_when_the_holder_dies(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = f"from foolbox_lite.stimulus_set.folder_lock import lock_folder\nimport time\nwith lock_folder({str(out)!r}):\n    print('held', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"held"
    with pytest.raises(InputError, match=f"in use by pid {proc.pid}"), lock_folder(out):
        pass
    proc.kill()
    proc.wait()
    with lock_folder(out) as held:  # the kernel dropped the dead process's lock
        assert held.path.read_text().strip() == str(os.getpid())


def test_resume_verifies_every_listed_file_and_stays_inside(tmp_path: Path) -> None:
    """--resume kept lines whose file points outside the set, and did not check the float32 sidecars."""
    r = _recipe(tmp_path, RECIPE + "sidecars: true\n")
    ref = _tree(build_recipe(r, tmp_path / "ref", progress=False))
    out = build_recipe(r, tmp_path / "out", progress=False)
    np.save(out / "images" / "000000.f32.npy", np.zeros((3, 32, 32), np.float32))  # corrupted sidecar
    (out / "images" / "000001.f32.npy").unlink()  # deleted sidecar
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes((out / "images" / "000002.png").read_bytes())

    def edit(lines: list[dict]) -> None:
        lines[2]["file"] = "../elsewhere.png"  # same bytes and sha256, but outside the set
        lines[3]["sidecar"] = "/etc/hostname"

    _rewrite_manifest(out, edit)
    build_recipe(r, out, resume=True, progress=False)
    assert _tree(out) == ref


# ============================================================================ writing or reading outside the set


def test_export_sanitises_labels_and_refuses_path_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A manifest id or cue label with '../' made export write PNGs outside OUT."""
    s = _set(tmp_path)
    _rewrite_manifest(s, lambda lines: lines[0]["cues"].update(shape="../../../escaped"))
    out = tmp_path / "exp-imagefolder"
    assert _cli(["export", str(s), "--format", "imagefolder", "-o", str(out)], capsys)[0] == 0  # the label is sanitised
    assert all(out in p.parents for p in out.rglob("*"))
    # model-vs-human's file-name rule needs one word of letters per label: refused, nothing written
    code, err = _cli(["export", str(s), "--format", "model-vs-human", "-o", str(tmp_path / "exp-mvh")], capsys)
    assert code == 2 and "single word of letters" in err and not (tmp_path / "exp-mvh").exists()
    assert not list(tmp_path.glob("escaped*")) and not list(tmp_path.parent.glob("escaped*"))
    _rewrite_manifest(s, lambda lines: lines[1].update(id="../../evil"))
    for fmt in ("imagefolder", "model-vs-human", "webdataset"):
        code, err = _cli(["export", str(s), "--format", fmt, "-o", str(tmp_path / f"bad-{fmt}")], capsys)
        assert code == 2 and "is not a plain name" in err
        assert not (tmp_path / f"bad-{fmt}").exists()
    assert not list(tmp_path.rglob("evil*"))


@pytest.mark.parametrize("file", ["../x.png", "/etc/hostname", "images/../../x.png", "images\\..\\x.png"])
def test_manifest_files_outside_the_set_are_refused(file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Manifest `file` fields outside the set were read by evaluate and copied by export."""
    s = _set(tmp_path)
    _rewrite_manifest(s, lambda lines: lines[0].update(file=file))
    code, err = _cli(["export", str(s), "--format", "imagefolder", "-o", str(tmp_path / "exp")], capsys)
    assert code == 2 and "points outside the set" in err
    code, err = _cli(["evaluate", str(s), "-o", str(tmp_path / "ev"), "-q", "--no-report"], capsys)
    assert code == 2 and "points outside the set" in err
    assert not (tmp_path / "exp").exists() and not (tmp_path / "ev").exists()


def test_a_link_out_of_the_set_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _set(tmp_path)
    target = s / "images" / "000000.png"
    moved = tmp_path / "moved.png"
    target.rename(moved)
    target.symlink_to(moved)
    code, err = _cli(["export", str(s), "--format", "imagefolder", "-o", str(tmp_path / "exp")], capsys)
    assert code == 2 and "outside" in err


def test_recipe_caches_are_confined(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A recipe's `foreground_mask cache:` could write to any absolute path (see also recipes_bad/cache_*.yaml)."""
    from foolbox_lite.backends.mask_cache import recipe_cache

    monkeypatch.setenv("FOOLBOX_LITE_HOME", str(tmp_path / "home"))
    assert recipe_cache("masks") == str(tmp_path / "home" / "cache" / "masks")
    assert recipe_cache(True) is True and recipe_cache(False) is False
    for bad in ("/tmp/x", "../x", "masks/../../x", str(tmp_path / "home")):
        with pytest.raises(ParameterError, match="lies outside"):
            recipe_cache(bad)


# ============================================================================ hangs and floods


def test_alias_bomb_fails_fast_with_a_short_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 1 KB alias bomb hung the build, and in a scalar field printed 369 MB."""
    for name in ("alias_bomb.yaml", "alias_bomb_scalar.yaml", "recursive_alias.yaml", "deep_nesting_extreme.yaml", "deep_block_nesting.yaml"):
        start = time.monotonic()
        code, err = _cli(["build", str(ROOT / "tests" / "recipes_bad" / name), "-o", str(tmp_path / "out")], capsys)
        assert code == 2 and time.monotonic() - start < 20 and len(err) < 1000, (name, err[:300])
        _one_line_error(err)
    assert not (tmp_path / "out").exists()


def test_flow_nesting_is_bounded_before_the_quadratic_scanner() -> None:
    """PyYAML's scanner takes time quadratic in '[' depth: 1 MB of '[[[...' must fail at once, quotes and comments aside."""
    from foolbox_lite.recipes.yaml_guard import load_yaml

    start = time.monotonic()
    with pytest.raises(InputError, match=r"r.yaml:1:68: values are nested more than 64 levels deep"):
        load_yaml("a: " + "[" * 500_000 + "]" * 500_000, "r.yaml")
    assert time.monotonic() - start < 5
    text = "a: '[[[[[[[['\nb: \"{{{{{{\\\"{{\"\n# [[[[[[[[[[\nc: it's [1, [2]]\n"
    assert load_yaml(text.replace("[[[[[[[[[[", "[" * 100), "r.yaml", max_depth=3) == {"a": "[[[[[[[[", "b": '{{{{{{"{{', "c": "it's [1, [2]]"}


def test_error_messages_cap_echoed_values() -> None:
    from foolbox_lite.recipes.load import parse_recipe

    big = "x" * 100_000
    with pytest.raises(ParameterError) as info:
        parse_recipe(f"schema: 1\nname: n\nseed: [{', '.join([big] * 5)}]\n", "r.yaml")
    assert len(str(info.value)) < 600 and "..." in str(info.value)
    assert len(str(InputError("y" * 10**6, hint="z" * 10**6))) < 4200


def test_glob_work_is_bounded(tmp_path: Path) -> None:
    """A glob such as /**/*.x walked the whole file system for over 10 minutes."""
    import glob

    from foolbox_lite.assets.bounded_glob import bounded_glob

    for rel in ["a/x.png", "a/b/y.png", "a/b/c/z.png", "a/.hidden/w.png", "k.png", "a/b/t.jpg"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")  # a link loop cannot make it spin
    for pat in ["**/*.png", "a/**/*.png", "*.png", "a/*/*.png", "**/b/*.png", "nope/*"]:
        want = sorted(p for p in glob.glob(str(tmp_path / pat), recursive=True) if "**" not in pat or "/loop" not in p)
        assert bounded_glob(str(tmp_path / pat)) == want, pat
    with pytest.raises(AssetError, match="looks at more than 5 files and folders"):
        bounded_glob(str(tmp_path / "**" / "*.png"), max_entries=5)
    with pytest.raises(AssetError, match="took more than"):
        bounded_glob("/**/*.nothing-has-this-suffix", max_seconds=0.0)
    start = time.monotonic()
    with pytest.raises(AssetError, match="narrow the glob"):
        bounded_glob("/**/*.nothing-has-this-suffix", max_entries=20_000)
    assert time.monotonic() - start < 10


# ============================================================================ exit codes and messages


@pytest.mark.slow
@pytest.mark.parametrize("command", ["build", "evaluate"])
def test_ctrl_c_exits_130_with_a_message(command: str, tmp_path: Path) -> None:
    """Ctrl-C during build or evaluate exited 0 with no message."""
    text = RECIPE.replace("size: 32", "size: 96") + "design_repeat_placeholder: 0\n"
    repeat = 400 if command == "evaluate" else 150  # the evaluator is fast: give it enough images to be caught mid-run
    text = text.replace("design_repeat_placeholder: 0\n", "").replace("    texture: {assets: [stripes, noise]}\n", f"    texture: {{assets: [stripes, noise]}}\n  repeat: {repeat}\n")
    r = _recipe(tmp_path, text)
    s = tmp_path / "set"
    if command == "evaluate":
        build_recipe(r, s, progress=False, workers=1)
        args = ["evaluate", str(s), "-o", str(tmp_path / "ev"), "-q", "--batch-size", "2", "--backend", "torch"]
        ready = lambda: False
    else:
        args = ["build", str(r), "-o", str(s), "-q", "--batch-size", "4"]
        ready = lambda: len(list((s / "images").glob("*.png"))) >= 20 if (s / "images").is_dir() else False
    proc = subprocess.Popen([sys.executable, "-m", "foolbox_lite", *args], stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.time() + (8 if command == "evaluate" else 60)
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    hint = "resume with --resume" if command == "build" else "run it again"
    assert f"interrupted; {hint}" in err.decode()
    if command == "evaluate":
        assert not (tmp_path / "ev" / "summary.json").exists()


def test_internal_errors_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad inputs that gave exit 1 with an internal error (KeyError, IndexError, UnicodeEncodeError...)."""
    s = _set(tmp_path)
    # non-UTF-8 file names (the lock writer choked on them)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (8, 8)).save(os.fsdecode(bytes(photos) + b"/caf\xe9.png"))
    text = RECIPE.replace("oven: {procedural: checkerboard, label: oven, kind: shape, mask: none}", "oven: {files: 'photos/*.png', label: oven, kind: shape, mask: none}")
    code, err = _cli(["build", str(_recipe(tmp_path, text, "latin1.yaml")), "-o", str(tmp_path / "o1")], capsys)
    assert code == 2 and "is not valid UTF-8" in err and "caf\\xe9.png" in err
    # model files that are not weights
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(300))
    zipped = tmp_path / "zip.pt"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", b"not a pickle")
    jsonfile = tmp_path / "weights.pth"
    jsonfile.write_text('{"a": 1}')
    fake_ts = tmp_path / "fake.ts"
    with zipfile.ZipFile(fake_ts, "w") as z:
        z.writestr("fake/code/__torch__.py", "def forward(self): pass")
        z.writestr("fake/constants.pkl", b"\x80\x02}q\x00.")
    for model in (str(junk), str(zipped), str(jsonfile), f"efficientnet_lite0@{junk}", f"efficientnet_lite0@{zipped}"):
        code, err = _cli(["evaluate", str(s), "-m", model, "-o", str(tmp_path / "ev"), "-q", "--no-report"], capsys)
        assert code == 2, (model, err)
        _one_line_error(err)
    code, err = _cli(["evaluate", str(s), "-m", str(fake_ts), "--allow-torchscript", "-o", str(tmp_path / "ev"), "-q", "--no-report"], capsys)
    assert code == 2 and "not a loadable TorchScript archive" in err
    # NaN and huge numbers in a manifest on export
    for bad in ('"seed": NaN', '"seed": 1e999', '"seed": 99999999999999999999999'):
        t = tmp_path / f"t{abs(hash(bad))}"
        build_recipe(tmp_path / "set.yaml", t, progress=False)
        text = (t / "manifest.jsonl").read_text()
        (t / "manifest.jsonl").write_text(text.replace('"seed":3', bad.replace(" ", ""), 1))
        code, err = _cli(["export", str(t), "--format", "hf", "-o", str(tmp_path / "hf")], capsys)
        assert code == 2, (bad, err)
        _one_line_error(err)
    # noise-threshold bounds, checked before the model loads
    for extra in (["--batch-size", "0"], ["--levels", "1e308"], ["--levels", "nan"]):
        code, err = _cli(["noise-threshold", "--images", str(s / "images"), "-o", str(tmp_path / "nt"), *extra], capsys)
        assert code == 2, (extra, err)
    # evaluate with OUT a file or unwritable: refused before inference
    (tmp_path / "afile").write_text("x")
    for out, msg in ((tmp_path / "afile", "exists and is not a folder"), (Path("/proc/foolbox-lite-no"), "cannot write")):
        code, err = _cli(["evaluate", str(s), "-m", "no_such_model", "-o", str(out), "-q"], capsys)
        assert code == 2 and msg in err  # found before the models are even loaded


def test_bad_uap_metadata_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from foolbox_lite.attacks import load_perturbation, save_perturbation

    delta = torch.full((1, 3, 8, 8), 0.01)
    pt, meta_path = save_perturbation(tmp_path / "u.pt", delta, {"model": "efficientnet_lite0", "norm": "linf", "eps": 4 / 255, "eps_given": "4/255", "eps_scale": 1.0})
    good = json.loads(meta_path.read_text())
    assert load_perturbation(pt).eps == pytest.approx(4 / 255)
    cases = {
        "eps_text": {"eps": "abc"},
        "eps_negative": {"eps": -1},
        "norm": {"norm": "l7"},
        "tensor_file": {"tensor_file": "../../x"},
        "claims_larger_eps": {"eps": 0.5},  # the declared budget (eps_given) is 4/255
        "measured_norm": {"measured_norm": 0.001},
    }
    for name, change in cases.items():
        meta_path.write_text(json.dumps({**good, **change}))
        code, err = _cli(["uap", "eval", str(meta_path if name == "tensor_file" else pt), "--images", str(tmp_path)], capsys)
        assert code == 2, (name, err)
        _one_line_error(err)
    # a tensor larger than the eps its metadata claims (and consistent otherwise) is refused on load
    big = torch.full((1, 3, 8, 8), 0.3)
    pt2, mp2 = save_perturbation(tmp_path / "v.pt", big, {"model": "m", "norm": "linf", "eps": 0.3, "eps_given": "0.3"})
    meta = json.loads(mp2.read_text())
    mp2.write_text(json.dumps({**meta, "eps": 0.1, "eps_given": "0.1"}))
    with pytest.raises(AssetError, match="above its recorded eps"):
        load_perturbation(pt2)


def test_uap_output_into_an_existing_folder(tmp_path: Path) -> None:
    """`uap fit -o DIR` with an existing folder wrote DIR.pt beside it."""
    from foolbox_lite.attacks import load_perturbation, save_perturbation
    from foolbox_lite.attacks.perturbation_file import perturbation_target

    d = tmp_path / "results"
    d.mkdir()
    assert perturbation_target(d) == d / "uap.pt"
    assert perturbation_target(tmp_path / "u") == tmp_path / "u.pt"
    pt, mp = save_perturbation(d, torch.full((1, 3, 4, 4), 0.01), {"model": "m", "norm": "linf", "eps": 0.02})
    assert (pt, mp) == (d / "uap.pt", d / "uap.json") and not (tmp_path / "results.pt").exists()
    assert load_perturbation(d / "uap.pt").size == (4, 4)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError, match="is not a folder"):
        perturbation_target(tmp_path / "file.txt" / "u.pt")


def test_misleading_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """'does not exist' for /dev/zero, a FIFO or a folder; 'efficientnet_lite0@' as model file '.'; std: 1e-2 as a string."""
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    (tmp_path / "folder.yaml").mkdir()
    for path, msg in (("/dev/zero", "is a device"), (str(fifo), "is a FIFO"), (str(tmp_path / "folder.yaml"), "is a folder"), (str(tmp_path / "no.yaml"), "does not exist")):
        code, err = _cli(["build", path, "-o", str(tmp_path / "o")], capsys)
        assert code == 2 and msg in err, (path, err)
    s = _set(tmp_path)
    code, err = _cli(["evaluate", str(s), "-m", "efficientnet_lite0@", "-o", str(tmp_path / "ev")], capsys)
    assert code == 2 and "names no weights file after '@'" in err
    text = RECIPE.replace("  - invert: {p: 0.5}", "  - gaussian_noise: {std: 1e-2}")
    out = build_recipe(_recipe(tmp_path, text, "sci.yaml"), tmp_path / "sci", progress=False)
    assert read_manifest(out)[0].params[0]["op"] == "gaussian_noise"


def test_run_resolves_models_before_building(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`run` built the whole set before finding that a model name in the recipe is unknown."""
    r = _recipe(tmp_path, RECIPE + "models: [efficientnet_lite0, no_such_model]\n")
    code, err = _cli(["run", str(r), "-o", str(tmp_path / "run"), "-q"], capsys)
    assert code == 2 and "unknown model 'no_such_model'" in err
    assert not (tmp_path / "run").exists()


def test_failures_remove_what_the_invocation_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Run-time errors left images/, manifest.jsonl.partial and the lock behind; import left half an images/; export an empty OUT."""
    text = RECIPE.replace("  texture: {factor: texture}", "  texture: {op: invert}")  # invert sets no cue: fails while building
    r = _recipe(tmp_path, text, "fails.yaml")
    code, err = _cli(["build", str(r), "-o", str(tmp_path / "b"), "-q"], capsys)
    assert code == 2 and "should be set by operator 'invert'" in err
    assert not (tmp_path / "b").exists()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("mine")
    assert _cli(["build", str(r), "-o", str(tmp_path / "kept"), "-q"], capsys)[0] == 2
    assert _tree(tmp_path / "kept") == {"notes.txt": b"mine"}
    # import: a bad file after good ones leaves nothing
    src = _cue_conflict_folder(tmp_path / "published", ["cat/cat1-dog2.png", "dog/dog1-cat1.png"])
    (src / "dog" / "dog2-cat2.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    code, err = _cli(["import", "cue-conflict", str(src), "-o", str(tmp_path / "imp")], capsys)
    assert code == 2 and "cannot be read" in err and not (tmp_path / "imp").exists()
    # export: a failure after the folder was made leaves no empty OUT
    imagenet = _set(tmp_path, "inet", RECIPE.replace("label_space: geirhos16", "label_space: imagenet1k").replace("label: clock", "label: analog clock")
                    .replace("label: oven", "label: Dutch oven").replace("label: elephant", "label: African elephant").replace("label: bear", "label: brown bear"))
    code, err = _cli(["export", str(imagenet), "--format", "model-vs-human", "-o", str(tmp_path / "mvh")], capsys)
    assert code == 2 and "needs category labels" in err and not (tmp_path / "mvh").exists()


# ============================================================================ silent wrong results


def test_16_bit_pngs_are_scaled_and_exif_orientation_applied(tmp_path: Path) -> None:
    from foolbox_lite.assets.io import load_image, read_pil

    ramp = np.linspace(0, 65535, 256).round().astype(np.uint16)[None].repeat(2, 0)
    Image.fromarray(ramp).save(tmp_path / "r16.png")
    got = np.asarray(read_pil(tmp_path / "r16.png"))
    assert got.dtype == np.uint8 and got[0].tolist() == list(range(256))  # not 0, 255, 255, ...
    assert load_image(tmp_path / "r16.png")[0, 0, 128].item() == pytest.approx(128 / 255)
    a = np.zeros((2, 4, 3), np.uint8)
    a[0, 3] = 255  # top-right pixel white
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # the camera was rotated: show it turned 90 degrees clockwise
    im.save(tmp_path / "o.jpg", exif=exif, quality=100)
    up = np.asarray(read_pil(tmp_path / "o.jpg"))
    assert up.shape[:2] == (4, 2) and up[3, 1].mean() > 200 and up[0, 0].mean() < 50


def test_duplicate_manifest_ids_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Duplicate ids: export dropped or overwrote images and duplicated tar members; evaluate inflated n."""
    s = _set(tmp_path)
    lines = (s / "manifest.jsonl").read_text().splitlines(keepends=True)
    (s / "manifest.jsonl").write_text("".join(lines + lines[:1]))
    for args in (["export", str(s), "--format", "webdataset", "-o", str(tmp_path / "wds")], ["evaluate", str(s), "-o", str(tmp_path / "ev"), "-q", "--no-report"]):
        code, err = _cli(args, capsys)
        assert code == 2 and "item id '000000' appears twice" in err


def test_unknown_cues_are_refused_before_inference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`evaluate --reference-cue zzz` / `--accuracy-cue zzz` / `reference_cue: zzz` exited 0 with accuracy null."""
    s = _set(tmp_path)
    for flag in ("--reference-cue", "--accuracy-cue"):  # found before the models are even loaded
        code, err = _cli(["evaluate", str(s), flag, "zzz", "-m", "no_such_model", "-o", str(tmp_path / "ev"), "-q"], capsys)
        assert code == 2 and f"{flag} 'zzz' is not a cue of the set" in err and "cues: shape, texture" in err
    code, err = _cli(["evaluate", str(s), "--reference-cue", "texure", "-o", str(tmp_path / "ev"), "-q"], capsys)
    assert "did you mean 'texture'?" in err
    info = json.loads((s / "set.json").read_text())
    (s / "set.json").write_text(json.dumps({**info, "reference_cue": "zzz"}))
    code, err = _cli(["evaluate", str(s), "-o", str(tmp_path / "ev"), "-q"], capsys)
    assert code == 2 and "reference_cue (set.json) 'zzz' is not a cue of the set" in err


# ============================================================================ code that runs


def _torchscript_reading_a_file(tmp_path: Path) -> Path:
    """A TorchScript model whose forward reads a local file: loading it must need the opt-in."""

    class Reader(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(x.shape[0], 1000) + float(len(open("/etc/hostname").read()) > -1)

    path = tmp_path / "reader.pt"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scripted = torch.jit.script(Reader())
        except Exception:  # noqa: BLE001 - file IO is not scriptable in every torch: trace a plain model instead
            scripted = torch.jit.trace(torch.nn.Flatten(), torch.zeros(1, 3, 2, 2))
        torch.jit.save(scripted, str(path))
    return path


def test_torchscript_needs_the_explicit_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A TorchScript file executes its own code, also when named by a shared recipe's `models:` under `run`."""
    ts = _torchscript_reading_a_file(tmp_path)
    s = _set(tmp_path)
    code, err = _cli(["evaluate", str(s), "-m", str(ts), "-o", str(tmp_path / "ev"), "-q", "--no-report"], capsys)
    assert code == 2 and "TorchScript archive, which runs its own code" in err and "--allow-torchscript" in err
    r = _recipe(tmp_path, RECIPE + f"models: ['{ts}']\n", "shared.yaml")
    code, err = _cli(["run", str(r), "-o", str(tmp_path / "run"), "-q", "--no-report"], capsys)
    assert code == 2 and "runs its own code" in err and not (tmp_path / "run").exists()
    with pytest.raises(ModelError, match="runs its own code"):
        from foolbox_lite.classifiers import load_classifier

        load_classifier(str(ts))
    assert load_classifier(str(ts), allow_torchscript=True).name == "reader"
    # evaluation shards obey the same flag: refused without it, loaded with it
    code, err = _cli(["evaluate", str(s), "-m", str(ts), "--shard", "0/2", "-o", str(tmp_path / "parts"), "-q"], capsys)
    assert code == 2 and "runs its own code" in err
    code, err = _cli(["evaluate", str(s), "-m", str(ts), "--shard", "0/2", "--allow-torchscript", "-o", str(tmp_path / "parts"), "-q"], capsys)
    assert "runs its own code" not in err and "needs logits" in err  # loaded and ran (this test model is no classifier)


def test_inside_of_resolves_like_realpath(tmp_path: Path) -> None:
    from foolbox_lite.stimulus_set.safe_paths import inside_of

    root, outside = tmp_path / "set", tmp_path / "elsewhere"
    (root / "images").mkdir(parents=True)
    outside.mkdir()
    (root / "images" / "a.png").write_bytes(b"x")
    (outside / "b.png").write_bytes(b"x")
    (root / "images" / "link.png").symlink_to(outside / "b.png")  # a file link out of the set
    (root / "escape").symlink_to(outside, target_is_directory=True)  # a folder link out of the set
    (root / "inner").symlink_to(root / "images", target_is_directory=True)  # a folder link inside it
    check = inside_of(root)
    assert check("images/a.png") == root / "images" / "a.png"
    assert check("inner/a.png") == root / "inner" / "a.png"
    assert check("images/missing.png") == root / "images" / "missing.png"
    for rel in ("images/link.png", "escape/b.png", "images/../../elsewhere/b.png", "images/..", "."):
        with pytest.raises(InputError, match="outside"):
            check(rel)
