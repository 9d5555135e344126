"""``foolbox-lite merge PART ... [-o OUT]``: join the shards of a build, or of an evaluation."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def merge(
        parts: list[Path] = typer.Argument(..., metavar="PART...", help="Folders that 'build --shard' or 'evaluate --shard' wrote (one shared folder is fine)."),
        out: Path | None = typer.Option(None, "-o", "--out", help="The merged set or results (default: the single PART, in place)."),
        force: bool = typer.Option(False, "--force", help="Overwrite a non-empty OUT (sets only)."),
        report: bool = typer.Option(True, "--report/--no-report", help="Evaluations: write plots and report.html."),
        gallery: int = typer.Option(300, "--gallery", help="Evaluations: stimuli shown in the report's gallery."),
        accuracy_cue: str | None = typer.Option(None, "--accuracy-cue", help="Evaluations: cue to report accuracy against."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Join shards into exactly what one run gives: a stimulus set, or trials.csv and summary.json."""
        from ..scale.eval_shards import EVAL_SHARDS, merge_results
        from ..scale.merge import merge_sets

        if any((p / EVAL_SHARDS).is_dir() for p in parts):
            paths = merge_results(parts, out, report=report, max_gallery=gallery, accuracy_cue=accuracy_cue)
            typer.echo(f"wrote {', '.join(p.name for p in paths.values())} to {out or parts[0]}")
            return
        path = merge_sets(parts, out, force=force, progress=not quiet)
        from ..stimulus_set.format import read_set_info

        typer.echo(f"merged {len(parts)} folder(s) into the set {path} ({read_set_info(path).n} images)")
