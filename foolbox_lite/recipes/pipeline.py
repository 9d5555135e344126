"""Turning a recipe's ``pipeline:`` into operators, with asset and factor references resolved.

A step is ``{operator_name: {param: value}}`` passed to
:func:`~foolbox_lite.operators.build_operator`.  Values may be fixed, distributions
(``[a, b]``, ``{choice: [...]}``, ``{loguniform: [a, b]}``) or references:

- ``{asset: NAME}``: the asset's image ``(3, H, W)`` at the recipe's size;
- ``{assets: NAME or [NAMES]}``: their images stacked ``(N, 3, H, W)``;
- ``{labels: NAME or [NAMES]}``: their cue labels in the set's label space, in the same order;
- ``{mask: NAME}``: the asset's mask ``(1, H, W)``;
- ``{factor: NAME}``: this item's level of a design factor (a value, or the asset's image).

``one_of: {ops: [steps...], weights: [...]}`` picks one sub-pipeline per item.
Steps that use ``{factor: ...}`` are built once per combination of levels.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Sequence
from typing import Any

import torch

from ..backends.mask_cache import recipe_cache
from ..errors import FoolboxLiteError, ParameterError
from ..operators.base import Operator
from ..operators.registry import get_operator
from ..operators.skip import Skipped
from ..pipeline import OneOf, Pipeline
from .assets import RecipeAsset
from .design import Level
from .schema import Recipe

__all__ = ["REFERENCE_KEYS", "PipelineFactory"]

REFERENCE_KEYS = ("asset", "assets", "labels", "mask", "factor")
_PARAM_RE = re.compile(r"parameter '([A-Za-z_][A-Za-z0-9_]*)")


def _factor_refs(value: Any, out: dict[str, list[str | int]], loc: list[str | int]) -> None:
    """Collect ``{factor: NAME}`` references: name -> the path of its first use."""
    if isinstance(value, dict):
        if set(value) == {"factor"} and isinstance(value["factor"], str):
            out.setdefault(value["factor"], loc + ["factor"])
            return
        for k, v in value.items():
            _factor_refs(v, out, loc + [k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _factor_refs(v, out, loc + [i])


def _matches(when: dict[str, list[Any]], levels: dict[str, Level]) -> bool:
    """Whether an item at ``levels`` is selected by a step's ``when: {factor: [levels]}``."""
    for f, allowed in when.items():
        lv = levels[f]
        names = {lv.asset.name, lv.asset.group, lv.asset.id} if lv.asset is not None else {lv.value}
        if not any(a in names or (lv.asset is None and a == lv.value) for a in allowed):
            return False
    return True


