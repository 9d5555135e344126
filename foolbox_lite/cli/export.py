"""``foolbox-lite export DIR --format FMT -o OUT``: a stimulus set in another layout."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        src: Path = typer.Argument(..., help="The stimulus set folder (with manifest.jsonl)."),
        fmt: str = typer.Option(..., "--format", "-f", help="imagefolder, model-vs-human, webdataset or hf."),
        out: Path = typer.Option(..., "-o", "--out", help="Folder to write the export to."),
        cue: str | None = typer.Option(None, "--cue", help="imagefolder: the cue whose labels name the class folders (default: the reference cue)."),
        shard_size: int = typer.Option(1000, "--shard-size", min=1, help="webdataset: samples per tar shard."),
        force: bool = typer.Option(False, "--force", help="Replace a non-empty OUT."),
    ) -> None:
        """Export a stimulus set: ImageFolder, model-vs-human, WebDataset shards or a Hugging Face dataset."""
        from ..stimulus_set.export import export_set

        opts: dict[str, object] = {}
        if fmt == "imagefolder" and cue:
            opts["cue"] = cue
        if fmt == "webdataset":
            opts["shard_size"] = shard_size
        path = export_set(src, fmt, out, force=force, **opts)
        typer.echo(f"exported {src} as {fmt} to {path}")
