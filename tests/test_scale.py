"""Beyond one machine: shards + merge, and the Ray engine, give the bytes and results of a local run."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from foolbox_lite.cli import main
from foolbox_lite.errors import InputError
from foolbox_lite.recipes.build import build_recipe
from foolbox_lite.report import write_evaluation
from foolbox_lite.scale import build_on_ray, build_shard, evaluate_on_ray, evaluate_shard, merge_results, merge_sets, parse_shard
from foolbox_lite.scale.shards import shard_range

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "recipes" / "zebra-toilet-seat.yaml"

# Procedural assets only: 2 shapes x 3 levels x 2 copies = 12 items.
TINY = """\
schema: 1
name: tiny
seed: 11
size: 40
label_space: imagenet1k
assets:
  disc: {procedural: disc, label: analog clock}
  board: {procedural: checkerboard, params: {squares: 6}, label: n03888605, kind: shape, mask: none}
design:
  cross:
    shape: {assets: [disc, board]}
    invert_p: [0.0, 0.5, 1.0]
  repeat: 2
pipeline:
  - invert: {p: {factor: invert_p}}
  - gaussian_noise: {std: [0.02, 0.08], p: 0.5}
cues:
  shape: {factor: shape}
  texture: zebra
"""


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _same_set(a: Path, b: Path, engine: dict | None) -> None:
    """Identical files, except the lock's recorded engine field."""
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    for name in fa:
        if name != "recipe.lock.yaml":
            assert fa[name] == fb[name], name
    la, lb = yaml.safe_load(fa["recipe.lock.yaml"]), yaml.safe_load(fb["recipe.lock.yaml"])
    assert "engine" not in la and lb.pop("engine", None) == engine
    assert la == lb


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray instance with 2 CPUs and no dashboard, for this module only."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


# ------------------------------------------------------------------ shards
@pytest.mark.parametrize("text, err", [("3/3", "does not exist"), ("-1/3", "must look like K/N"), ("1of3", "must look like K/N"), ("0/0", "does not exist")])
def test_bad_shard_is_a_clear_error(text: str, err: str) -> None:
    with pytest.raises(InputError, match=err):
        parse_shard(text)


def test_contiguous_ranges_tile_the_items() -> None:
    assert parse_shard(" 1 / 4 ") == (1, 4)
    for n_items in (0, 1, 7, 96, 1000):
        for n in (1, 3, 8):
            ranges = [shard_range(n_items, k, n) for k in range(n)]
            assert ranges[0][0] == 0 and ranges[-1][1] == n_items
            assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
            assert max(b - a for a, b in ranges) - min(b - a for a, b in ranges) <= 1


def test_shards_merged_give_the_single_build(tiny: Path, tmp_path: Path) -> None:
    ref = build_recipe(tiny, tmp_path / "ref", progress=False)
    parts = [tmp_path / f"s{k}" for k in range(3)]
    for k, p in enumerate(parts):
        build_shard(tiny, p, f"{k}/3", batch_size=3, progress=False)
    assert not (parts[0] / "manifest.jsonl").exists() and (parts[0] / "shards" / "0-of-3.jsonl").is_file()
    merged = merge_sets(parts[::-1], tmp_path / "merged", progress=False)
    _same_set(ref, merged, {"name": "shards", "shards": 3})


def test_shards_in_one_shared_folder_merge_in_place(tiny: Path, tmp_path: Path) -> None:
    ref = build_recipe(tiny, tmp_path / "ref", progress=False)
    shared = tmp_path / "shared"
    code = "import sys; from foolbox_lite.scale import build_shard; build_shard(sys.argv[1], sys.argv[2], sys.argv[3], batch_size=2, progress=False)"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tiny), str(shared), f"{k}/4"]) for k in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert main(["merge", str(shared), "-q"]) == 0
    _same_set(ref, shared, {"name": "shards", "shards": 4})


