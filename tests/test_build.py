"""Building stimulus sets from recipes: bytes, resume, safe writing, lock file, datasheet, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from foolbox_lite.cli import main
from foolbox_lite.errors import InputError
from foolbox_lite.recipes.build import build_recipe
from foolbox_lite.stimulus_set import read_manifest, read_set_info, sha256_file

# A recipe on procedural assets only (no bank, no ../shared): 2 shapes x 3 levels x 2 copies = 12 items.
RECIPE = """\
schema: 1
name: tiny
description: A tiny test set.
seed: 11
size: 48
label_space: imagenet1k
assets:
  disc: {procedural: disc, label: analog clock}
  board: {procedural: checkerboard, params: {squares: 6}, label: n03888605, kind: shape, mask: none}
  noise: {procedural: value_noise, params: {scale: 5, seed: 3}, label: zebra, kind: texture}
design:
  cross:
    shape: {assets: [disc, board]}
    invert_p: [0.0, 0.5, 1.0]
  repeat: 2
pipeline:
  - one_of: {ops: [{grayscale: {}}, {invert: {p: 0.5}}], weights: [1, 2]}
  - invert: {p: {factor: invert_p}}
cues:
  shape: {factor: shape}
  texture: zebra
"""


def _write(tmp: Path, text: str = RECIPE, name: str = "tiny.yaml") -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_is_byte_identical_across_batch_sizes_and_workers(tmp_path: Path) -> None:
    r = _write(tmp_path)
    a = build_recipe(r, tmp_path / "a", batch_size=5, workers=0, progress=False)
    b = build_recipe(r, tmp_path / "b", batch_size=12, workers=2, progress=False)
    c = build_recipe(r, tmp_path / "c", batch_size=1, workers=1, progress=False)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert fa == fb == fc  # images, manifest, lock, datasheet, set.json
    entries = read_manifest(a)
    assert [e.index for e in entries] == list(range(12))
    assert len({e.sha256 for e in entries}) > 3  # the conditions really differ
    e0 = entries[0]
    assert e0.id == "000000" and e0.file == "images/000000.png" and e0.seed == 11
    assert e0.cues == {"shape": "n02708093", "texture": "n02391049"}  # analog clock, zebra as wnids
    assert e0.sources["shape"] == "procedural:disc" and len(e0.sources["shape.sha256"]) == 64
    assert [p["path"] for p in e0.params][:1] == ["0"] and any(p["op"] == "invert" for p in e0.params)
    assert e0.condition == "shape=disc,invert_p=0.0"
    for e in entries:
        assert sha256_file(a / e.file) == e.sha256
    # item 11 (board, p=1.0, copy 2) always ends with an applied invert
    assert entries[11].params[-1] == {"applied": True, "op": "invert", "params": {}, "path": "1"}
    assert entries[0].params[-1]["applied"] is False
    info = read_set_info(a)
    assert (info.name, info.label_space, info.cues, info.reference_cue, info.n) == ("tiny", "imagenet1k", ["shape", "texture"], "shape", 12)


def test_items_replay_from_their_records(tmp_path: Path) -> None:
    """An image equals the pipeline replayed from its manifest record on the base image."""
    import torch

    import foolbox_lite as fl
    from foolbox_lite.assets.io import load_image, to_uint8
    from foolbox_lite.assets.procedural.patterns import checkerboard
    from foolbox_lite.recipes.build import Builder
    from foolbox_lite.recipes.load import load_recipe

    r = _write(tmp_path)
    out = build_recipe(r, tmp_path / "a", batch_size=4, progress=False)
    b = Builder(load_recipe(r))
    e = read_manifest(out)[7]
    d = b.plan.item(7)
    img, _ = checkerboard((48, 48), squares=6)
    stim = fl.Stimuli.from_tensor(img[None].clone(), None, start_index=7)
    pipe = b.factory.get(d.levels)
    again = pipe.replay(stim, [e.params])
    assert torch.equal(to_uint8(again.images[0]), to_uint8(load_image(out / e.file)))


def test_lock_file_and_datasheet(tmp_path: Path) -> None:
    sub = tmp_path / "recipes"
    sub.mkdir()
    (tmp_path / "art").mkdir()
    from foolbox_lite.assets.io import save_image
    from foolbox_lite.assets.procedural.patterns import disc

    save_image(disc((40, 40))[0], tmp_path / "art" / "blob.png")
    text = RECIPE.replace("  disc: {procedural: disc, label: analog clock}", "  disc: {files: ../art/*.png, kind: shape, mask: light, label: analog clock, licence: CC0}")
    r = _write(sub, text)
    out = build_recipe(r, tmp_path / "out", progress=False)
    lock = yaml.safe_load((out / "recipe.lock.yaml").read_text())
    assert lock["recipe_file"] == "tiny.yaml"
    assert lock["paths_outside_recipe_folder"] == ["../art/blob.png"]  # '..' is allowed but shown
    assert lock["assets"]["disc"][0]["id"] == "file:../art/blob.png"
    assert lock["assets"]["disc"][0]["sha256"] == sha256_file(tmp_path / "art" / "blob.png")
    assert lock["recipe"]["seed"] == 11 and lock["recipe"]["schema"] == 1
    import torch

    assert lock["versions"]["torch"] == torch.__version__.split("+")[0] or lock["versions"]["torch"] == torch.__version__
    assert {"foolbox-lite", "kornia", "numpy", "pillow", "zlib"} <= set(lock["versions"])
    assert lock["device"]["type"] == "cpu" and "GPU" in lock["reproducibility"]
    sheet = (out / "DATASHEET.md").read_text()
    assert "# tiny" in sheet and "A tiny test set." in sheet
    assert "| shape=blob,invert_p=0.5 | 2 |" in sheet
    assert "| analog clock (n02708093) | 6 |" in sheet
    assert "**CC0**" in sheet and "How to cite" in sheet


def test_existing_folder_refused_then_forced(tmp_path: Path) -> None:
    r = _write(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="is not empty.*--resume.*--force"):
        build_recipe(r, out, progress=False)
    build_recipe(r, out, force=True, progress=False)
    assert (out / "notes.txt").read_text() == "mine"  # --force removes only what a build owns
    assert len(read_manifest(out)) == 12


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        out = Path("/proc/foolbox-lite-cannot-write-here")  # even root cannot create folders in /proc
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        out = locked / "out"
    with pytest.raises(InputError, match="cannot write"):
        build_recipe(_write(tmp_path), out, progress=False)


def test_resume_after_deleting_images_and_truncating_manifest(tmp_path: Path) -> None:
    r = _write(tmp_path)
    ref = _files(build_recipe(r, tmp_path / "ref", progress=False))
    out = build_recipe(r, tmp_path / "out", batch_size=4, progress=False)
    (out / "images" / "000003.png").unlink()
    (out / "images" / "000010.png").write_bytes(b"corrupt")
    lines = (out / "manifest.jsonl").read_text().splitlines(keepends=True)
    (out / "manifest.jsonl").write_text("".join(lines[:8]) + lines[8][:20])  # torn last line
    (out / "images" / ".000005.png.abc.tmp").write_bytes(b"left by a kill")
    with pytest.raises(InputError, match="not empty"):
        build_recipe(r, out, progress=False)
    build_recipe(r, out, batch_size=3, workers=2, resume=True, progress=False)
    assert _files(out) == ref


def test_resume_refuses_another_recipe(tmp_path: Path) -> None:
    r = _write(tmp_path)
    out = build_recipe(r, tmp_path / "out", progress=False)
    r2 = _write(tmp_path, RECIPE.replace("seed: 11", "seed: 12"), "other.yaml")
    with pytest.raises(InputError, match="another recipe"):
        build_recipe(r2, out, resume=True, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_killed_build_leaves_no_partial_image_and_resumes_exactly(sig: int, tmp_path: Path) -> None:
    text = RECIPE.replace("size: 48", "size: 64").replace("repeat: 2", "repeat: 30")  # 180 items
    r = _write(tmp_path, text)
    out = tmp_path / "out"
    code = f"from foolbox_lite.recipes.build import build_recipe; build_recipe({str(r)!r}, {str(out)!r}, batch_size=4, workers=1, progress=False)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if (out / "images").is_dir() and len(list((out / "images").glob("*.png"))) >= 30:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert not (out / "manifest.jsonl").exists()  # an unfinished build is not a stimulus set
    from PIL import Image

    pngs = sorted((out / "images").glob("*.png"))
    assert 0 < len(pngs) < 180
    for p in pngs:  # every image under its final name is complete
        with Image.open(p) as im:
            im.load()
    build_recipe(r, out, resume=True, workers=2, progress=False)
    ref = build_recipe(r, tmp_path / "ref", progress=False)
    assert _files(out) == _files(ref)


def test_cli_build_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = _write(tmp_path)
    out = tmp_path / "out"
    assert main(["build", str(r), "-o", str(out), "--batch-size", "6", "--workers", "1", "-q"]) == 0
    assert "wrote 12 images" in capsys.readouterr().out
    assert main(["build", str(r), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: output folder") and "hint: pass --resume" in err and "Traceback" not in err
    bad = _write(tmp_path, RECIPE.replace("seed: 11", "seed: eleven"), "bad.yaml")
    assert main(["build", str(bad), "-o", str(tmp_path / "o2")]) == 2
    assert "seed: Input should be a valid integer, got 'eleven' (str)" in capsys.readouterr().err
    assert main(["build", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "o3")]) == 2
    assert main(["--version"]) == 0
    assert "foolbox-lite" in capsys.readouterr().out
    assert main(["build", str(r), "-o", str(tmp_path / "o4"), "--device", "cuda:7"]) == 2


def test_manifest_lines_are_canonical_json(tmp_path: Path) -> None:
    out = build_recipe(_write(tmp_path), tmp_path / "out", progress=False)
    for line in (out / "manifest.jsonl").read_text().splitlines():
        raw = json.loads(line)
        assert line == json.dumps(raw, sort_keys=True, separators=(",", ":"))
        assert set(raw) >= {"id", "file", "sha256", "seed", "cues", "sources", "params"}
