"""``foolbox-lite assets list [--kind KIND]``: the built-in asset bank with its labels."""

from __future__ import annotations

import typer

from .options import choice

KINDS = ("texture", "shape", "background", "photo")


def register(app: typer.Typer) -> None:
    assets = typer.Typer(help="The built-in asset bank (textures, shapes, scenes, photos) that recipes name with {builtin: NAME}.", no_args_is_help=True)
    app.add_typer(assets, name="assets")

    @assets.command("list")
    def list_(kind: str | None = typer.Option(None, "--kind", "-k", help="Only assets of this kind.", **choice(KINDS))) -> None:
        """List the bank: name, kind, ImageNet class (wnid and name), 16-category label, licence."""
        from rich.console import Console
        from rich.table import Table

        from ..assets.bank import get_asset, list_assets

        table = Table(title="foolbox-lite asset bank" + (f" ({kind})" if kind else ""))
        for col in ("name", "kind", "wnid", "ImageNet label", "16-category", "licence"):
            table.add_column(col, no_wrap=col != "licence")
        for name in list_assets(kind):
            a = get_asset(name)
            table.add_row(a.name, a.kind, a.wnid or "-", a.label or "-", a.category or "-", a.licence)
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)
        console.print(table)
