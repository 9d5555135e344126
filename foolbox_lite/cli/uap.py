"""``foolbox-lite uap fit|eval``: fit a universal adversarial perturbation, and measure one."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .options import DEVICE_HELP, choice, complete_device

uap_app = typer.Typer(help="Universal adversarial perturbations: fit one for a classifier, or measure its fooling rate.", no_args_is_help=True)


def _threads(n: int | None) -> None:
    if n is not None:
        import torch

        if n < 1:
            from ..errors import ParameterError

            raise ParameterError(f"--threads must be at least 1, got {n}")
        torch.set_num_threads(n)


def _scale(eps_scale: str) -> float:
    from ..errors import ParameterError

    if eps_scale not in ("1", "255"):
        raise ParameterError(f"--eps-scale must be 1 or 255, got {eps_scale!r}", hint="1: eps in [0, 1] pixels (e.g. 0.04 or 10/255); 255: eps in 8-bit levels (e.g. 10)")
    return float(eps_scale)


@uap_app.command("fit")
def fit(
    images: Path = typer.Option(..., "--images", help="Folder of images (or a stimulus set) to fit on."),
    out: Path = typer.Option(..., "-o", "--out", help="Tensor file to write (FILE.pt; metadata goes to FILE.json; an existing folder DIR gets DIR/uap.pt)."),
    model: str = typer.Option("efficientnet_lite0", "--model", "-m", help="Classifier name."),
    norm: str = typer.Option("linf", help="Budget norm.", **choice(("linf", "l2"))),
    eps: str = typer.Option("10/255", help="Budget radius, e.g. 10/255 or 0.04 (see --eps-scale)."),
    eps_scale: str = typer.Option("1", "--eps-scale", help="Scale of a plain eps number: 1 ([0, 1] pixels) or 255 (8-bit levels)."),
    method: str = typer.Option("sgd", help="sgd (fast, default) or deepfool (the original algorithm).", **choice(("sgd", "deepfool"))),
    target: str | None = typer.Option(None, help="Target class (index, wnid or name) for a targeted perturbation."),
    epochs: int | None = typer.Option(10, help="Epoch limit (0 = none)."),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="Time limit in minutes."),
    target_fooling_rate: float | None = typer.Option(None, "--target-fooling-rate", help="Stop once the fooling rate on the fit images reaches this."),
    augment: bool = typer.Option(False, "--augment/--no-augment", help="Random crops and flips while fitting (sgd)."),
    batch_size: int = typer.Option(32, "--batch-size", "-b"),
    holdout: Path | None = typer.Option(None, help="Folder of held-out images to report the fooling rate on."),
    holdout_fraction: float = typer.Option(0.0, "--holdout-fraction", help="Keep this fraction of --images out of the fit (seeded split) to report on."),
    limit: int | None = typer.Option(None, help="Use only the first LIMIT images (sorted by name)."),
    seed: int = typer.Option(0, help="Seed of the minibatch order, augmentation and split."),
    threads: int | None = typer.Option(None, help="CPU threads for torch."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP, autocompletion=complete_device),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (same as --no-progress)."),
    allow_torchscript: bool = typer.Option(False, "--allow-torchscript", help="Load a TorchScript model file (it runs its own code)."),
) -> None:
    """Fit a universal perturbation for MODEL on the images and save it with its metadata (-o DIR: DIR/uap.pt)."""
    import torch

    from ..assets.folder import load_image_folder
    from ..attacks import fit_uap, fooling_rate, save_perturbation
    from ..attacks._model import prepare_classifier
    from ..attacks.budget import Budget
    from ..attacks.perturbation_file import perturbation_target
    from ..attacks.uap import Augment
    from ..classifiers import load_classifier
    from ..errors import ParameterError

    _threads(threads)
    if not 0.0 <= holdout_fraction < 1.0:
        raise ParameterError(f"--holdout-fraction must be in [0, 1), got {holdout_fraction}")
    if method not in ("sgd", "deepfool"):
        raise ParameterError(f"method {method!r} is not supported", hint="use 'sgd' (default) or 'deepfool'")
    Budget.make(norm, eps, scale=_scale(eps_scale))  # bad budgets fail before anything is loaded
    if batch_size < 1:
        raise ParameterError(f"--batch-size must be at least 1, got {batch_size}")
    out = perturbation_target(out)  # an unwritable -o fails before the fit, and -o DIR writes DIR/uap.pt
    from ..evaluator.run import resolve_device

    progress = progress and not quiet
    clf = load_classifier(model, allow_torchscript=allow_torchscript).to(resolve_device(device))
    fast = prepare_classifier(clf)
    data = load_image_folder(images, clf.input_size, limit=limit, progress=progress)
    held = None
    if holdout_fraction > 0:
        n_fit = len(data) - round(holdout_fraction * len(data))
        if n_fit < 1 or n_fit == len(data):
            raise ParameterError(f"--holdout-fraction {holdout_fraction} leaves {n_fit} of {len(data)} images to fit on", hint="use more images or another fraction")
        data, held = data.split(n_fit, seed=seed)
    if holdout is not None:
        extra = load_image_folder(holdout, clf.input_size, progress=progress)
        held = extra if held is None else type(extra)(torch.cat([held.images, extra.images]), torch.cat([held.labels, extra.labels]), held.files + extra.files, held.sizes + extra.sizes, held.sha256 + extra.sha256)
    options: dict[str, object] = {
        "epochs": epochs or None,
        "max_seconds": max_minutes * 60 if max_minutes else None,
        "target_fooling_rate": target_fooling_rate,
        "batch_size": batch_size,
        "progress": progress,
    }
    if method == "sgd":
        options["augment"] = Augment() if augment else None
    elif augment:
        raise ParameterError("--augment is only supported by the sgd method")
    res = fit_uap(fast, data.images, norm=norm, eps=eps, eps_scale=_scale(eps_scale), method=method, target=target, seed=seed, **options)  # type: ignore[arg-type]
    held_report = None
    if held is not None:
        held_report = fooling_rate(fast, held.images, res.delta, labels=held.labels, target=res.target).to_dict()
        held_report["images"] = held.manifest()
    meta = {
        "model": clf.name,
        "input_size": list(clf.input_size),
        "preprocessing": clf.preprocessing.to_dict(),
        "norm": res.budget.norm,
        "eps": res.budget.eps,
        "eps_given": eps,
        "eps_scale": float(_scale(eps_scale)),
        "method": res.method,
        "seed": res.seed,
        "target": res.target,
        "settings": res.settings,
        "epochs_run": res.epochs,
        "steps": res.steps,
        "stopped_by": res.stopped,
        "images": data.manifest(),
        "fit_fooling_rate": res.fit_fooling_rate,
        "heldout": held_report,
    }
    tensor_path, meta_path = save_perturbation(out, res.delta, meta)
    summary = {
        "file": str(tensor_path),
        "metadata": str(meta_path),
        "n_fit": len(data),
        "fit_fooling_rate": res.fit_fooling_rate,
        "heldout_fooling_rate": held_report["fooling_rate"] if held_report else None,
        "n_heldout": held_report["n"] if held_report else 0,
        "epochs": res.epochs,
        "seconds": round(res.seconds, 1),
        "stopped_by": res.stopped,
    }
    typer.echo(json.dumps(summary))


@uap_app.command("eval")
def evaluate(
    file: Path = typer.Argument(..., help="Perturbation tensor file written by 'uap fit' (or its .json)."),
    images: Path = typer.Option(..., "--images", help="Folder of images (or a stimulus set)."),
    model: str | None = typer.Option(None, "--model", "-m", help="Classifier name (default: the one it was fitted for)."),
    size_rule: str = typer.Option("error", "--size-rule", help="For another input size: resize or tile (error refuses).", **choice(("error", "resize", "tile"))),
    allow_other_model: bool = typer.Option(False, "--allow-other-model", help="Evaluate on another model than the one it was fitted for (transfer)."),
    limit: int | None = typer.Option(None, help="Use only the first LIMIT images (sorted by name)."),
    threads: int | None = typer.Option(None, help="CPU threads for torch."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP, autocompletion=complete_device),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (same as --no-progress)."),
    allow_torchscript: bool = typer.Option(False, "--allow-torchscript", help="Load a TorchScript model file (it runs its own code)."),
) -> None:
    """Print the fooling rate and accuracy drop of a saved perturbation on the images, as JSON."""
    from ..assets.folder import load_image_folder
    from ..attacks import fooling_rate, load_perturbation
    from ..classifiers import load_classifier
    from ..errors import ParameterError

    if size_rule not in ("error", "resize", "tile"):
        raise ParameterError(f"--size-rule must be error, resize or tile, got {size_rule!r}")
    _threads(threads)
    pert = load_perturbation(file)
    from ..evaluator.run import resolve_device

    progress = progress and not quiet
    clf = load_classifier(model or str(pert.meta.get("model")), allow_torchscript=allow_torchscript).to(resolve_device(device))
    delta = pert.for_classifier(clf, size_rule=size_rule, allow_other_model=allow_other_model)  # type: ignore[arg-type]
    data = load_image_folder(images, clf.input_size, limit=limit, progress=progress)
    target = pert.meta.get("target")
    report = fooling_rate(clf, data.images, delta, labels=data.labels, target=target)
    out = {"file": str(file), "model": clf.name, "fitted_for": pert.meta.get("model"), "norm": pert.norm, "eps": pert.eps, **report.to_dict()}
    typer.echo(json.dumps(out))


def register(app: typer.Typer) -> None:
    app.add_typer(uap_app, name="uap")
