"""``foolbox-lite build RECIPE -o DIR``: build the stimulus set a recipe describes."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import DEVICE_HELP, complete_device


def register(app: typer.Typer) -> None:
    @app.command()
    def build(
        recipe: Path = typer.Argument(..., help="The recipe file (YAML)."),
        out: Path = typer.Option(..., "-o", "--out", help="Folder to write the stimulus set to."),
        batch_size: int = typer.Option(32, "--batch-size", "-b", min=1, help="Items computed together (does not change the bytes)."),
        device: str = typer.Option("auto", "--device", help=f"{DEVICE_HELP} GPU and CPU bytes may differ; the lock file records the device.", autocompletion=complete_device),
        workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Threads encoding and writing PNGs while the next batch is computed (default: one per core, at most 16; 0: none)."),
        resume: bool = typer.Option(False, "--resume", help="Complete an interrupted build of the same recipe in OUT."),
        force: bool = typer.Option(False, "--force", help="Overwrite a non-empty OUT."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        shard: str | None = typer.Option(None, "--shard", metavar="K/N", help="Build only the K-th of N contiguous parts (K from 0); join them with 'foolbox-lite merge'."),
        engine: str = typer.Option("local", "--engine", help="local, or ray (a Ray cluster; pip install 'foolbox-lite\\[ray]')."),
        address: str | None = typer.Option(None, "--address", help="Ray cluster address (default: $RAY_ADDRESS, else a new local instance)."),
        ray_cpus: float = typer.Option(1.0, "--ray-cpus", min=0.01, help="CPUs per Ray task (each builds a range of items)."),
    ) -> None:
        """Build the stimulus set RECIPE describes: images, manifest.jsonl, recipe.lock.yaml, DATASHEET.md."""
        from ..errors import InputError
        from ..evaluator.run import resolve_device
        from ..recipes.build import build_recipe

        if engine not in ("local", "ray"):
            raise InputError(f"--engine must be local or ray, got {engine!r}")
        device = str(resolve_device(device))
        if shard is not None:
            if engine != "local":
                raise InputError("--shard runs without a cluster manager; it cannot be combined with --engine ray", hint="leave out one of them")
            from ..scale.shards import build_shard

            part = build_shard(recipe, out, shard, batch_size=batch_size, device=device, workers=workers, resume=resume, force=force, progress=not quiet)
            typer.echo(f"wrote shard {shard.strip()} to {out} ({part.relative_to(out)}); join the shards with 'foolbox-lite merge'")
            return
        if engine == "ray":
            from ..scale.ray_build import build_on_ray

            path = build_on_ray(recipe, out, address=address, batch_size=batch_size, device=device, resume=resume, force=force, progress=not quiet, cpus_per_task=ray_cpus)
        else:
            path = build_recipe(recipe, out, batch_size=batch_size, device=device, workers=workers, resume=resume, force=force, progress=not quiet)
        from ..stimulus_set.format import read_set_info

        info = read_set_info(path)
        typer.echo(f"wrote {info.n} images to {path}")
