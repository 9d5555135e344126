"""``foolbox-lite noise-threshold``: the smallest random noise that changes each decision, and accuracy vs noise."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import typer

from .options import DEVICE_HELP, complete_device

#: Largest noise level accepted: a std of 10 already turns every image into noise.
MAX_LEVEL = 10.0


def _floats(text: str, what: str) -> list[float]:
    from ..errors import ParameterError, short_repr

    try:
        vals = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ParameterError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not vals or any(not math.isfinite(v) or v < 0 or v > MAX_LEVEL for v in vals):
        raise ParameterError(f"{what} must be numbers in [0, {MAX_LEVEL:g}], got {short_repr(text)}", hint="levels are noise std in [0, 1] pixel units (a fraction of pixels for salt_pepper)")
    return vals


def _csv(rows: list[dict[str, object]], fields: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
    return buf.getvalue()


def _plot(curve: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..files import atomic_write_bytes

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for kind in dict.fromkeys(str(r["kind"]) for r in curve):
        pts = [r for r in curve if r["kind"] == kind]
        key = "accuracy" if all(r["accuracy"] is not None for r in pts) else "unchanged"
        ax.plot([r["level"] for r in pts], [r[key] for r in pts], marker="o", label=f"{kind} ({key})")
    ax.set_xlabel("noise level (std; fraction of pixels for salt_pepper)")
    ax.set_ylabel("fraction")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def register(app: typer.Typer) -> None:
    @app.command("noise-threshold")
    def noise_threshold(
        images: Path = typer.Option(..., "--images", help="Folder of images (or a stimulus set)."),
        out: Path = typer.Option(..., "-o", "--out", help="Output folder: thresholds.csv, curve.csv, summary.json, curve.png."),
        model: str = typer.Option("efficientnet_lite0", "--model", "-m", help="Classifier name."),
        kinds: str = typer.Option("gaussian,uniform,salt_pepper", help="Noise kinds, comma-separated."),
        steps: int = typer.Option(10, help="Bisection steps (resolution max_level / 2**steps)."),
        levels: str = typer.Option("0,0.02,0.05,0.1,0.2,0.3,0.5", help="Noise levels of the accuracy curve."),
        seed: int = typer.Option(0, help="Seed of the per-image noise patterns."),
        limit: int | None = typer.Option(None, help="Use only the first LIMIT images (sorted by name)."),
        batch_size: int = typer.Option(64, "--batch-size", "-b", min=1),
        threads: int | None = typer.Option(None, help="CPU threads for torch."),
        plot: bool = typer.Option(True, "--plot/--no-plot", help="Write curve.png."),
        device: str = typer.Option("auto", "--device", help=DEVICE_HELP, autocompletion=complete_device),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (same as --no-progress)."),
        allow_torchscript: bool = typer.Option(False, "--allow-torchscript", help="Load a TorchScript model file (it runs its own code)."),
    ) -> None:
        """For each image, the smallest Gaussian / uniform / salt-and-pepper noise that changes its decision."""
        import torch

        from ..assets.folder import load_image_folder
        from ..attacks._model import prepare_classifier
        from ..attacks.noise_threshold import NOISE_KINDS, accuracy_curve, noise_thresholds
        from ..classifiers import load_classifier
        from ..errors import ParameterError
        from ..files import atomic_write_text
        from ..stimulus_set.folder_lock import check_writable

        kind_list = [k.strip() for k in kinds.split(",") if k.strip()]
        bad = [k for k in kind_list if k not in NOISE_KINDS]
        if bad or not kind_list:
            raise ParameterError(f"--kinds has unknown noise kinds {bad or kinds!r}", hint=f"use some of {', '.join(NOISE_KINDS)}")
        level_list = _floats(levels, "--levels")
        if steps < 1 or steps > 40:
            raise ParameterError(f"--steps must be in [1, 40], got {steps}")
        if threads is not None:
            torch.set_num_threads(max(1, threads))
        from ..evaluator.run import resolve_device

        progress = progress and not quiet
        check_writable(out)  # a file or read-only OUT fails here, before any inference
        clf = load_classifier(model, allow_torchscript=allow_torchscript).to(resolve_device(device))
        fast = prepare_classifier(clf)
        data = load_image_folder(images, clf.input_size, limit=limit, progress=progress)
        rows: list[dict[str, object]] = [
            {"file": f, "label": int(lab), "clean_prediction": None} for f, lab in zip(data.files, data.labels.tolist())
        ]
        summary: dict[str, object] = {"model": clf.name, "images": str(images), "n": len(data), "seed": seed, "steps": steps, "kinds": {}}
        curve: list[dict[str, object]] = []
        for kind in kind_list:
            res = noise_thresholds(fast, data.images, kind, seed=seed, steps=steps, batch_size=batch_size, progress=progress)
            for r, t, c in zip(rows, res.thresholds.tolist(), res.clean.tolist()):
                r[kind] = None if math.isnan(t) else round(t, 6)
                r["clean_prediction"] = int(c)
            summary["kinds"][kind] = {"median_threshold": None if math.isnan(res.median()) else res.median(), "changed_fraction": res.changed_fraction(), "max_level": res.max_level}  # type: ignore[index]
            curve += accuracy_curve(fast, data.images, [v for v in level_list if kind != "salt_pepper" or v <= 1], kind, labels=data.labels, seed=seed, batch_size=batch_size, progress=progress)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "thresholds.csv", _csv(rows, ["file", "label", "clean_prediction", *kind_list]))
        atomic_write_text(out / "curve.csv", _csv(curve, ["kind", "level", "accuracy", "unchanged"]))  # type: ignore[arg-type]
        summary["curve"] = curve
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
        if plot:
            _plot(curve, out / "curve.png")  # type: ignore[arg-type]
        typer.echo(json.dumps({k: summary[k] for k in ("model", "n", "kinds")}))
