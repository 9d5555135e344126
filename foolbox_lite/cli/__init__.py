"""The ``foolbox-lite`` command line.

Each command lives in its own module with a ``register(app)`` function; the
tuple below lists them explicitly.  Errors are printed on one line (plus a hint)
with exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from .._version import __version__
from ..allocator import tune_allocator
from ..errors import FoolboxLiteError
from . import assets, build, evaluate, explain, export, import_, merge, models, noise_threshold, run, uap

__all__ = ["app", "main"]

app = typer.Typer(
    name="foolbox-lite",
    help="Build cue-conflict and adversarial stimuli, and measure which cue each classifier followed.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES = (build, run, evaluate, merge, explain, export, import_, uap, noise_threshold, models, assets)
for _module in _COMMAND_MODULES:
    _module.register(app)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"foolbox-lite {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _state["debug"] = debug


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``foolbox-lite`` command; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    tune_allocator()  # large tensors from the heap, not fresh mmaps (see foolbox_lite.allocator)
    try:
        code = app(args=args, standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into Exit(130) and returns it in non-standalone mode
            raise KeyboardInterrupt
        if isinstance(code, int) and not isinstance(code, bool) and code:
            return code
    except FoolboxLiteError as exc:
        if debug:
            raise
        msg = str(exc.args[0]) if exc.args else str(exc)
        typer.echo(f"error: {msg}", err=True)
        if exc.hint:
            typer.echo(f"hint: {exc.hint}", err=True)
        return 2
    except KeyboardInterrupt:
        command = next((a for a in args if not a.startswith("-")), "")
        hint = {"build": "resume with --resume", "run": "resume by running the same command again"}.get(command, "run it again")
        typer.echo(f"interrupted; {hint}", err=True)
        return 130
    except RecursionError:
        if debug:
            raise
        typer.echo("error: the input is nested too deeply to process", err=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 1
    except Exception as exc:
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):  # click/typer usage errors
            show()
            return 2
        if debug:
            raise
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        typer.echo("hint: run again with --debug for the traceback, and report it if it looks like a bug", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
