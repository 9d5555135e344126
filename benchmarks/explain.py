"""Images/s of each explanation method for EfficientNet-Lite0 at 224x224, against one plain forward pass.

    python benchmarks/explain.py [--n 4] [--repeats 2] [--methods occlusion grad-cam ...]

Every method runs on the same ``n`` images (seeded noise-free photos are not needed: the cost
does not depend on content) with its default options (occlusion and patch evidence: 56-px
windows, stride 28 = 49 windows; integrated gradients: 32 steps); the baseline is
``model(x)`` on the same batch under ``torch.inference_mode``.  Methods and the baseline are
interleaved per repeat so that load from other processes hits all alike.  Prints the median
images/s, the spread (min-max) and the cost of each method in forward passes per image.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def main() -> None:
    from foolbox_lite.classifiers import load_classifier
    from foolbox_lite.explain import METHODS, MethodOptions, ScoreModel, attribute

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4, help="images per measurement")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--methods", nargs="*", default=list(METHODS))
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = ScoreModel(load_classifier("efficientnet_lite0")).eval()
    x = torch.rand(a.n, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    t = torch.full((a.n,), 340, dtype=torch.long)  # zebra
    opts = MethodOptions()
    rates: dict[str, list[float]] = {"forward (baseline)": []}
    rates.update({m: [] for m in a.methods})
    with torch.inference_mode():
        model(x)  # warm-up
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        with torch.inference_mode():
            model(x)
        rates["forward (baseline)"].append(a.n / (time.perf_counter() - t0))
        for m in a.methods:
            t0 = time.perf_counter()
            attribute(model, m, x, t, opts)
            rates[m].append(a.n / (time.perf_counter() - t0))
    base = statistics.median(rates["forward (baseline)"])
    print(f"EfficientNet-Lite0, 224x224, {a.n} images, {a.repeats} repeats, {a.threads} torch threads")
    print(f"{'method':24s} {'images/s':>9s} {'spread':>15s} {'forward passes/image':>21s}")
    for m, r in rates.items():
        med = statistics.median(r)
        print(f"{m:24s} {med:9.3f} {min(r):7.3f}-{max(r):<7.3f} {base / med:21.1f}")


if __name__ == "__main__":
    main()
