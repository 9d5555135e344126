"""Option helpers shared by the commands: fixed value sets that ``--help`` and shell completion
list, with a "did you mean" for typos; the device option's values.  Imports nothing heavy."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

import typer

__all__ = ["DEVICE_HELP", "choice", "complete_device"]

DEVICE_HELP = "auto (CUDA when available, else CPU), cpu, cuda, cuda:N or mps."


def choice(values: Sequence[str]) -> dict[str, Any]:
    """``typer.Option`` keyword arguments for an option with a fixed set of ``values``:
    they are listed in ``--help`` (metavar) and completed by the shell; others are refused."""
    allowed = tuple(values)

    def parse(value: str) -> str:
        if value in allowed:
            return value
        near = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.4)
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}" + (f"; did you mean {near[0]!r}?" if near else ""))

    def complete(incomplete: str) -> list[str]:
        return [v for v in allowed if v.startswith(incomplete)]

    parser: Callable[[str], str] = parse
    return {"metavar": "[" + "|".join(allowed) + "]", "parser": parser, "autocompletion": complete}


def complete_device(incomplete: str) -> list[str]:
    """Shell completion of ``--device``."""
    return [d for d in ("auto", "cpu", "cuda", "cuda:0", "mps") if d.startswith(incomplete)]
