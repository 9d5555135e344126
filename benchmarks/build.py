"""End-to-end build speed and memory: ``foolbox-lite build`` against a per-image PIL script.

For ``cue-conflict-16`` (needs ../shared) and the flagship ``zebra-toilet-seat``, the
recipe is turned into ``N`` random draws of its factors and built to disk; the peer is
the straightforward script a researcher writes today: a Python loop over images doing
the same work with PIL/numpy and ``Image.save`` per image (assets decoded once).

    python benchmarks/build.py                 # speed, N=256, the default writer threads (one per core)
    python benchmarks/build.py --workers 0 2   # one line per worker count
    python benchmarks/build.py --memory        # peak RSS for 1,000 vs 10,000 images (slow)
    python benchmarks/build.py --slow-create 0.9   # a disk that takes 0.9 ms per file creation

Prints ``recipe=<name> ours=<img/s> peer=<img/s> ratio=<ours/peer>`` per recipe (medians of
5 interleaved repeats), then the spreads, ``paired=`` (the median [min-max] of each repeat's
own ratio, which cancels load that slows both alike) and the start-up time (asset rendering,
pipeline construction, measured apart); timings on 2 shared cores are noisy.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads libgomp, as `import foolbox_lite` does

import argparse
import io
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FOOLBOX_LITE_SHARED", ROOT.parent / "shared"))


def variant(name: str, n: int, tmp: Path) -> Path:
    """The recipe as ``n`` random draws of its factors, paths made absolute."""
    text = (ROOT / "recipes" / f"{name}.yaml").read_text().replace("../../shared", str(SHARED))
    raw = yaml.safe_load(text)
    factors = raw["design"].pop("cross")
    raw["design"].pop("repeat", None)
    raw["design"]["random"] = factors
    raw["design"]["n"] = n
    raw.pop("controls", None)  # the peer makes the conflict images only: so do we, for a like-for-like rate
    p = tmp / f"{name}-{n}.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


def time_ours(recipe: Path, out: Path, *, workers: int, batch_size: int) -> float:
    from foolbox_lite.recipes.build import build_recipe

    t0 = time.perf_counter()
    build_recipe(recipe, out, workers=workers, batch_size=batch_size, force=True, progress=False)
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- peers (per-image PIL)


_slow_create_s = 0.0  # --slow-create: seconds every file creation waits, one at a time
_SLOW_LOCK = threading.Lock()


def _slow_create() -> None:
    if _slow_create_s:
        with _SLOW_LOCK:
            time.sleep(_slow_create_s)


def simulate_slow_disk(ms: float) -> None:
    """Make every file creation, ours and the peer's, wait ``ms`` one at a time: a disk whose file
    creations are slow and serialized (this machine's ext4 at busy moments took 0.4-0.9 ms)."""
    from foolbox_lite import files

    global _slow_create_s
    _slow_create_s = ms / 1000
    orig = files._open_temp

    def open_temp(p: Path) -> tuple[int, str]:
        _slow_create()
        return orig(p)

    files._open_temp = open_temp


def _save(im: Image.Image, path: Path) -> None:
    _slow_create()
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=6)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)


def peer_cue_conflict(n: int, out: Path, size: int = 224) -> float:
    sil = sorted((SHARED / "data/geirhos-shapes/filled-silhouettes").glob("*/*.png"))
    tex = sorted((SHARED / "data/imagenet-samples").glob("*.JPEG"))[:14]
    t0 = time.perf_counter()
    shapes = [Image.open(p).convert("L").resize((size, size), Image.BICUBIC) for p in sil]
    masks = [Image.eval(s, lambda v: 255 - v) for s in shapes]
    textures = []
    for p in tex:
        im = Image.open(p).convert("RGB")
        s = size / min(im.size)
        im = im.resize((max(size, round(im.width * s)), max(size, round(im.height * s))), Image.BICUBIC)
        left, top = (im.width - size) // 2, (im.height - size) // 2
        textures.append(im.crop((left, top, left + size, top + size)))
    white = Image.new("RGB", (size, size), (255, 255, 255))
    rng = np.random.default_rng(0)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        k, j = int(rng.integers(len(shapes))), int(rng.integers(len(textures)))
        _save(Image.composite(textures[j], white, masks[k]), out / f"{i:06d}.png")
    return time.perf_counter() - t0


def _perspective_coeffs(pitch: float, yaw: float, size: int) -> list[float]:
    """PIL PERSPECTIVE coefficients (output -> input) of a pinhole tilt about the centre."""
    f = size
    c = size / 2
    p, y = math.radians(pitch), math.radians(yaw)
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    r = ry @ rx
    k = np.array([[f, 0, c], [0, f, c], [0, 0, 1.0]])
    h = k @ np.column_stack([r[:, 0], r[:, 1], [0.0, 0.0, 1.0]]) @ np.linalg.inv(k)
    hinv = np.linalg.inv(h)
    hinv /= hinv[2, 2]
    return list(hinv.flatten()[:8])


