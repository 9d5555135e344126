"""The evaluator's images/s against a bare ``model(batch)`` loop on the same preloaded tensors.

    python benchmarks/evaluate.py [--n 64] [--batch-sizes 16 32 64] [--repeats 3] [--channels-last both]

Writes a small set of ImageNet photos from ../shared (224x224 PNGs) to a temporary
folder, then for each batch size measures, interleaved so that load from other
processes hits all three alike:

- ``bare``: ``model(x[i:i+bs])`` over preloaded, already normalised float tensors;
- ``evaluator-mem``: the evaluator's inference path (uint8 -> reused normalised buffer ->
  model -> decisions) over the same images preloaded as uint8;
- ``evaluator-disk``: ``evaluate_set`` end to end (manifest, sha256 check, PNG decoding in a
  background thread, decisions, cue attribution).

Prints the median images/s with the spread and the overhead relative to ``bare``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def make_set(folder: Path, n: int) -> Path:
    import foolbox_lite as fl
    from foolbox_lite.stimulus_set import ManifestEntry, SetInfo, manifest_line, sha256_file, write_set_info

    shared = Path(os.environ.get("FOOLBOX_LITE_SHARED", ROOT.parent / "shared")) / "data" / "imagenet-samples"
    files = sorted(shared.glob("*.JPEG"))
    if not files:
        sys.exit(f"no ImageNet samples under {shared}")
    files = files[:: max(1, len(files) // n)][:n]
    lines = []
    for i, f in enumerate(files):
        wnid = f.name.split("_")[0]
        p = fl.save_image(fl.load_image(f, 224, "crop"), folder / "images" / f"{i:04d}_{wnid}.png")
        lines.append(manifest_line(ManifestEntry(id=p.stem, file=f"images/{p.name}", sha256=sha256_file(p), seed=0, index=i, cues={"shape": wnid})))
    (folder / "manifest.jsonl").write_text("".join(lines))
    write_set_info(folder, SetInfo(name="bench", cues=["shape"], n=len(lines)))
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels-last", choices=["off", "on", "both"], default="off")
    ap.add_argument("--no-equalise", action="store_true", help="do not give the bare loop the helper-thread OpenMP state (see source)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from foolbox_lite.assets.io import read_pil
    from foolbox_lite.classifiers import load_classifier
    from foolbox_lite.evaluator import decisions, run
    from foolbox_lite.stimulus_set import read_manifest

    clf = load_classifier("efficientnet_lite0")
    if not args.no_equalise:
        # The evaluator decodes in a helper thread that runs torch ops; a second OpenMP team makes
        # libgomp throttle its spin-waiting, which on an oversubscribed machine alone speeds the
        # model up 2-3x.  Give the bare loop the same runtime state so that only our code differs.
        from concurrent.futures import ThreadPoolExecutor

        # (the thread must stay alive: the effect ends when it exits)
        keep = ThreadPoolExecutor(1, thread_name_prefix="omp-state")
        keep.submit(lambda: torch.ones(1 << 20).mul(2).sum()).result()  # large enough to run in parallel
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_set(Path(tmp) / "set", args.n)
        entries = read_manifest(folder)
        import numpy as np

        u8 = torch.stack([torch.from_numpy(np.array(read_pil(folder / e.file).convert("RGB"))).permute(2, 0, 1) for e in entries])
        x = clf.preprocessing(u8.float() / 255.0)
        decider = decisions.make_decider(clf.labels)
        modes = {"off": [False], "on": [True], "both": [False, True]}[args.channels_last]
        print(f"lite0, {args.n} images 224x224, torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}")
        for cl in modes:
            run.CHANNELS_LAST = cl
            fmt = torch.channels_last if cl else torch.contiguous_format
            clf.model.to(memory_format=fmt)
            for bs in args.batch_sizes:
                xb = [x[i : i + bs].contiguous(memory_format=fmt) for i in range(0, len(x), bs)]
                ub = [u8[i : i + bs] for i in range(0, len(u8), bs)]

                def bare(xb: list[torch.Tensor] = xb) -> None:
                    with torch.inference_mode():
                        for b in xb:
                            clf.model(b)

                def mem(ub: list[torch.Tensor] = ub, bs: int = bs) -> None:
                    run.infer_batches([clf], [decider], ub, batch_size=bs)

                def disk(bs: int = bs) -> None:
                    run.evaluate_set(folder, [clf], batch_size=bs, progress=False)

                bare()  # warm-up
                rates: dict[str, list[float]] = {"bare": [], "evaluator-mem": [], "evaluator-disk": []}
                for _ in range(args.repeats):
                    for name, fn in (("bare", bare), ("evaluator-mem", mem), ("evaluator-disk", disk)):
                        t0 = time.perf_counter()
                        fn()
                        rates[name].append(args.n / (time.perf_counter() - t0))
                ref = statistics.median(rates["bare"])
                for name, r in rates.items():
                    med = statistics.median(r)
                    print(f"channels_last={cl} bs={bs} {name:15s} {med:6.1f} img/s [{min(r):.1f}-{max(r):.1f}]  vs bare {100 * (med / ref - 1):+.1f}%", flush=True)


if __name__ == "__main__":
    main()
