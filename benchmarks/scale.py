"""The Ray engine's overhead: images/s of ``--engine ray`` against a local run on the same cores.

    python benchmarks/scale.py [--n 672] [--eval-n 1008] [--cores 1 2] [--what build evaluate driver]

Every measurement runs in a fresh process pinned (``sched_setaffinity``) to ``k`` cores,
and a Ray run's whole local instance (driver, raylet, workers) inherits that pinning, so
both sides get exactly the same cores:

- build: the flagship ``zebra-toilet-seat`` with ``repeat`` raised to ``n`` items (each with
  its control twins, so 3n images; rates are per image); local is
  ``build_recipe`` (one torch thread, ``k - 1`` PNG writer threads), Ray is ``build_on_ray``
  on ``ray.init(num_cpus=k)`` (``k`` tasks at a time);
- evaluate: EfficientNet-Lite0 over the first ``eval-n`` images of that set; local is
  ``evaluate_set`` with ``k`` torch threads, Ray is ``evaluate_on_ray`` with ``k``
  one-CPU replicas;
- driver: what the Ray driver spends per item (ordering and writing a manifest line),
  and what ``merge`` spends per item (hash check and copy of a flagship image).

Times include resolving the recipe / loading the set and models, not starting Ray
(printed separately).  Prints images/s and the ratio ray/local (1.00 = no overhead).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def flagship(n: int, tmp: Path) -> Path:
    raw = yaml.safe_load((ROOT / "recipes" / "zebra-toilet-seat.yaml").read_text())
    cells = 1
    for v in raw["design"]["cross"].values():
        cells *= len(v) if isinstance(v, list) else 1
    raw["design"]["repeat"] = max(1, n // cells)
    p = tmp / f"flagship-{n}.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


def _one(kind: str, cores: int, recipe: Path, out: Path, eval_n: int) -> dict[str, float]:
    """One measurement in this (pinned) process."""
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))
    ray_init = 0.0
    if kind.endswith("ray"):
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=cores, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        ray_init = time.perf_counter() - t0
    t0 = time.perf_counter()
    if kind == "build-local":
        from foolbox_lite.recipes.build import build_recipe

        build_recipe(recipe, out, workers=cores - 1, force=True, progress=False)
        n = len((out / "manifest.jsonl").read_text().splitlines())
    elif kind == "build-ray":
        from foolbox_lite.scale import build_on_ray

        build_on_ray(recipe, out, force=True, progress=False)
        n = len((out / "manifest.jsonl").read_text().splitlines())
    else:
        import torch

        sub = _subset(out, eval_n)
        if kind == "evaluate-local":
            from foolbox_lite.evaluator.run import evaluate_set

            torch.set_num_threads(cores)
            t0 = time.perf_counter()
            n = len(evaluate_set(sub, ["efficientnet_lite0"], progress=False).set.entries)
        else:
            from foolbox_lite.scale import evaluate_on_ray

            t0 = time.perf_counter()
            n = len(evaluate_on_ray(sub, ["efficientnet_lite0"], replicas=cores, cpus_per_replica=1, progress=False).set.entries)
    return {"seconds": time.perf_counter() - t0, "images": n, "ray_init": ray_init}


def _subset(folder: Path, n: int) -> Path:
    """A set of the first ``n`` items of ``folder`` (the same files, hard-linked: a set never reads through links out of itself)."""
    sub = folder.with_name(folder.name + f"-first{n}")
    if not (sub / "manifest.jsonl").is_file():
        sub.mkdir(exist_ok=True)
        info = json.loads((folder / "set.json").read_text())
        lines = (folder / "manifest.jsonl").read_text().splitlines(keepends=True)[:n]
        for line in lines:
            entry = json.loads(line)
            for rel in [entry["file"], *(layer["file"] for layer in entry.get("layers", {}).values())]:
                (sub / rel).parent.mkdir(parents=True, exist_ok=True)
                if not (sub / rel).exists():
                    os.link(folder / rel, sub / rel)
        (sub / "set.json").write_text(json.dumps(info | {"n": len(lines)}))
        (sub / "manifest.jsonl").write_text("".join(lines))
    return sub


def measure(kind: str, cores: int, recipe: Path, out: Path, eval_n: int) -> dict[str, float]:
    code = ["--one", kind, "--cores-one", str(cores), "--recipe", str(recipe), "--out", str(out), "--eval-n", str(eval_n)]
    env = dict(os.environ, RAY_ADDRESS="", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, __file__, *code], capture_output=True, text=True, env=env, timeout=590, check=False)
    if res.returncode != 0:
        raise SystemExit(f"{kind} on {cores} core(s) failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def driver_costs(folder: Path, n_lines: int = 200_000) -> None:
    """Per-item cost of the Ray driver's ordered manifest writing, and of merge's check-and-copy."""
    from foolbox_lite.scale.merge import _bring
    from foolbox_lite.stimulus_set.writer import OrderedSink

    line = (folder / "manifest.jsonl").read_text().splitlines(keepends=True)[0]
    with tempfile.TemporaryDirectory() as tmp:
        sink = OrderedSink(Path(tmp), n_lines)
        t0 = time.perf_counter()
        for i in range(n_lines):
            sink.submit_line(i, line)
            if i % 1000 == 999:
                sink.flush()
        sink.drain()
        per_line = (time.perf_counter() - t0) / n_lines
        imgs = sorted((folder / "images").glob("*.png"))[:300]
        shas = {p: __import__("hashlib").sha256(p.read_bytes()).hexdigest() for p in imgs}
        t0 = time.perf_counter()
        for p in imgs:
            _bring(p, Path(tmp) / p.name, shas[p], "bench")
        per_copy = (time.perf_counter() - t0) / len(imgs)
    size = sum(p.stat().st_size for p in imgs) / len(imgs)
    print(f"driver: {per_line * 1e6:.1f} us per manifest line ({len(line)} bytes) -> {per_line * 1.28e6:.1f} s of driver time for 1.28M items")
    print(f"merge: {per_copy * 1e3:.2f} ms per image checked and copied ({size / 1024:.0f} KiB) -> {per_copy * 1.28e6 / 60:.0f} min for 1.28M items")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=672, help="items (x3 images with the control twins)")
    ap.add_argument("--eval-n", type=int, default=1008)
    ap.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--what", nargs="+", default=["build", "evaluate", "driver"], choices=["build", "evaluate", "driver"])
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--cores-one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--recipe", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.cores_one, args.recipe, args.out, args.eval_n)))
        return
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        recipe = flagship(args.n, tmp)
        base = tmp / "set"
        print(f"flagship zebra-toilet-seat, {args.n} items (with control twins); {os.cpu_count()} cores on this machine (shared: timings are noisy)")
        for what in [w for w in args.what if w != "driver"]:
            for k in args.cores:
                res = {}
                for engine in ("local", "ray"):
                    out = base if (what == "build" and engine == "local") or what == "evaluate" else tmp / f"{what}-{engine}-{k}"
                    if what == "evaluate" and not (base / "manifest.jsonl").is_file():
                        measure("build-local", max(args.cores), recipe, base, args.eval_n)
                    res[engine] = measure(f"{what}-{engine}", k, recipe, out, args.eval_n)
                loc, ray_ = (r["images"] / r["seconds"] for r in (res["local"], res["ray"]))
                print(f"{what:8s} {k} core(s): local {loc:6.1f} img/s, ray {ray_:6.1f} img/s ({res['ray']['images']} images), "
                      f"ray/local {ray_ / loc:.2f}  [ray.init {res['ray']['ray_init']:.1f} s, not counted]", flush=True)
        if "driver" in args.what:
            if not (base / "manifest.jsonl").is_file():
                measure("build-local", max(args.cores), recipe, base, args.eval_n)
            driver_costs(base)


if __name__ == "__main__":
    main()