def test_merge_refuses_missing_overlapping_unfinished_and_mixed_shards(tiny: Path, tmp_path: Path) -> None:
    s = {k: build_shard(tiny, tmp_path / f"s{k}", f"{k}/3", progress=False).parents[1] for k in range(3)}
    with pytest.raises(InputError, match=r"items 4\.\.7 are in none of the shards"):
        merge_sets([s[0], s[2]], tmp_path / "m", progress=False)
    with pytest.raises(InputError, match=r"items 8\.\.11 are in none"):
        merge_sets([s[0], s[1]], tmp_path / "m", progress=False)
    build_shard(tiny, tmp_path / "half", "0/2", progress=False)
    with pytest.raises(InputError, match="overlaps shard"):
        merge_sets([s[0], s[1], s[2], tmp_path / "half"], tmp_path / "m", progress=False)
    (s[1] / "shards" / "1-of-3.jsonl").rename(s[1] / "shards" / "1-of-3.jsonl.partial")
    with pytest.raises(InputError, match=r"shard 1/3 .* is unfinished") as info:
        merge_sets(list(s.values()), tmp_path / "m", progress=False)
    assert "--shard 1/3 --resume" in (info.value.hint or "")
    other = tiny.with_name("other.yaml")
    other.write_text(TINY.replace("seed: 11", "seed: 12"), encoding="utf-8")
    build_shard(other, tmp_path / "o1", "1/3", progress=False)
    with pytest.raises(InputError, match="different builds"):
        merge_sets([s[0], tmp_path / "o1", s[2]], tmp_path / "m", progress=False)
    with pytest.raises(InputError, match="holds no shard"):
        merge_sets([tmp_path / "o1", tiny.parent], tmp_path / "m", progress=False)
    assert not (tmp_path / "m" / "manifest.jsonl").exists()


