"""``foolbox-lite import cue-conflict SRC -o DIR`` and ``import responses CSV... --set SET -o DIR``."""

from __future__ import annotations

from pathlib import Path

import typer

LAYOUTS = ("cue-conflict", "responses")


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_(
        layout: str = typer.Argument(..., help="What SRC is: cue-conflict (a folder of published stimuli, or our model-vs-human export) or responses (observers' CSVs)."),
        src: list[Path] = typer.Argument(..., help="cue-conflict: the folder; responses: one or more CSV files."),
        out: Path = typer.Option(..., "-o", "--out", help="Folder to write the stimulus set (cue-conflict) or the observers' raw-data (responses) to."),
        stimulus_set: Path | None = typer.Option(None, "--set", help="responses: the stimulus set the observers saw."),
        force: bool = typer.Option(False, "--force", help="Overwrite a non-empty OUT."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors."),
        masks: Path | None = typer.Option(None, "--masks", help="Folder of object masks laid out like SRC (white = object), kept as the set's mask layer."),
        invert_masks: bool = typer.Option(False, "--invert-masks", help="The masks are dark on the object (e.g. filled silhouettes)."),
    ) -> None:
        """Import published stimuli as a stimulus set, or observers' response files as raw-data observers of a set."""
        from ..errors import InputError

        if layout not in LAYOUTS:
            raise InputError(f"unknown layout {layout!r}", hint=f"known layouts: {', '.join(LAYOUTS)}")
        if layout == "responses":
            if stimulus_set is None:
                raise InputError("import responses needs the stimulus set the observers saw", hint="pass --set SET")
            from ..evaluator.responses import import_responses

            files = import_responses(src, stimulus_set, out, force=force)
            if not quiet:
                for f in files:
                    typer.echo(f"wrote {f}")
                typer.echo(f"evaluate them with: foolbox-lite evaluate {stimulus_set} --observers '{files[0].parent}/*.csv'")
            return
        if len(src) != 1:
            raise InputError(f"import cue-conflict takes one source folder, got {len(src)}")
        from ..stimulus_set.importers import import_cue_conflict

        path = import_cue_conflict(src[0], out, force=force, progress=not quiet, masks=masks, invert_masks=invert_masks)
        from ..stimulus_set.format import read_set_info

        typer.echo(f"imported {read_set_info(path).n} images into {path}")
