"""Loading recipe files: ``yaml.safe_load`` only, errors that point at the line and column.

Every error says ``FILE:LINE:COLUMN: PATH: what is wrong`` where ``PATH`` is the
field's place in the recipe (``pipeline[2].tilt.pitch``), and unknown keys name
the nearest valid key.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import FoolboxLiteError, InputError, ParameterError, short_repr
from ..stimulus_set.safe_paths import not_a_file
from .schema import RECIPE_SCHEMA, Recipe
from .yaml_guard import load_yaml

__all__ = ["MAX_RECIPE_BYTES", "Locator", "format_path", "load_recipe", "parse_recipe"]

#: Recipe files larger than this are refused (a recipe is a short text).
MAX_RECIPE_BYTES = 1_000_000

Loc = Sequence[str | int]


def format_path(loc: Loc) -> str:
    """``("pipeline", 2, "tilt", "pitch")`` -> ``"pipeline[2].tilt.pitch"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(recipe)"


class Locator:
    """Maps a path in the parsed YAML to its line and column in the file."""

    def __init__(self, text: str, name: str) -> None:
        self.name = name
        self._text: str | None = text
        self._root: yaml.Node | None = None

    @property
    def root(self) -> yaml.Node | None:
        """The YAML node tree, composed by the pure-Python parser (which keeps marks) when an error first needs a line."""
        if self._text is not None:
            try:
                self._root = yaml.compose(self._text, Loader=yaml.SafeLoader)
            except yaml.YAMLError:
                self._root = None
            self._text = None
        return self._root

    def mark(self, loc: Loc, *, key: bool = False) -> tuple[int, int] | None:
        """1-based ``(line, column)`` of the value at ``loc`` (of its key with ``key=True``), or of the deepest parent found."""
        node = self.root
        if node is None:
            return None
        best = (node.start_mark.line + 1, node.start_mark.column + 1)
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if k.value == str(part):
                        tgt = k if (key and last) else v
                        best = (tgt.start_mark.line + 1, tgt.start_mark.column + 1)
                        node = v
                        break
                else:
                    return best
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                best = (node.start_mark.line + 1, node.start_mark.column + 1)
            else:
                return best
        return best

    def where(self, loc: Loc, *, key: bool = False) -> str:
        m = self.mark(loc, key=key)
        return f"{self.name}:{m[0]}:{m[1]}" if m else self.name

    def error(self, cls: type[FoolboxLiteError], loc: Loc, message: str, hint: str | None = None, *, key: bool = False) -> FoolboxLiteError:
        """An error of class ``cls`` reading ``FILE:LINE:COL: PATH: message``."""
        return cls(f"{self.where(loc, key=key)}: {format_path(loc)}: {message}", hint=hint)


