"""``foolbox-lite evaluate SET --model NAME ... [--observers GLOB] -o OUT``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from .options import DEVICE_HELP, choice, complete_device

DECISIONS = ("auto", "top1", "restricted", "mapping")

__all__ = ["DECISIONS", "print_summary", "register"]


def print_summary(summary: Mapping[str, Any]) -> None:
    """A short table of cue fractions, shape bias and accuracy per observer."""
    from rich.console import Console
    from rich.table import Table

    cues = list(summary["cues"])
    table = Table(title=f"cue followed (reference cue: {summary.get('reference_cue')})")
    table.add_column("observer", no_wrap=True, min_width=min(40, max(len(n) for n in summary["observers"]) if summary["observers"] else 8))
    table.add_column("n", justify="right")
    for c in cues:
        table.add_column(c, justify="right")
    table.add_column("shape bias", justify="right")
    table.add_column("accuracy", justify="right")

    def f(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}"

    for name, o in summary["observers"].items():
        table.add_row(name, str(o["n"]), *(f(o["cue_fractions"].get(c)) for c in cues), f(o["shape_bias"]), f(o["accuracy"]["overall"]))
    console = Console()
    if not console.is_terminal:  # logs and pipes: do not squeeze the table into 80 columns
        console = Console(width=160)
    console.print(table)


def register(app: typer.Typer) -> None:
    @app.command()
    def evaluate(
        stimulus_set: Path = typer.Argument(..., metavar="SET", help="Folder of a stimulus set (with manifest.jsonl)."),
        model: list[str] | None = typer.Option(None, "--model", "-m", help="Classifier (repeatable): efficientnet_lite0|1|2, torchvision:NAME, timm:NAME, FILE.pt, ARCH@WEIGHTS.pt. Default efficientnet_lite0 unless only --observers is given."),
        observers: str | None = typer.Option(None, "--observers", help="Glob of model-vs-human raw-data CSVs; each subject becomes an observer."),
        out: Path = typer.Option(Path("out/evaluation"), "-o", "--out", help="Output folder (trials.csv, summary.json, plots, report.html)."),
        batch_size: int | None = typer.Option(None, "--batch-size", "-b", help="Images per forward pass (default: the measured best; lanes on the CPU read at most 8 at a time, see docs/evaluator.md)."),
        device: str = typer.Option("auto", "--device", help=DEVICE_HELP, autocompletion=complete_device),
        backend: str = typer.Option("auto", "--backend", help="Forward engine: auto (ONNX Runtime on the CPU for the built-in models, else torch), torch (the eager model's logits exactly) or onnxruntime.",
                                    **choice(("auto", "torch", "onnxruntime"))),
        decision: str = typer.Option("auto", "--decision", help="auto, top1, restricted (only classes the cues name) or mapping.", **choice(DECISIONS)),
        mapping: str | None = typer.Option(None, "--mapping", help="Label mapping to decide through; an imagenet1k set is then read in its categories (cue labels mapped too)."),
        reference_cue: str | None = typer.Option(None, "--reference-cue", help="Cue that counts as 'right' for accuracy and error consistency (default: the set's)."),
        accuracy_cue: str | None = typer.Option(None, "--accuracy-cue", help="Cue to report accuracy against (default: the reference cue)."),
        on_mismatch: str = typer.Option("error", "--on-mismatch", help="An image missing or not matching its sha256: error (stop), warn (use it) or skip.", **choice(("error", "warn", "skip"))),
        report: bool = typer.Option(True, "--report/--no-report", help="Write plots and report.html."),
        gallery: int = typer.Option(300, "--gallery", help="Stimuli shown in the report's gallery."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or table."),
        allow_torchscript: bool = typer.Option(False, "--allow-torchscript", help="Load TorchScript model files (they run their own code: only files you trust)."),
        shard: str | None = typer.Option(None, "--shard", metavar="K/N", help="Decide only the K-th of N contiguous parts (K from 0) into OUT; join them with 'foolbox-lite merge'."),
        engine: str = typer.Option("local", "--engine", help="local, or ray (Ray Data; pip install 'foolbox-lite\\[ray]')."),
        address: str | None = typer.Option(None, "--address", help="Ray cluster address (default: $RAY_ADDRESS, else a new local instance)."),
        replicas: int = typer.Option(1, "--replicas", min=1, help="Ray: model replicas (actors), each with every model."),
        ray_cpus: float = typer.Option(1.0, "--ray-cpus", min=0.01, help="Ray: CPUs per replica (its torch threads)."),
        ray_gpus: float = typer.Option(0.0, "--ray-gpus", min=0.0, help="Ray: GPUs per replica (> 0 runs the replica on CUDA)."),
    ) -> None:
        """Run classifiers (and read human observers) over SET; report which cue each followed."""
        from ..errors import InputError, ParameterError
        from ..evaluator.run import DEFAULT_BATCH_SIZE, evaluate_set
        from ..report import evaluation_folder, write_evaluation
        from ..stimulus_set.format import read_set_info

        if on_mismatch not in ("error", "warn", "skip"):
            raise ParameterError(f"--on-mismatch must be error, warn or skip, got {on_mismatch!r}")
        if engine not in ("local", "ray"):
            raise InputError(f"--engine must be local or ray, got {engine!r}")
        models = list(model or []) or ([] if observers else ["efficientnet_lite0"])
        read_set_info(stimulus_set)  # a missing set fails before OUT is touched
        common = {
            "batch_size": batch_size or DEFAULT_BATCH_SIZE, "decision": decision, "mapping": mapping, "reference_cue": reference_cue,
            "on_mismatch": on_mismatch, "observers": observers, "progress": not quiet,
        }
        if shard is not None:  # shards may share OUT, so no folder lock: each writes only eval-shards/K-of-N.json
            if engine != "local":
                raise InputError("--shard runs without a cluster manager; it cannot be combined with --engine ray", hint="leave out one of them")
            from ..scale.eval_shards import evaluate_shard

            part = evaluate_shard(stimulus_set, models, shard, out, device=device, backend=backend, allow_torchscript=allow_torchscript, **common)  # type: ignore[arg-type]
            typer.echo(f"wrote shard {shard.strip()} to {part}; join the shards with 'foolbox-lite merge'")
            return
        with evaluation_folder(out):  # locked, checked writable, stale results removed before inference
            if engine == "ray":
                from ..scale.ray_eval import evaluate_on_ray

                ev = evaluate_on_ray(stimulus_set, models, address=address, replicas=replicas, cpus_per_replica=ray_cpus, gpus_per_replica=ray_gpus,
                                     accuracy_cue=accuracy_cue, allow_torchscript=allow_torchscript, **common)  # type: ignore[arg-type]
            else:
                ev = evaluate_set(stimulus_set, models, device=device, backend=backend, accuracy_cue=accuracy_cue, allow_torchscript=allow_torchscript,
                                  **common)  # type: ignore[arg-type]
            for p in ev.set.problems:
                typer.echo(f"warning: {p}", err=True)
            paths = write_evaluation(ev, out, report=report, max_gallery=gallery, accuracy_cue=accuracy_cue)
        if not quiet:
            import json

            from .claims import print_claims

            summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
            print_summary(summary)
            print_claims(summary)
        typer.echo(f"wrote {', '.join(p.name for p in paths.values())} to {out}")

