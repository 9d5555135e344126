"""The corpus of broken recipes in tests/recipes_bad: each gives exactly the error on its first line.

Each file starts with ``# error: <Class>: <message>`` where ``{dir}`` stands for the
corpus folder; the message names the file, line and column, the field's path in the
recipe, and (for unknown names) the nearest valid one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from foolbox_lite.errors import FoolboxLiteError
from foolbox_lite.recipes.build import Builder
from foolbox_lite.recipes.load import load_recipe, parse_recipe

CORPUS = Path(__file__).resolve().parent / "recipes_bad"
CASES = sorted(CORPUS.glob("*.yaml"))


def test_corpus_is_not_empty() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_broken_recipe_gives_its_exact_error(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# error: "), f"{path.name} must start with '# error: ...'"
    expected = first.removeprefix("# error: ").replace("{dir}", str(CORPUS))
    with pytest.raises(FoolboxLiteError) as info:
        Builder(load_recipe(path))
    assert f"{type(info.value).__name__}: {info.value}" == expected


def test_error_points_at_nested_operator_parameter() -> None:
    text = """schema: 1
name: ok
seed: 1
assets:
  disc: {procedural: disc}
design:
  cross: {shape: {assets: disc}}
pipeline:
  - grayscale: {}
  - invert: {}
  - one_of:
      ops:
        - invert: {p: -0.5}
"""
    with pytest.raises(FoolboxLiteError) as info:
        Builder(parse_recipe(text, "r.yaml"))
    assert str(info.value) == "r.yaml:13:23: pipeline[2].one_of.ops[0].invert.p: parameter 'p' = -0.5 is below its minimum 0.0"


def test_missing_recipe_file_and_models_default(tmp_path: Path) -> None:
    with pytest.raises(FoolboxLiteError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")
    p = tmp_path / "r.yaml"
    p.write_text("schema: 1\nname: ok\nseed: 0\nassets: {d: {procedural: disc}}\ndesign: {cross: {shape: {assets: d}}}\n")
    assert load_recipe(p).models == ["efficientnet_lite0"]
    p.write_text(p.read_text() + "models: [efficientnet_lite0, efficientnet_lite2]\n")
    assert load_recipe(p).models == ["efficientnet_lite0", "efficientnet_lite2"]


def test_yaml_tags_are_not_executed(tmp_path: Path) -> None:
    p = tmp_path / "evil.yaml"
    p.write_text("schema: 1\nname: !!python/object/apply:os.system ['echo hacked']\nseed: 0\n")
    with pytest.raises(FoolboxLiteError, match=r"evil.yaml:2:7: malformed YAML: could not determine a constructor"):
        load_recipe(p)
