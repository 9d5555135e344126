"""``foolbox-lite import cue-conflict SRC -o DIR``: published stimuli as a stimulus set."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_(
        layout: str = typer.Argument(..., help="The layout of SRC: cue-conflict."),
        src: Path = typer.Argument(..., help="The folder of published stimuli."),
        out: Path = typer.Option(..., "-o", "--out", help="Folder to write the stimulus set to."),
        force: bool = typer.Option(False, "--force", help="Overwrite a non-empty OUT."),
        masks: Path | None = typer.Option(None, "--masks", help="Folder of object masks laid out like SRC (white = object), kept as the set's mask layer."),
        invert_masks: bool = typer.Option(False, "--invert-masks", help="The masks are dark on the object (e.g. filled silhouettes)."),
    ) -> None:
        """Import published stimuli (cue-conflict: <category>/<shape><n>-<texture><m>.png) as a stimulus set."""
        from ..errors import InputError

        if layout != "cue-conflict":
            raise InputError(f"unknown layout {layout!r}", hint="known layouts: cue-conflict")
        from ..stimulus_set.importers import import_cue_conflict

        path = import_cue_conflict(src, out, force=force, masks=masks, invert_masks=invert_masks)
        from ..stimulus_set.format import read_set_info

        typer.echo(f"imported {read_set_info(path).n} images into {path}")
