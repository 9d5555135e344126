"""``foolbox-lite build RECIPE -o DIR``: build the stimulus set a recipe describes."""

from __future__ import annotations

from pathlib import Path

import typer

from .options import DEVICE_HELP, complete_device


def register(app: typer.Typer) -> None:
    @app.command()
    def build(
        recipe: Path = typer.Argument(..., help="The recipe file (YAML)."),
        out: Path = typer.Option(..., "-o", "--out", help="Folder to write the stimulus set to."),
        batch_size: int = typer.Option(32, "--batch-size", "-b", min=1, help="Items computed together (does not change the bytes)."),
        device: str = typer.Option("auto", "--device", help=f"{DEVICE_HELP} GPU and CPU bytes may differ; the lock file records the device.", autocompletion=complete_device),
        workers: int = typer.Option(0, "--workers", min=0, help="Threads encoding and writing PNGs while the next batch is computed."),
        resume: bool = typer.Option(False, "--resume", help="Complete an interrupted build of the same recipe in OUT."),
        force: bool = typer.Option(False, "--force", help="Overwrite a non-empty OUT."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Build the stimulus set RECIPE describes: images, manifest.jsonl, recipe.lock.yaml, DATASHEET.md."""
        from ..evaluator.run import resolve_device
        from ..recipes.build import build_recipe

        device = str(resolve_device(device))
        path = build_recipe(recipe, out, batch_size=batch_size, device=device, workers=workers, resume=resume, force=force, progress=not quiet)
        from ..stimulus_set.format import read_set_info

        info = read_set_info(path)
        typer.echo(f"wrote {info.n} images to {path}")
