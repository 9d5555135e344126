"""Images/s of the quilting texture transfer (``texture_quilt``).

    python benchmarks/quilting.py [--device cuda] [--batch 16] [--size 224] [--repeats 3] [--threads N] [--only-default]

Prints one line per setting: ``quilt patch=P overlap=O stride=S tex=T img/s=<median> spread=[lo-hi]``
for a batch of masked 224x224 scenes (shaded discs) and a 96x96 (default) texture.
There is no per-image peer doing the same thing in OpenCV; the reference point is the
paper's own timing of minutes per image.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import rate
from opcases_texture import bench_texture

import foolbox_lite as fl
from foolbox_lite.assets.synthetic import disc_scene
from foolbox_lite.operators.texture_transfer import QuiltTransfer

SETTINGS = (
    {"patch": 12, "overlap": 3, "stride": 2, "max_texture_side": 96},  # the defaults
    {"patch": 16, "overlap": 4, "stride": 2, "max_texture_side": 96},
    {"patch": 8, "overlap": 2, "stride": 2, "max_texture_side": 64},
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--only-default", action="store_true", help="time the default setting only")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    images, masks = disc_scene(args.batch, args.size)
    stim = fl.Stimuli.from_tensor(images.to(args.device), masks.to(args.device))
    tex = bench_texture()
    print(f"# batch={args.batch} size={args.size} device={args.device} threads={torch.get_num_threads()} torch={torch.__version__}")
    t0 = time.perf_counter()
    for s in SETTINGS[:1] if args.only_default else SETTINGS:
        op = QuiltTransfer(tex, **s)

        def run(op: QuiltTransfer = op) -> None:
            with torch.inference_mode():
                op(stim)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()

        r = rate(run, args.batch, repeats=args.repeats, warmup=1, min_time=0.0)
        print(f"quilt patch={s['patch']} overlap={s['overlap']} stride={s['stride']} tex={s['max_texture_side']} "
              f"img/s={r.median:.1f} spread=[{r.low:.1f}-{r.high:.1f}]", flush=True)
    print(f"# total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
