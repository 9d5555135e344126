"""Do the procedural textures carry their ImageNet class?

For every procedural texture of the asset bank, render it full frame at 224x224
for several seeds, classify with the offline EfficientNet-Lite0 (inputs scaled as
``(x * 255 - 127) / 128``) and print: the intended class (the manifest's wnid),
the top-1 rate over the seeds, the median rank of the intended class, and the
top-5 classes of the mean softmax over the seeds.

    python benchmarks/texture_classes.py --seeds 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

from foolbox_lite.assets.bank import get_asset, list_assets
from foolbox_lite.classifiers import load_classifier


def texture_table(names: list[str], seeds: int, size: int = 224) -> list[dict[str, object]]:
    """One row per texture: intended class, top-1 rate, ranks, top-5 of the mean softmax."""
    clf = load_classifier("efficientnet_lite0")
    labels = clf.labels
    rows = []
    for name in names:
        a = get_asset(name)
        x = torch.stack([a.image(size, seed=s) for s in range(seeds)])
        with torch.no_grad():
            p = clf(x).softmax(1)
        mean = p.mean(0)
        top5 = [(labels.names[i], float(mean[i])) for i in mean.topk(5).indices.tolist()]
        row: dict[str, object] = {"name": name, "intended": a.label or "-", "top5": top5}
        if a.wnid is not None:
            k = labels.index(a.wnid)
            ranks = [int((p[i] > p[i, k]).sum()) + 1 for i in range(seeds)]
            row.update(top1=sum(r == 1 for r in ranks) / seeds, median_rank=statistics.median(ranks), ranks=ranks)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--only", nargs="*", help="asset names (default: every procedural asset of --kind)")
    ap.add_argument("--kind", default="texture", choices=["texture", "background"], help="which procedural assets to check")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    names = args.only or [n for n in list_assets(args.kind) if get_asset(n).source_kind in ("procedural", "background")]
    t0 = time.perf_counter()
    rows = texture_table(names, args.seeds)
    print(f"EfficientNet-Lite0, 224x224 full-frame {args.kind}s, {args.seeds} seeds each ({time.perf_counter() - t0:.1f} s)")
    print(f"{args.kind:12s} {'intended class':16s} {'top-1':>6s} {'median rank':>11s}  top-5 of the mean softmax")
    for r in rows:
        top1 = f"{r['top1']:.0%}" if "top1" in r else "-"
        med = f"{r['median_rank']:g}" if "median_rank" in r else "-"
        top5 = ", ".join(f"{n} {p:.2f}" for n, p in r["top5"])  # type: ignore[union-attr]
        print(f"{r['name']:12s} {r['intended']:16s} {top1:>6s} {med:>11s}  {top5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
