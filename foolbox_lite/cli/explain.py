"""``foolbox-lite explain SET -m NAME --method M [--target decision|cue:<name>] -o OUT``: evidence maps."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["print_explain_summary", "register"]


def print_explain_summary(summary: dict) -> None:
    """One line per observer, method and target: evidence in object, object area, enrichment, sanity."""

    def f(v: object) -> str:
        return "-" if v is None else f"{v:.3f}"

    for obs, o in summary["observers"].items():
        for m, s in o["methods"].items():
            for t, st in s["targets"].items():
                typer.echo(f"{obs:20s} {m:22s} {t:14s} n={st['n']:<4d} in_object={f(st['evidence_in_object'])} area={f(st['object_area'])} "
                           f"enrichment={f(st['enrichment'])} sanity_rank_corr={f(s['sanity_rank_corr'])}")


def register(app: typer.Typer) -> None:
    @app.command()
    def explain(
        stimulus_set: Path = typer.Argument(..., metavar="SET", help="Folder of a stimulus set (with manifest.jsonl and, for spatial statistics, masks/)."),
        model: list[str] | None = typer.Option(None, "--model", "-m", help="Classifier (repeatable); default efficientnet_lite0."),
        method: list[str] | None = typer.Option(None, "--method", help="occlusion, patch-evidence, integrated-gradients, guided-backprop or grad-cam (repeatable); default occlusion."),
        target: list[str] | None = typer.Option(None, "--target", help="decision (default) or cue:<name>, e.g. cue:texture (repeatable: maps for each on the same pixels)."),
        out: Path = typer.Option(Path("out/explain"), "-o", "--out", help="Output folder (maps/, overlays/, attribution.csv, summary.json, report.html)."),
        patch: int | None = typer.Option(None, "--patch", min=1, help="occlusion / patch-evidence window side in pixels (default a quarter of the image side)."),
        stride: int | None = typer.Option(None, "--stride", min=1, help="Window stride in pixels (default half the window)."),
        fill: str = typer.Option("mean", "--fill", help="Occlusion fill: mean (the image's mean colour) or blur."),
        steps: int = typer.Option(32, "--steps", min=1, help="Integrated-gradients steps."),
        layer: str | None = typer.Option(None, "--layer", help="Grad-CAM layer name (default the last convolution)."),
        every: int = typer.Option(1, "--every", min=1, help="Explain every N-th item of the set."),
        limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many items."),
        where: list[str] | None = typer.Option(None, "--where", help="Only items with this design factor level, FACTOR=LEVEL (repeatable; levels of one factor are alternatives)."),
        spatial: bool = typer.Option(True, "--spatial/--no-spatial", help="Spatial statistics from the set's object masks."),
        sanity: bool = typer.Option(False, "--sanity", help="Model-parameter randomisation test of each method (Adebayo et al. 2018)."),
        sanity_items: int = typer.Option(4, "--sanity-items", min=1, help="Items the randomisation test uses."),
        batch_size: int = typer.Option(8, "--batch-size", "-b", min=1, help="Stimuli per step."),
        device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:N, mps or auto."),
        report: bool = typer.Option(True, "--report/--no-report", help="Write report.html and sanity.png."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary lines."),
    ) -> None:
        """Evidence maps of classifiers over SET: where in each image the evidence for the decision (or a cue's label) lies."""
        from ..errors import ParameterError
        from ..explain import MethodOptions, explain_set

        if fill not in ("mean", "blur"):
            raise ParameterError(f"--fill must be mean or blur, got {fill!r}")
        wanted: dict[str, list[str]] = {}
        for w in where or []:
            key, sep, value = w.partition("=")
            if not sep or not key:
                raise ParameterError(f"--where takes FACTOR=LEVEL, got {w!r}", hint="e.g. --where variant=only_fg --where variant=only_bg")
            wanted.setdefault(key, []).append(value)
        res = explain_set(
            stimulus_set,
            list(model or ["efficientnet_lite0"]),
            list(method or ["occlusion"]),
            targets=list(target or ["decision"]),
            out=out,
            options=MethodOptions(patch=patch, stride=stride, fill=fill, steps=steps, layer=layer),  # type: ignore[arg-type]
            spatial=spatial,
            sanity=sanity,
            sanity_items=sanity_items,
            every=every,
            limit=limit,
            where=wanted,
            batch_size=batch_size,
            device=device,
            report=report,
            progress=not quiet,
        )
        if not quiet:
            print_explain_summary(res.summary)
        typer.echo(f"wrote maps, attribution.csv and summary.json to {out}" + (f" (open {out / 'report.html'})" if report else ""))
