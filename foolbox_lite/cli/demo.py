"""``foolbox-lite demo``: build a few stimuli from built-in assets and write them to disk."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        out: Path = typer.Option(Path("out/demo"), "-o", "--out", help="Folder to write the PNGs to."),
        seed: int = typer.Option(7, help="Seed of the pipeline."),
    ) -> None:
        """Build a few stimuli from built-in assets and write them to OUT."""
        import torch

        import foolbox_lite as fl

        from ..assets.synthetic import disc_scene

        images, masks = disc_scene(4, 224)
        stim = fl.Stimuli.from_tensor(images, masks)
        pipe = fl.Pipeline([fl.ops.Grayscale(p=0.5)], seed=seed)
        with torch.inference_mode():
            res = pipe(stim)
        paths = res.save(out)
        typer.echo(f"wrote {len(paths)} images to {out}")