def peer_flagship(n: int, out: Path, size: int = 224) -> float:
    from foolbox_lite.assets.bank import get_asset
    from foolbox_lite.assets.io import tensor_to_pil

    t0 = time.perf_counter()
    seat = get_asset("toilet_seat")
    mask = tensor_to_pil(seat.mask(size))
    zebra = tensor_to_pil(get_asset("zebra").image(size))
    scenes = [tensor_to_pil(get_asset(s).image(size)) for s in ("alp", "lakeside", "seashore", "valley")]
    white = Image.new("RGB", (size, size), (255, 255, 255))
    rng = np.random.default_rng(0)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        tile = zebra.rotate(float(rng.uniform(-20, 20)), resample=Image.BILINEAR, expand=False)
        obj = Image.composite(tile, white, mask)
        coeffs = _perspective_coeffs(float(rng.choice([0, 40, 60])), float(rng.uniform(-15, 15)), size)
        obj = obj.transform((size, size), Image.PERSPECTIVE, coeffs, Image.BILINEAR)
        m = mask.transform((size, size), Image.PERSPECTIVE, coeffs, Image.BILINEAR)
        angle = float(rng.choice([0, 45, 90, 135, 180, 225, 270, 315]))
        obj, m = obj.rotate(angle, Image.BILINEAR), m.rotate(angle, Image.BILINEAR)
        s = float(rng.uniform(0.75, 0.95))
        obj = obj.resize((round(size * s),) * 2, Image.BILINEAR)
        m = m.resize(obj.size, Image.BILINEAR)
        canvas = scenes[int(rng.integers(4))].copy()
        off = (size - obj.width) // 2
        canvas.paste(obj, (off, off), m)
        if rng.random() < 0.33:
            arr = np.asarray(canvas, dtype=np.float32) / 255 + rng.normal(0, rng.uniform(0.02, 0.08), (size, size, 3)).astype(np.float32)
            canvas = Image.fromarray((np.clip(arr, 0, 1) * 255).round().astype(np.uint8))
        _save(canvas, out / f"{i:06d}.png")
    return time.perf_counter() - t0


PEERS = {"cue-conflict-16": peer_cue_conflict, "zebra-toilet-seat": peer_flagship}


def _writers(w: int | None) -> int:
    from foolbox_lite.recipes.build import default_writers

    return default_writers() if w is None else w


def speed(names: list[str], n: int, repeats: int, batch_size: int, workers: list[int]) -> None:
    """One line per recipe and worker count: ``recipe=<name> ours=<img/s> peer=<img/s> ratio=<x>`` (medians, spreads after)."""
    import torch

    torch.set_num_threads(2)
    print(f"# build speed, {n} images at 224x224 written as PNG, {repeats} interleaved repeats (median, [min-max] img/s), "
          f"cpu threads={torch.get_num_threads()}, cpu count={os.cpu_count()}")
    for name in names:
        if name == "cue-conflict-16" and not (SHARED / "data").is_dir():
            print(f"# {name}: skipped (no ../shared)")
            continue
        with tempfile.TemporaryDirectory() as td:
            tmp = Path(td)
            start = time_ours(variant(name, 1, tmp), tmp / "warm", workers=0, batch_size=batch_size)
            rec = variant(name, n, tmp)
            ours: dict[int, list[float]] = {w: [] for w in workers}
            peer: list[float] = []
            for k in range(repeats):  # interleaved: load from other processes hits both alike
                for w in workers:  # a fresh folder per run: --force's clean-up is not part of the build
                    ours[w].append(n / time_ours(rec, tmp / f"o{w}-{k}", workers=w, batch_size=batch_size))
                peer.append(n / PEERS[name](n, tmp / f"peer-{k}"))
            p = statistics.median(peer)
            for w, r in ours.items():
                o = statistics.median(r)
                pairs = [a / b for a, b in zip(r, peer)]  # each repeat's ratio: both runs saw the same moment's load
                print(f"recipe={name} ours={o:.1f} peer={p:.1f} ratio={o / p:.2f} workers={_writers(w)} batch={batch_size} "
                      f"spread_ours=[{min(r):.1f}-{max(r):.1f}] spread_peer=[{min(peer):.1f}-{max(peer):.1f}] "
                      f"paired={statistics.median(pairs):.2f}[{min(pairs):.2f}-{max(pairs):.2f}] startup={start:.1f}s", flush=True)


def memory_child(name: str, n: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        t = time_ours(variant(name, n, tmp), tmp / "out", workers=workers, batch_size=32)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{name:18s} n={n:6d} workers={workers}: peak RSS {peak:7.1f} MiB, {n / t:6.1f} img/s")


def memory(names: list[str], sizes: list[int], workers: int) -> None:
    print("# peak memory (max RSS of a fresh process) against the number of images")
    for name in names:
        for n in sizes:
            subprocess.run([sys.executable, __file__, "--memory-child", name, str(n), str(workers)], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipes", nargs="*", default=["cue-conflict-16", "zebra-toilet-seat"])
    ap.add_argument("-n", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, nargs="*", default=[None], help="PNG writer threads (several: one line each; default: the build default, one per core up to 16)")
    ap.add_argument("--memory", action="store_true", help="measure peak RSS for --sizes images instead of speed")
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000])
    ap.add_argument("--memory-child", nargs=3, metavar=("RECIPE", "N", "WORKERS"), help=argparse.SUPPRESS)
    ap.add_argument("--slow-create", type=float, default=0.0, metavar="MS",
                    help="simulate a slow disk: each file creation (ours and the peer's) waits MS milliseconds, one at a time")
    a = ap.parse_args()
    if a.slow_create < 0:
        ap.error(f"--slow-create must be 0 or more milliseconds, got {a.slow_create}")
    if a.slow_create:
        simulate_slow_disk(a.slow_create)
    if a.memory_child:
        memory_child(a.memory_child[0], int(a.memory_child[1]), int(a.memory_child[2]))
    elif a.memory:
        memory(a.recipes, a.sizes, max(_writers(w) for w in a.workers))
    else:
        speed(a.recipes, a.n, a.repeats, a.batch_size, a.workers)


if __name__ == "__main__":
    main()
