"""The command line's conventions: the same option names and defaults everywhere, fixed value
sets listed in --help and completion, and --version/--help without importing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer

from foolbox_lite.cli import app, main

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> dict[str, click.Command]:
    root = typer.main.get_command(app)
    out: dict[str, click.Command] = {}

    def walk(cmd: click.Command, path: str) -> None:
        if getattr(cmd, "commands", None):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}".strip())
        else:
            out[path] = cmd

    walk(root, "")
    return out


def _opts(cmd: click.Command) -> dict[str, click.Option]:
    return {name: p for p in cmd.params if getattr(p, "param_type_name", "") == "option" for name in p.opts}


def test_same_option_names_everywhere() -> None:
    cmds = _commands()
    for path, cmd in cmds.items():
        opts = _opts(cmd)
        if "--model" in opts:
            assert "-m" in opts and opts["-m"] is opts["--model"], path
        if "--batch-size" in opts:
            assert "-b" in opts and opts["-b"] is opts["--batch-size"], path
        if "--device" in opts:
            assert opts["--device"].default == "auto", path
        if "--quiet" in opts:
            assert "-q" in opts, path
    for path in ("build", "run", "evaluate", "export", "import", "uap fit", "uap eval", "noise-threshold"):
        assert "--quiet" in _opts(cmds[path]), path
    for path in ("build", "run", "evaluate", "uap fit", "uap eval", "noise-threshold"):
        assert "--device" in _opts(cmds[path]), path
    for path in ("run", "evaluate", "uap fit", "uap eval", "noise-threshold"):
        assert "--model" in _opts(cmds[path]), path


@pytest.mark.parametrize(
    ("path", "option", "values"),
    [("export", "--format", "imagefolder|model-vs-human|webdataset|hf|jspsych"), ("evaluate", "--decision", "auto|top1|restricted|mapping"),
     ("evaluate", "--on-mismatch", "error|warn|skip"), ("run", "--decision", "auto|top1|restricted|mapping"), ("uap fit", "--norm", "linf|l2"),
     ("uap fit", "--method", "sgd|deepfool"), ("uap eval", "--size-rule", "error|resize|tile")],
)
def test_fixed_values_are_listed_and_completed(path: str, option: str, values: str) -> None:
    opt = _opts(_commands()[path])[option]
    assert opt.metavar == f"[{values}]"
    ctx = click.Context(_commands()[path])
    assert [c.value for c in opt.shell_complete(ctx, "")] == values.split("|")


def test_a_typo_gets_a_suggestion(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["evaluate", str(tmp_path), "--decision", "restrictd"]) == 2
    assert "did you mean 'restricted'?" in capsys.readouterr().err


def test_completion_is_installed() -> None:
    assert "--show-completion" in _opts(typer.main.get_command(app))


@pytest.mark.parametrize("args", [["--version"], ["export", "--help"], ["evaluate", "--help"], ["--help"]])
def test_version_and_help_do_not_import_torch(args: list[str]) -> None:
    code = f"import sys\nfrom foolbox_lite.cli import main\nrc = main({args!r})\nprint('TORCH', 'torch' in sys.modules, rc)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}, timeout=120)
    assert "TORCH False 0" in res.stdout, res.stdout + res.stderr


def test_assets_list(capsys: pytest.CaptureFixture[str]) -> None:
    from foolbox_lite.assets import bank
    from foolbox_lite.cli import assets

    assert assets.KINDS == bank.KINDS
    assert main(["assets", "list", "--kind", "texture"]) == 0
    out = capsys.readouterr().out
    assert "zebra" in out and "n02391049" in out and "toilet_seat" not in out
    assert main(["assets", "list"]) == 0
    out = capsys.readouterr().out
    assert "toilet_seat" in out and "airplane" in out  # the airliner's 16-category label
    assert main(["assets", "list", "--kind", "shapes"]) == 2
    assert "did you mean 'shape'?" in capsys.readouterr().err
