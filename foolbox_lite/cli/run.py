"""``foolbox-lite run RECIPE [-o DIR]``: build the recipe's stimulus set, then evaluate it with the recipe's models."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .evaluate import DECISIONS
from .options import DEVICE_HELP, choice, complete_device

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        recipe: Path = typer.Argument(..., help="The recipe file (YAML)."),
        out: Path | None = typer.Option(None, "-o", "--out", help="Output folder: DIR/set (the stimuli) and DIR/evaluation (default out/<recipe name>)."),
        model: list[str] | None = typer.Option(None, "--model", "-m", help="Classifier(s) instead of the recipe's models (repeatable)."),
        observers: str | None = typer.Option(None, "--observers", help="Glob of model-vs-human raw-data CSVs to evaluate beside the models."),
        decision: str = typer.Option("auto", "--decision", help="auto, top1, restricted (only classes the cues name) or mapping.", **choice(DECISIONS)),
        batch_size: int | None = typer.Option(None, "--batch-size", "-b", help="Images per forward pass when evaluating."),
        device: str = typer.Option("auto", "--device", help=f"Device to build and evaluate on: {DEVICE_HELP} The bytes of a build depend on it.", autocompletion=complete_device),
        workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Threads writing PNGs during the build (default: one per core, at most 16; 0: none)."),
        force: bool = typer.Option(False, "--force", help="Rebuild DIR/set even if it holds another build."),
        report: bool = typer.Option(True, "--report/--no-report", help="Write plots and report.html."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
        allow_torchscript: bool = typer.Option(False, "--allow-torchscript", help="Load TorchScript model files (they run their own code); a recipe cannot allow this itself."),
    ) -> None:
        """Build RECIPE (or finish/reuse an identical build), evaluate it, and print the cue fractions per observer
        (and, for a recipe with controls:, how often each control twin was recognised, overall and per numeric factor)."""
        import json

        from ..classifiers import load_classifier
        from ..evaluator.run import DEFAULT_BATCH_SIZE, evaluate_set, resolve_device
        from ..recipes.build import build_recipe
        from ..recipes.load import load_recipe
        from ..report import evaluation_folder, write_evaluation
        from ..stimulus_set.outputs import is_empty
        from .claims import print_claims
        from .evaluate import print_summary

        device = str(resolve_device(device))
        spec = load_recipe(recipe)
        root = out if out is not None else Path("out") / spec.name
        set_dir = root / "set"
        # models first: an unknown model fails before the build (TorchScript only with the flag, never by the recipe)
        classifiers = [load_classifier(m, allow_torchscript=allow_torchscript) for m in (model or spec.models or ["efficientnet_lite0"])]
        resume = not force and set_dir.is_dir() and not is_empty(set_dir)
        build_recipe(recipe, set_dir, device=device, workers=workers, resume=resume, force=force, progress=not quiet)
        with evaluation_folder(root / "evaluation"):
            ev = evaluate_set(
                set_dir,
                classifiers,
                batch_size=batch_size or DEFAULT_BATCH_SIZE,
                decision=decision,  # type: ignore[arg-type]
                device=device,
                observers=observers,
                progress=not quiet,
            )
            paths = write_evaluation(ev, root / "evaluation", report=report)
        summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
        print_summary(summary)
        print_claims(summary)
        if spec.explain is not None:  # evidence maps of a sample of the set (recipe: explain: {method: ..., every: N})
            from ..explain import explain_set

            explain_set(set_dir, classifiers, spec.explain.methods, targets=spec.explain.targets, every=spec.explain.every, sanity=spec.explain.sanity,
                        out=root / "explain", batch_size=batch_size or 8, device=device, report=report, progress=not quiet)
            typer.echo(f"evidence maps in {root / 'explain'}")
        typer.echo(f"stimuli in {set_dir}; results in {root / 'evaluation'}" + (f" (open {paths['report']})" if "report" in paths else ""))