def _fields_at(model: Any, loc: Loc) -> list[str] | None:
    """The valid keys of the mapping at ``loc`` inside ``model`` (None if unknown)."""
    ann: Any = model
    for part in loc:
        ann = _strip(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            by_alias = {(f.alias or n): f for n, f in ann.model_fields.items()}
            if part not in by_alias:
                return None
            ann = by_alias[part].annotation
        elif typing.get_origin(ann) in (list, tuple) and isinstance(part, int):
            ann = typing.get_args(ann)[0]
        elif typing.get_origin(ann) is dict:
            ann = typing.get_args(ann)[1]
        else:
            return None
    ann = _strip(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [(f.alias or n) for n, f in ann.model_fields.items()]
    return None


def _strip(ann: Any) -> Any:
    """Unwrap Optional/Union to the first model or container member."""
    if typing.get_origin(ann) in (Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        for a in args:
            if (isinstance(a, type) and issubclass(a, BaseModel)) or typing.get_origin(a) in (list, dict, tuple):
                return a
        return args[0] if args else ann
    return ann


def _clean_loc(loc: Loc) -> list[str | int]:
    # pydantic adds union-member tags such as 'str' or 'list[str]' or 'function-after[...]' to locs
    return [p for p in loc if isinstance(p, int) or ("[" not in p and p not in {"str", "int", "float", "bool", "tuple", "list", "dict"})]


def _from_validation(exc: ValidationError, loc8: Locator) -> FoolboxLiteError:
    errs = exc.errors(include_url=False)
    # report the first error; unions produce one error per member, prefer the most specific
    errs.sort(key=lambda e: e["type"] != "extra_forbidden")
    e = errs[0]
    loc = _clean_loc(e["loc"])
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        valid = _fields_at(Recipe, loc[:-1]) or []
        near = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
        hint = f"did you mean {near[0]!r}?" if near else (f"valid keys: {', '.join(valid)}" if valid else None)
        return loc8.error(ParameterError, loc, f"unknown key {loc[-1]!r}", hint, key=True)
    if e["type"] == "missing":
        return loc8.error(ParameterError, loc, "is required but missing", key=True)
    if e["type"].endswith(("_type", "_parsing")) or e["type"].startswith(("greater_than", "less_than", "too_", "string_")):
        msg = f"{msg}, got {short_repr(e['input'])} ({type(e['input']).__name__})"
    more = f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})" if len(errs) > 1 else ""
    return loc8.error(ParameterError, loc, f"{msg}{more}")


def parse_recipe(text: str, name: str = "<recipe>", path: Path | None = None) -> Recipe:
    """Parse and validate recipe text (``name`` is used in error messages)."""
    try:
        raw = load_yaml(text, name)
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        where = f"{name}:{m.line + 1}:{m.column + 1}" if m else name
        problem = exc.problem or str(exc)
        ctx = f" ({exc.context})" if exc.context else ""
        hint = "keep one of them" if problem.startswith("duplicate key") else "check the indentation and the quoting around this spot"
        raise InputError(f"{where}: malformed YAML: {problem}{ctx}", hint=hint) from None
    except yaml.YAMLError as exc:
        raise InputError(f"{name}: malformed YAML: {exc}") from None
    loc8 = Locator(text, name)
    if not isinstance(raw, dict):
        raise InputError(f"{name}: a recipe is a YAML mapping (schema:, name:, seed:, ...), got {type(raw).__name__}", hint="see docs/recipes.md for an example")
    if "schema" in raw and raw["schema"] != RECIPE_SCHEMA:
        raise loc8.error(ParameterError, ["schema"], f"recipe schema {raw['schema']!r} is not supported; this version of foolbox-lite reads schema {RECIPE_SCHEMA}")
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        raise _from_validation(exc, loc8) from None
    _check_references(recipe, loc8)
    recipe._path = path
    recipe._text = text
    recipe._locator = loc8  # type: ignore[attr-defined]
    return recipe


def _check_references(r: Recipe, loc8: Locator) -> None:
    factors = r.design.factors
    for i, step in enumerate(r.pipeline):
        ops = [k for k in step if k != "when"]
        if len(ops) != 1:
            raise loc8.error(ParameterError, ["pipeline", i], f"a step is one operator {{name: {{param: value}}}}, got {len(ops)} operators ({', '.join(map(str, ops)) or 'none'})", "start each operator with its own '- '")
        if "when" in step:
            when = step["when"]
            if not isinstance(when, dict) or not when:
                raise loc8.error(ParameterError, ["pipeline", i, "when"], "when is {factor: [levels]}: the step runs only on items at these levels")
            for f, levels in when.items():
                if f not in factors:
                    near = difflib.get_close_matches(str(f), list(factors), n=1, cutoff=0.5)
                    raise loc8.error(ParameterError, ["pipeline", i, "when", f], f"unknown factor {f!r}", f"did you mean {near[0]!r}?" if near else f"factors: {', '.join(factors)}", key=True)
                if not isinstance(levels, list) or not levels:
                    raise loc8.error(ParameterError, ["pipeline", i, "when", f], f"give a list of levels of {f!r}, e.g. [{', '.join(map(str, (factors[f].values or factors[f].asset_names())[:2]))}]")
    factors = r.design.factors
    kind = "cross" if r.design.cross is not None else "random"
    for fname, f in factors.items():
        for i, a in enumerate(f.asset_names()):
            if a not in r.assets:
                near = difflib.get_close_matches(a, list(r.assets), n=1, cutoff=0.5)
                at = ["design", kind, fname, "assets"] + ([i] if isinstance(f.assets, list) else [])
                raise loc8.error(ParameterError, at, f"unknown asset {a!r}", f"did you mean {near[0]!r}?" if near else f"define it under assets: (known: {', '.join(r.assets) or 'none'})")
    for cname, c in r.cues.items():
        if c.factor is not None:
            if c.factor not in factors:
                near = difflib.get_close_matches(c.factor, list(factors), n=1, cutoff=0.5)
                raise loc8.error(ParameterError, ["cues", cname, "factor"], f"unknown factor {c.factor!r}", f"did you mean {near[0]!r}?" if near else f"factors: {', '.join(factors)}")
            if not factors[c.factor].asset_names():
                raise loc8.error(ParameterError, ["cues", cname, "factor"], f"factor {c.factor!r} lists values, not assets, so it has no labels", "give the label itself: cues: {NAME: LABEL}")
    if (r.cues or "reference_cue" in r.model_fields_set) and r.reference_cue not in r.cues:
        raise loc8.error(ParameterError, ["reference_cue"], f"{r.reference_cue!r} is not one of the cues ({', '.join(r.cues) or 'the recipe declares none'})")
    for cname, c in r.cues.items():
        if c.label is not None:
            try:
                canonical_label(c.label, r.label_space)
            except ParameterError as exc:
                raise loc8.error(ParameterError, ["cues", cname], str(exc.args[0]), exc.hint) from None


def canonical_label(label: str, label_space: str) -> str:
    """A label in the set's canonical form: a wnid for ``imagenet1k``, a category name for a mapping."""
    from ..labels import IMAGENET1K, imagenet_labels, label_space_names

    if label_space == IMAGENET1K:
        labels = imagenet_labels()
        return labels.wnids[labels.index(label)]
    space = label_space_names(label_space)
    key = label.strip().lower().replace("_", " ")
    if key in space:
        return key
    near = difflib.get_close_matches(key, list(space), n=1, cutoff=0.5)
    raise ParameterError(f"{label!r} is not a category of {label_space}", hint=f"did you mean {near[0]!r}?" if near else f"categories: {', '.join(space)}")


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read and validate a recipe file; ``recipe.models`` lists the classifiers ``run`` evaluates with."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"recipe file {str(p)!r} {not_a_file(p)}", hint="give the path of a .yaml recipe, e.g. recipes/zebra-toilet-seat.yaml")
    size = p.stat().st_size
    if size > MAX_RECIPE_BYTES:
        raise InputError(f"recipe file {str(p)!r} is {size} bytes, over the limit of {MAX_RECIPE_BYTES}", hint="a recipe lists assets by glob; it should be short")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"recipe file {str(p)!r} is not UTF-8 text: {exc}") from None
    return parse_recipe(text, name=str(p), path=p.resolve())
