"""Benchmark: universal perturbation of EfficientNet-Lite0 at L-inf 10/255, held-out fooling rate vs wall time.

Fits on a seeded split of ``../shared/data/imagenet-samples`` (default 256 images)
and measures the fooling rate on the other images after every epoch, beside
random sign noise of the same norm and (``--art``) the Adversarial Robustness
Toolbox's ``UniversalPerturbation`` (FGSM attacker) given the same fit images::

    python benchmarks/uap.py --minutes 10 --art            # the full run (~20 min)
    python benchmarks/uap.py --minutes 1 --n-fit 64 --quick  # a smoke run

ART is not a dependency of foolbox-lite: ``pip install --no-deps adversarial-robustness-toolbox scikit-learn``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from foolbox_lite.assets.folder import load_image_folder
from foolbox_lite.attacks import Augment, Budget, fit_uap_sgd, fooling_rate, random_perturbation
from foolbox_lite.attacks._model import prepare_classifier
from foolbox_lite.classifiers import load_classifier


def _shared() -> Path:
    env = os.environ.get("FOOLBOX_LITE_SHARED")
    return Path(env) if env else ROOT.parent / "shared"


def run_art(fast, fit_images: torch.Tensor, eps: float, max_iter: int, batch_size: int) -> tuple[torch.Tensor, float]:
    """ART's UniversalPerturbation (FGSM attacker, L-inf) on the same images; returns (noise, seconds)."""
    import numpy as np
    from art.attacks.evasion import UniversalPerturbation
    from art.estimators.classification import PyTorchClassifier

    class Wrapped(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return fast(x)

    est = PyTorchClassifier(
        model=Wrapped(), loss=torch.nn.CrossEntropyLoss(), input_shape=(3, *fast.input_size), nb_classes=1000, clip_values=(0.0, 1.0), device_type="cpu"
    )
    attack = UniversalPerturbation(
        est, attacker="fgsm", attacker_params={"eps": eps, "norm": np.inf}, delta=0.2, max_iter=max_iter, eps=eps, norm=np.inf, batch_size=batch_size, verbose=True
    )
    t0 = time.perf_counter()
    attack.generate(fit_images.numpy())
    secs = time.perf_counter() - t0
    return torch.from_numpy(np.asarray(attack.noise, dtype=np.float32)).reshape(1, 3, *fast.input_size), secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, default=_shared() / "data" / "imagenet-samples")
    ap.add_argument("--n-fit", type=int, default=256)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.2)
    ap.add_argument("--lr-final", type=float, default=0.02)
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--art", action="store_true", help="also run ART's UniversalPerturbation on the same fit images")
    ap.add_argument("--art-iters", type=int, default=10)
    ap.add_argument("--art-n", type=int, default=None, help="give ART only the first N fit images (default: all)")
    ap.add_argument("--quick", action="store_true", help="evaluate only at the end")
    ap.add_argument("--no-ours", action="store_true", help="skip the foolbox-lite fit (e.g. to run only ART)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    t = time.perf_counter()
    data = load_image_folder(args.images, 224)
    fit, held = data.split(args.n_fit, seed=args.seed)
    print(f"loaded {len(data)} images in {time.perf_counter() - t:.1f}s: fit {len(fit)}, held-out {len(held)}; threads {args.threads}", flush=True)
    clf = load_classifier("efficientnet_lite0")
    fast = prepare_classifier(clf)
    budget = Budget.make("linf", "10/255")
    t = time.perf_counter()
    clean_held = fast.predict(held.images)
    fwd_ips = len(held) / (time.perf_counter() - t)
    acc = float((clean_held == held.labels).float().mean())
    print(f"held-out clean accuracy {acc:.3f}; forward {fwd_ips:.1f} img/s", flush=True)

    rnd = random_perturbation((1, 3, 224, 224), "linf", budget.eps, seed=args.seed)
    rnd_rate = fooling_rate(fast, held.images, rnd, clean_predictions=clean_held).fooling_rate
    rows = []

    def on_epoch(rec: dict[str, float], delta: torch.Tensor) -> None:
        held_rate = None
        if not args.quick:
            held_rate = fooling_rate(fast, held.images, delta, clean_predictions=clean_held).fooling_rate
        rows.append({**rec, "heldout_fooling_rate": held_rate})
        hr = f"{held_rate:.3f}" if held_rate is not None else "-"
        print(f"  epoch {int(rec['epoch']):3d}  fit-time {rec['seconds']:7.1f}s  running fooling {rec['running_fooling_rate']:.3f}  held-out {hr}", flush=True)

    out: dict = {"n_fit": len(fit), "n_heldout": len(held), "threads": args.threads, "forward_img_s": fwd_ips, "clean_accuracy": acc, "random_sign_fooling_rate": rnd_rate}
    res = final = None
    ours_per_min = 0.0
    if not args.no_ours:
        res = fit_uap_sgd(
            fast, fit.images, budget, batch_size=args.batch_size, lr=args.lr, lr_final=args.lr_final, epochs=None, max_seconds=args.minutes * 60,
            augment=None if args.no_augment else Augment(), seed=args.seed, progress=False, on_epoch=on_epoch,
        )
        final = fooling_rate(fast, held.images, res.delta, labels=held.labels, clean_predictions=clean_held)
        grads = res.steps * args.batch_size
        ours_per_min = final.fooling_rate / (res.seconds / 60)
        print(f"ours: {res.steps} steps, {res.epochs} epochs, {grads / res.seconds:.1f} img/s fwd+bwd, stopped by {res.stopped}", flush=True)
        print(f"ours: linf {float(res.delta.abs().max()) * 255:.3f}/255", flush=True)
        out["ours"] = {"seconds": res.seconds, "epochs": res.epochs, "steps": res.steps, "fit_fooling_rate": res.fit_fooling_rate, **final.to_dict(), "per_minute": ours_per_min, "history": rows}
    if args.art:
        art_images = fit.images[: args.art_n] if args.art_n else fit.images
        print(f"ART on {len(art_images)} images, {args.art_iters} iterations...", flush=True)
        noise, secs = run_art(fast, art_images, budget.eps, args.art_iters, args.batch_size)
        art = fooling_rate(fast, held.images, noise, labels=held.labels, clean_predictions=clean_held)
        out["art"] = {"seconds": secs, "max_iter": args.art_iters, "n_fit": len(art_images), **art.to_dict(), "per_minute": art.fooling_rate / (secs / 60)}

    print()
    print(f"| method (L-inf 10/255, fit {len(fit)}, held-out {len(held)}) | wall s | held-out fooling | acc drop | fooling/min |")
    print("|---|---:|---:|---:|---:|")
    print(f"| random sign noise | - | {rnd_rate:.3f} | - | - |")
    if res is not None and final is not None:
        print(f"| foolbox-lite sgd ({res.epochs} epochs, bs {args.batch_size}) | {res.seconds:.0f} | {final.fooling_rate:.3f} | {final.accuracy_drop:.3f} | {ours_per_min:.3f} |")
    if "art" in out:
        a = out["art"]
        print(f"| ART UniversalPerturbation fgsm ({a['n_fit']} images, {args.art_iters} iters) | {a['seconds']:.0f} | {a['fooling_rate']:.3f} | {a['accuracy_drop']:.3f} | {a['per_minute']:.3f} |")
        if a["per_minute"] > 0 and res is not None:
            print(f"\nfooling rate per minute: {ours_per_min / a['per_minute']:.1f}x ART")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