def test_merge_refuses_a_tampered_image(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = [build_shard(tiny, tmp_path / f"s{k}", f"{k}/2", progress=False).parents[1] for k in range(2)]
    png = min((parts[1] / "images").glob("*.png"))
    png.write_bytes(png.read_bytes()[:-8])
    assert main(["merge", *map(str, parts), "-o", str(tmp_path / "m"), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"item {int(png.stem)} of shard 1/2" in err and "does not match its sha256" in err and "hint: rebuild that shard with --resume" in err
    assert not (tmp_path / "m" / "manifest.jsonl").exists()


def test_rerun_shard_needs_resume_or_force_and_resume_completes_it(tiny: Path, tmp_path: Path) -> None:
    ref = build_recipe(tiny, tmp_path / "ref", progress=False)
    out = tmp_path / "shared"
    part = build_shard(tiny, out, "1/2", progress=False)
    with pytest.raises(InputError, match="shard 1/2 was already built") as info:
        build_shard(tiny, out, "1/2", progress=False)
    assert "--resume" in (info.value.hint or "")
    lines = part.read_text().splitlines(keepends=True)
    part.unlink()
    (part.parent / "1-of-2.jsonl.partial").write_text("".join(lines[:2]) + lines[2][:10])  # a killed shard: torn last line
    (out / "images" / json.loads(lines[3])["file"].split("/")[1]).unlink()
    build_shard(tiny, out, "1/2", resume=True, progress=False)
    build_shard(tiny, out, "0/2", progress=False)
    merge_sets([out], progress=False)
    _same_set(ref, out, {"name": "shards", "shards": 2})
    other = tiny.with_name("other.yaml")
    other.write_text(TINY.replace("seed: 11", "seed: 12"), encoding="utf-8")
    with pytest.raises(InputError, match="already a complete stimulus set"):
        build_shard(tiny, out, "0/2", progress=False)
    with pytest.raises(InputError, match="was built from another recipe"):
        build_shard(other, out, "0/2", progress=False)


def test_local_resume_completes_unmerged_shards(tiny: Path, tmp_path: Path) -> None:
    """--resume works across engines: a local build picks up the items shards already wrote."""
    ref = build_recipe(tiny, tmp_path / "ref", progress=False)
    out = tmp_path / "out"
    build_shard(tiny, out, "0/3", progress=False)
    build_shard(tiny, out, "2/3", progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in (out / "images").glob("*.png")}
    build_recipe(tiny, out, resume=True, progress=False)
    assert all((out / "images" / name).stat().st_mtime_ns == t for name, t in before.items())  # not rebuilt
    _same_set(ref, out, None)  # the shard parts are gone too


def test_cli_shard_and_engine_errors(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(tiny), "-o", str(tmp_path / "o"), "--shard", "3/3"]) == 2
    assert "shard 3/3 does not exist" in capsys.readouterr().err
    assert main(["build", str(tiny), "-o", str(tmp_path / "o"), "--shard", "0/3", "--engine", "ray"]) == 2
    assert "cannot be combined with --engine ray" in capsys.readouterr().err
    assert main(["build", str(tiny), "-o", str(tmp_path / "o"), "--engine", "spark"]) == 2
    assert "--engine must be local or ray" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "needs -o OUT" in capsys.readouterr().err


# ------------------------------------------------------------------ the flagship, three ways
@pytest.fixture(scope="module")
def flagship(ray_local, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("flagship")
    out = {"local": build_recipe(FLAGSHIP, tmp / "local", progress=False)}
    out["ray"] = build_on_ray(FLAGSHIP, tmp / "ray", progress=False, range_size=20)
    parts = [tmp / f"shard{k}" for k in range(3)]
    for k, p in enumerate(parts):
        assert main(["build", str(FLAGSHIP), "-o", str(p), "--shard", f"{k}/3", "-q"]) == 0
    assert main(["merge", *map(str, parts), "-o", str(tmp / "shards"), "-q"]) == 0
    out["shards"] = tmp / "shards"
    return out


@pytest.mark.slow
def test_flagship_is_byte_identical_locally_on_ray_and_as_shards(flagship: dict[str, Path]) -> None:
    import ray

    lines = [json.loads(line) for line in (flagship["local"] / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == 288 and len({e["index"] for e in lines}) == 96  # 96 items, each with a shape and a texture twin
    _same_set(flagship["local"], flagship["ray"], {"name": "ray", "ray": ray.__version__})
    _same_set(flagship["local"], flagship["shards"], {"name": "shards", "shards": 3})


@pytest.mark.slow
def test_flagship_evaluation_is_the_same_locally_on_ray_and_as_shards(flagship: dict[str, Path], lite0, tmp_path: Path) -> None:
    from foolbox_lite.evaluator.run import evaluate_set

    folder = flagship["local"]
    write_evaluation(evaluate_set(folder, [lite0], progress=False), tmp_path / "local", report=False)
    write_evaluation(evaluate_on_ray(folder, [lite0], replicas=2, progress=False), tmp_path / "ray", report=False)
    for k in range(3):
        evaluate_shard(folder, [lite0], f"{k}/3", tmp_path / "parts", progress=False)
    merge_results([tmp_path / "parts"], report=False)
    local = (tmp_path / "local" / "trials.csv").read_bytes()
    assert local.count(b"\n") == 289
    for other in ("ray", "parts"):
        assert (tmp_path / other / "trials.csv").read_bytes() == local
        assert (tmp_path / other / "summary.json").read_bytes() == (tmp_path / "local" / "summary.json").read_bytes()
    assert not (tmp_path / "parts" / "eval-shards").exists()
    # the shard-built set decides exactly like the local one
    write_evaluation(evaluate_set(flagship["shards"], [lite0], progress=False), tmp_path / "of-shards", report=False)
    assert (tmp_path / "of-shards" / "trials.csv").read_bytes() == local


@pytest.mark.slow
def test_ray_build_survives_a_killed_worker(ray_local, tiny: Path, tmp_path: Path) -> None:
    """Ray re-runs a range whose worker died: no item is lost or written twice."""
    import psutil

    text = TINY.replace("repeat: 2", "repeat: 40").replace("size: 40", "size: 96")  # 240 items
    recipe = tiny.with_name("longer.yaml")
    recipe.write_text(text, encoding="utf-8")
    ref = build_recipe(recipe, tmp_path / "ref", progress=False)
    killed: list[int] = []

    def kill_one() -> None:
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            for proc in psutil.process_iter(["pid", "cmdline"]):
                running = any("foolbox_lite_build_range" in part for part in (proc.info["cmdline"] or []))
                if running and len(list((tmp_path / "ray" / "images").glob("*.png"))) >= 20:
                    os.kill(proc.info["pid"], signal.SIGKILL)
                    killed.append(proc.info["pid"])
                    return
            time.sleep(0.02)

    t = threading.Thread(target=kill_one)
    t.start()
    build_on_ray(recipe, tmp_path / "ray", progress=False, range_size=60, batch_size=4)
    t.join()
    assert killed, "no build worker was seen to kill"
    import ray

    _same_set(ref, tmp_path / "ray", {"name": "ray", "ray": ray.__version__})


@pytest.mark.slow
def test_ray_build_interrupted_then_resumed_locally(tiny: Path, tmp_path: Path) -> None:
    """Ctrl-C stops a Ray build cleanly (exit 130, no manifest.jsonl) and a local --resume completes it."""
    text = TINY.replace("repeat: 2", "repeat: 60").replace("size: 40", "size: 96")  # 360 items
    recipe = tiny.with_name("longer.yaml")
    recipe.write_text(text, encoding="utf-8")
    out = tmp_path / "ray"
    env = dict(os.environ, RAY_ADDRESS="")
    cmd = [sys.executable, "-m", "foolbox_lite", "build", str(recipe), "-o", str(out), "--engine", "ray", "--batch-size", "4", "-q"]
    # a shell's background job ignores SIGINT, and Python then never raises KeyboardInterrupt: restore it
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        partial = out / "manifest.jsonl.partial"
        if partial.is_file() and partial.stat().st_size > 0:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the build finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err, err[-3000:]
    assert not (out / "manifest.jsonl").exists()
    done = len((out / "manifest.jsonl.partial").read_text().splitlines())
    assert 0 < done < 360
    build_recipe(recipe, out, resume=True, progress=False)
    _same_set(build_recipe(recipe, tmp_path / "ref", progress=False), out, None)