class PipelineFactory:
    """Builds (and caches) the recipe's pipeline for each combination of the factor levels it uses."""

    def __init__(self, recipe: Recipe, assets: dict[str, list[RecipeAsset]], device: torch.device | str) -> None:
        self.recipe = recipe
        self.assets = assets
        self.device = torch.device(device)
        self.size = recipe.height_width
        self.loc8 = recipe._locator
        refs: dict[str, list[str | int]] = {}
        _factor_refs(recipe.pipeline, refs, ["pipeline"])
        for step in recipe.pipeline:
            for f in step.get("when") or {}:
                refs.setdefault(f, ["pipeline"])
        factors = recipe.design.factors
        for f, at in refs.items():
            if f not in factors:
                near = difflib.get_close_matches(f, list(factors), n=1, cutoff=0.5)
                raise self._err(at, f"unknown factor {f!r}", f"did you mean {near[0]!r}?" if near else f"factors: {', '.join(factors)}")
        #: The factors whose level changes the operators (items are grouped by them).
        self.factor_keys = [f for f in factors if f in refs]
        # per step, the factors it uses: a step without factor references is built once and shared
        self._step_factors: list[list[str]] = []
        for i, step in enumerate(recipe.pipeline):
            used: dict[str, list[str | int]] = {}
            _factor_refs(step, used, ["pipeline", i])
            for f in step.get("when") or {}:
                used.setdefault(f, ["pipeline", i, "when", f])
            self._step_factors.append([f for f in factors if f in used])
        self._ops: dict[tuple[Any, ...], Operator] = {}
        self._cache: dict[tuple[str, ...], Pipeline | None] = {}
        self._tensors: dict[tuple[str, str], Any] = {}

    def _err(self, loc: Sequence[str | int], msg: str, hint: str | None = None, cls: type[FoolboxLiteError] = ParameterError) -> FoolboxLiteError:
        if self.loc8 is None:
            from .load import format_path

            return cls(f"{format_path(loc)}: {msg}", hint=hint)
        return self.loc8.error(cls, loc, msg, hint)

    # ------------------------------------------------------------------ references
    def _group(self, names: Any, loc: list[str | int]) -> list[RecipeAsset]:
        lst = [names] if isinstance(names, str) else names
        if not isinstance(lst, list) or not all(isinstance(n, str) for n in lst) or not lst:
            raise self._err(loc, f"expected an asset name or a list of names, got {names!r}")
        out = []
        for n in lst:
            if n not in self.assets:
                near = difflib.get_close_matches(n, list(self.assets), n=1, cutoff=0.5)
                raise self._err(loc, f"unknown asset {n!r}", f"did you mean {near[0]!r}?" if near else f"define it under assets: (known: {', '.join(self.assets) or 'none'})")
            out.extend(self.assets[n])
        return out

    def _resolve(self, value: Any, loc: list[str | int], levels: dict[str, Level], texture: bool = False) -> Any:
        """Replace references by tensors, labels or values; ``texture``: the parameter takes textures."""
        if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in REFERENCE_KEYS:
            (kind, arg), = value.items()
            if kind == "factor":
                lv = levels[arg]
                if lv.asset is None:
                    return lv.value
                return self._texture(lv.asset) if texture else self._image(lv.asset)
            group = self._group(arg, loc + [kind])
            if kind == "asset":
                if len(group) != 1:
                    raise self._err(loc, f"{{asset: {arg}}} needs exactly one image but {arg!r} has {len(group)}", "use {assets: NAME} for a stack of images")
                return self._texture(group[0]) if texture else self._image(group[0])
            if kind == "mask":
                if len(group) != 1:
                    raise self._err(loc, f"{{mask: {arg}}} needs exactly one asset but {arg!r} has {len(group)}")
                m = group[0].mask(self.size, self.device)
                if m is None:
                    raise self._err(loc, f"asset {group[0].id!r} has no mask", "give it mask: alpha/dark/light or masks: FILES")
                return m
            if kind == "assets" and texture:
                return [self._texture(a) for a in group]
            if kind == "assets":
                key = ("assets", repr(arg))
                if key not in self._tensors:
                    self._tensors[key] = torch.stack([self._image(a) for a in group])
                return self._tensors[key]
            if kind == "labels":
                try:
                    return [a.cue_label(self.recipe.label_space) for a in group]
                except FoolboxLiteError as exc:
                    raise self._err(loc, str(exc.args[0]), exc.hint) from None
        if isinstance(value, dict):
            return {k: self._resolve(v, loc + [k], levels, texture) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolve(v, loc + [i], levels, texture) for i, v in enumerate(value)]
        return value

    def _texture(self, asset: RecipeAsset) -> Any:
        """The asset as a :class:`~foolbox_lite.textures.source.Texture` labelled in the set's label space."""
        key = ("texture", asset.id)
        if key not in self._tensors:
            from ..textures.source import Texture

            try:
                label = asset.cue_label(self.recipe.label_space)
            except FoolboxLiteError:
                label = asset.name
            self._tensors[key] = Texture.from_tensor(asset.image(self.size), name=asset.name, label=label, wnid=asset.wnid, category=asset.category)
        return self._tensors[key]

    def _image(self, asset: RecipeAsset) -> torch.Tensor:
        key = ("image", asset.id)
        if key not in self._tensors:
            self._tensors[key] = asset.image(self.size, self.device)
        return self._tensors[key]

    # ------------------------------------------------------------------ operators
    def _step(self, step: dict[str, Any], loc: list[str | int], levels: dict[str, Level]) -> Operator:
        if not isinstance(step, dict) or len([k for k in step if k != "when"]) != 1:
            raise self._err(loc, "a step is one operator {name: {param: value}}")
        when = step.get("when")
        (name, params), = ((k, v) for k, v in step.items() if k != "when")
        if when is not None and not _matches(when, levels):
            return Skipped(str(name))
        if params is None:
            params = {}
        if name == "one_of":
            if not isinstance(params, dict) or "ops" not in params or set(params) - {"ops", "weights"}:
                raise self._err(loc + [name], "one_of takes {ops: [steps...], weights: [numbers]}")
            ops_raw = params["ops"]
            if not isinstance(ops_raw, list) or not ops_raw:
                raise self._err(loc + [name, "ops"], "one_of needs a non-empty list of steps")
            ops = [self._step(s, loc + [name, "ops", k], levels) for k, s in enumerate(ops_raw)]
            try:
                return OneOf(ops, weights=params.get("weights"))
            except FoolboxLiteError as exc:
                raise self._err(loc + [name, "weights"], str(exc.args[0]), exc.hint) from None
        try:
            cls = get_operator(str(name))
        except FoolboxLiteError as exc:
            raise self._err(loc + [name], str(exc.args[0]), exc.hint) if self.loc8 is None else self.loc8.error(ParameterError, loc + [name], str(exc.args[0]), exc.hint, key=True) from None
        if not isinstance(params, dict):
            raise self._err(loc + [name], f"parameters of {name!r} must be a mapping {{param: value}}, got {params!r}")
        sig = inspect.signature(cls.__init__)
        accepted = [p for p, v in sig.parameters.items() if p != "self" and v.kind in (v.KEYWORD_ONLY, v.POSITIONAL_OR_KEYWORD)]
        takes_any = any(v.kind == v.VAR_KEYWORD for v in sig.parameters.values())
        for k in params:
            if not takes_any and k not in accepted:
                near = difflib.get_close_matches(str(k), accepted, n=1, cutoff=0.5)
                hint = f"did you mean {near[0]!r}?" if near else f"{name} takes: {', '.join(accepted) or 'no parameters'}"
                err = self.loc8.error(ParameterError, loc + [name, k], f"operator {name!r} has no parameter {k!r}", hint, key=True) if self.loc8 else ParameterError(f"{k}: unknown", hint=hint)
                raise err
        kwargs = {
            k: self._resolve(v, loc + [name, k], levels, texture=k in cls.texture_arguments)
            for k, v in params.items()
        }
        if "cache" in kwargs:  # a recipe's cache folder stays inside the cache folder
            try:
                kwargs["cache"] = recipe_cache(kwargs["cache"])
            except FoolboxLiteError as exc:
                raise self._err(loc + [name, "cache"], str(exc.args[0]), exc.hint) from None
        try:
            return cls(**kwargs)
        except FoolboxLiteError as exc:
            m = _PARAM_RE.search(str(exc.args[0]))
            at = loc + [name] + ([m.group(1)] if m and m.group(1) in params else [])
            raise self._err(at, str(exc.args[0]), exc.hint, type(exc)) from None
        except TypeError as exc:
            raise self._err(loc + [name], f"operator {name!r}: {exc}") from None

    def key(self, levels: dict[str, Level]) -> tuple[str, ...]:
        return tuple(levels[f].key for f in self.factor_keys)

    def get(self, levels: dict[str, Level]) -> Pipeline | None:
        """The pipeline for an item with these factor levels (None when the recipe has no steps)."""
        k = self.key(levels)
        if k not in self._cache:
            if not self.recipe.pipeline:
                self._cache[k] = None
            else:
                ops = []
                for i, step in enumerate(self.recipe.pipeline):
                    sk = (i, *(levels[f].key for f in self._step_factors[i]))
                    if sk not in self._ops:
                        self._ops[sk] = self._step(step, ["pipeline", i], levels)
                    ops.append(self._ops[sk])
                self._cache[k] = Pipeline(ops, seed=self.recipe.seed)
        return self._cache[k]
