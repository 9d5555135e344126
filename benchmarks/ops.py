"""Operator throughput against the fastest per-image CPU peer, one line per operator.

    python benchmarks/ops.py [--quick] [--device cuda] [--only NAME]

Prints ``op=<name> ours=<img/s> peer=<name>:<img/s> ratio=<ours/peer>`` for a batch
of 64 224x224 images (medians of timed runs of ours and the peer taken turn about), with the spreads and, on the CPU, two bytes-moved limits: the images/s at
which a float32 operator that only reads its input planes and writes its output planes once
would run.  ``bytes_limit`` is computed from the out-of-cache copy bandwidth (``of_limit`` = ours
/ that limit); ``copy_limit`` is a plain copy of the same planes of the same batch, timed in the
same run, so it sees the caches the operator sees (``of_copy`` = ours / that).  A uint8 peer
moves a quarter of those bytes, so a float32 operator cannot reach it when ``copy_limit`` is
below the peer's rate: ``bar`` = ours / (0.5 x the lower of the two), and ``bar >= 1`` meets the
issue's bar (ratio >= 0.5, or within 2x of the bytes-moved limit).  The process tunes the allocator at start-up, as
the command line does.  Each operator family contributes its cases from a module
``benchmarks/opcases_<family>.py`` exposing ``cases(images, masks, device) -> list[Case]``
(images ``(64, 3, 224, 224)`` float32 in [0, 1] on ``device``, masks ``(64, 1, 224, 224)``;
peers get numpy uint8 HWC copies through :func:`numpy_batch`).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads libgomp, as `import foolbox_lite` does

import argparse
import importlib
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import copy_bandwidth, report

from foolbox_lite.allocator import tune_allocator
from foolbox_lite.assets.synthetic import disc_scene

FAMILIES = ("color", "geometry", "composite", "noise", "structure", "perturbation", "texture")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats: 5 instead of 7 (under 2 minutes on 2 cores)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--only", default=None, help="run only cases whose name contains this")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's; builds use 1)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = 5 if args.quick else 7
    tune_allocator()
    images, masks = disc_scene(args.batch, 224)
    images, masks = images.to(args.device), masks.to(args.device)
    bandwidth = copy_bandwidth() if args.device == "cpu" else None
    print(f"# batch={args.batch} size=224 device={args.device} threads={torch.get_num_threads()} torch={torch.__version__}"
          + (f" copy_bandwidth={bandwidth / 1e9:.1f}GB/s" if bandwidth else ""))
    t0 = time.perf_counter()
    for fam in FAMILIES:
        path = Path(__file__).with_name(f"opcases_{fam}.py")
        if not path.exists():
            print(f"# family {fam}: no benchmark cases yet")
            continue
        mod = importlib.import_module(f"opcases_{fam}")
        for case in mod.cases(images, masks, args.device):
            if args.only and args.only not in case.name:
                continue
            print(report(case, args.batch, repeats, bandwidth=bandwidth), flush=True)
    print(f"# total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
