"""``foolbox-lite export DIR --format FMT -o OUT``: a stimulus set in another layout."""

from __future__ import annotations

from pathlib import Path

import typer

from ..stimulus_set.export import FORMATS
from .options import choice

FORMAT_HELP = "The layout to write."


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        src: Path = typer.Argument(..., help="The stimulus set folder (with manifest.jsonl)."),
        fmt: str = typer.Option(..., "--format", "-f", help=FORMAT_HELP, **choice(FORMATS)),
        out: Path = typer.Option(..., "-o", "--out", help="Folder to write the export to."),
        cue: str | None = typer.Option(None, "--cue", help="imagefolder: the cue whose labels name the class folders (default: the reference cue)."),
        shard_size: int = typer.Option(1000, "--shard-size", min=1, help="webdataset: samples per tar shard."),
        trials: str | None = typer.Option(None, "--trials", help="model-vs-human: glob of trials.csv / raw-data CSVs about SET, written as raw-data/<name>/<name>_<subject>_session-1.csv."),
        dataset: str | None = typer.Option(None, "--dataset", help="model-vs-human: the dataset name (default: the set's name)."),
        stimulus_ms: int | None = typer.Option(None, "--stimulus-ms", min=1, help="jspsych: stimulus duration (default: the recipe's, else 200)."),
        mask_ms: int | None = typer.Option(None, "--mask-ms", min=0, help="jspsych: 1/f noise mask duration (default: the recipe's, else 200)."),
        seed: int = typer.Option(0, "--seed", help="jspsych: seed of the per-participant trial order (mixed with the participant id)."),
        force: bool = typer.Option(False, "--force", help="Replace a non-empty OUT."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Export a stimulus set: ImageFolder, model-vs-human, WebDataset shards, a Hugging Face dataset or a jsPsych experiment."""
        from ..stimulus_set.export import export_set

        opts: dict[str, object] = {}
        if fmt == "imagefolder" and cue:
            opts["cue"] = cue
        if fmt == "webdataset":
            opts["shard_size"] = shard_size
        if fmt == "model-vs-human":
            opts["dataset"] = dataset
        elif trials:
            from ..errors import InputError

            raise InputError("--trials goes with --format model-vs-human")
        if fmt == "jspsych":
            opts.update(stimulus_ms=stimulus_ms, mask_ms=mask_ms, seed=seed)
        path = export_set(src, fmt, out, force=force, progress=not quiet, **opts)
        if trials:
            from ..evaluator.responses import write_export_raw_data

            for f in write_export_raw_data(trials, src, path):
                typer.echo(f"wrote {f}")
        typer.echo(f"exported {src} as {fmt} to {path}")
