"""The "Loading an export" snippets of docs/recipes.md, run against fresh exports with the real consumer libraries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_export import RECIPE

from foolbox_lite.recipes.build import build_recipe
from foolbox_lite.stimulus_set import read_manifest
from foolbox_lite.stimulus_set.export import export_set

DOC = Path(__file__).resolve().parents[1] / "docs" / "recipes.md"


def _snippets() -> list[str]:
    section = DOC.read_text().split("## Loading an export", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_there_is_a_snippet_per_format() -> None:
    formats = [re.search(r"--format (\S+)", s).group(1) for s in _snippets()]
    assert sorted(set(formats)) == ["hf", "imagefolder", "model-vs-human", "webdataset"]


@pytest.mark.parametrize("k", range(len(_snippets())))
def test_snippet_loads_its_export(k: int, tmp_path: Path) -> None:
    code = _snippets()[k]
    fmt = re.search(r"--format (\S+)", code).group(1)
    for module in re.findall(r"^(?:from|import) (torchvision|datasets|webdataset)\b", code, flags=re.M):
        pytest.importorskip(module)
    (tmp_path / "r.yaml").write_text(RECIPE)
    built = build_recipe(tmp_path / "r.yaml", tmp_path / "set", progress=False)
    out = export_set(built, fmt, tmp_path / "export")
    code = re.sub(r'^OUT = ".*"$', f"OUT = {str(out)!r}", code, count=1, flags=re.M)
    scope: dict[str, object] = {}
    exec(compile(code, f"docs/recipes.md snippet {k}", "exec"), scope)  # noqa: S102 - the documentation's own code
    shapes = [e.cues["shape"] for e in read_manifest(built)]
    assert scope["n"] == 8
    assert sorted(scope["labels"]) == sorted(shapes)  # type: ignore[arg-type]
