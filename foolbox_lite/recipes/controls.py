"""A recipe's ``controls:``: which cues get a single-cue twin per item, checked against the pipeline.

``controls: [shape, texture]`` asks the build to write, right after every item, one
twin per named cue in which only that cue remains (see :mod:`foolbox_lite.controls`).
Twins are ordinary items of the set: id ``<id>-<cue>``, the conflict item's index,
seed, cues and factors, and ``control``/``twin`` fields in the manifest.

Manifest order is item-major: item ``i``'s conflict image is at slot ``i * (1 + k)``
and its twins follow in the order ``controls`` lists them (``k`` cues).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from ..controls import control_pipeline, replay_twin
from ..errors import ParameterError
from ..operators.cue_controls import CONTROL_CUES, SAME, SKIP, declared_controls
from ..operators.registry import REGISTRY, get_operator
from ..pipeline import Pipeline
from ..stimuli import Stimuli
from .schema import Recipe

__all__ = ["TwinMaker", "check_controls"]


def _steps(steps: list[Any], loc: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    """``(location, operator name)`` of every operator step, inside ``one_of`` too."""
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        for name, params in step.items():
            if name == "when":
                continue
            if name == "one_of" and isinstance(params, dict) and isinstance(params.get("ops"), list):
                yield from _steps(params["ops"], loc + [i, name, "ops"])
            else:
                yield loc + [i], str(name)


def _able(keep: str) -> list[str]:
    return sorted(n for n, cls in REGISTRY.items() if declared_controls(cls).get(keep) not in (None, SAME, SKIP))


def check_controls(recipe: Recipe) -> None:
    """Refuse ``controls`` that name an undeclared cue, or a cue some operator of the pipeline cannot isolate."""
    loc8 = recipe._locator

    def err(loc: list[str | int], msg: str, hint: str, key: bool = False) -> ParameterError:
        return loc8.error(ParameterError, loc, msg, hint, key=key) if loc8 else ParameterError(msg, hint=hint)  # type: ignore[no-any-return]

    seen: set[str] = set()
    for i, cue in enumerate(recipe.controls):
        at: list[str | int] = ["controls", i]
        if cue not in CONTROL_CUES:
            near = difflib.get_close_matches(cue, CONTROL_CUES, n=1, cutoff=0.5)
            raise err(at, f"{cue!r} is not a cue a control twin can keep", f"did you mean {near[0]!r}?" if near else f"controls name some of {', '.join(CONTROL_CUES)}")
        if cue not in recipe.cues:
            raise err(at, f"cue {cue!r} is not declared under cues: (declared: {', '.join(recipe.cues) or 'none'})", f"declare {cue!r} under cues:, or drop it from controls")
        if cue in seen:
            raise err(at, f"cue {cue!r} is listed twice", "name each cue once")
        seen.add(cue)
        active = False
        for step_loc, name in _steps(recipe.pipeline, ["pipeline"]):
            how = declared_controls(get_operator(name)).get(cue)
            if how is None:
                can = ", ".join(declared_controls(get_operator(name)))
                raise err(step_loc + [name], f"operator {name!r} cannot neutralise the other cues for a {cue!r} control twin "
                          + (f"(it makes twins for: {can})" if can else "(it makes no control twins)"),
                          f"drop {cue!r} from controls, or make the {cue} cue with an operator that can ({', '.join(_able(cue))})", key=True)
            active = active or how not in (SAME, SKIP)
        if not active:
            raise err(at, f"no operator of the pipeline isolates the {cue!r} cue, so its twin would equal the conflict image",
                      f"a {cue!r} twin needs one of: {', '.join(_able(cue))}")


class TwinMaker:
    """Makes the twins of one batch group: control pipelines built once per pipeline and cue."""

    def __init__(self, cues: list[str]) -> None:
        self.cues = list(cues)
        self._pipes: dict[tuple[int, str], Any] = {}
        self._keep: list[Pipeline] = []  # holds the pipelines whose id() keys the cache

    def __call__(self, pipe: Pipeline, stim: Stimuli, result: Stimuli) -> Mapping[str, Stimuli]:
        out = {}
        for cue in self.cues:
            key = (id(pipe), cue)
            if key not in self._pipes:
                self._pipes[key] = control_pipeline(pipe, cue)
                self._keep.append(pipe)
            out[cue] = replay_twin(self._pipes[key], stim, result, cue)
        return out
