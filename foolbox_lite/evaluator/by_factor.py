"""Figures per level of each design factor (``factors`` in the manifest: pitch, angle, texture...).

``by_factor(trials, cues)`` gives ``{factor: {level: {n, cue_fractions, shape_bias,
accuracy, valid_n, controls}}}`` over one observer's conflict trials (``valid_n``
counts valid items whose shape and texture labels differ, as the ``valid`` subset does); ``controls`` is
each kept cue's twin accuracy at that level.  Numeric levels come in numeric order,
others in order of first appearance; JSON keys are the levels as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .cues import Trial
from .metrics import accuracy, cue_fractions, shape_bias
from .validity import is_conflict, twin_correct

__all__ = ["by_factor", "is_numeric_factor", "level_key"]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def level_key(v: Any) -> str:
    """A level as a JSON key: ``40`` -> ``"40"``, ``"zebra"`` -> ``"zebra"``."""
    return str(v)


def is_numeric_factor(levels: Sequence[Any]) -> bool:
    """Whether every level is a number (such factors are plotted as curves)."""
    return bool(levels) and all(_is_number(v) for v in levels)


def _levels(trials: Sequence[Trial], factor: str) -> list[Any]:
    levels = list(dict.fromkeys(t.factors[factor] for t in trials if factor in t.factors))
    return sorted(levels) if is_numeric_factor(levels) else levels


def by_factor(trials: Sequence[Trial], cues: Sequence[str], accuracy_cue: str = "shape", shape: str = "shape", texture: str = "texture") -> dict[str, dict[str, dict[str, object]]]:
    """Per factor and level, over conflict trials: n, cue fractions, shape bias, accuracy, valid n and twin accuracy."""
    conflict = [t for t in trials if not t.control]
    twins = [t for t in trials if t.control]
    names = list(dict.fromkeys(f for t in trials for f in t.factors))
    out: dict[str, dict[str, dict[str, object]]] = {}
    for f in names:
        table: dict[str, dict[str, object]] = {}
        for lv in _levels(trials, f):
            ts = [t for t in conflict if t.factors.get(f) == lv]
            tw = [t for t in twins if t.factors.get(f) == lv]
            known = [t for t in ts if t.valid is not None]
            controls = {}
            for c in dict.fromkeys(t.control for t in tw):
                sel = [t for t in tw if t.control == c]
                controls[c] = {"n": len(sel), "accuracy": sum(map(twin_correct, sel)) / len(sel)}
            table[level_key(lv)] = {
                "n": len(ts),
                "cue_fractions": cue_fractions(ts, cues) if ts else None,
                "shape_bias": shape_bias(ts, shape, texture),
                "accuracy": accuracy(ts, accuracy_cue),
                "valid_n": sum(bool(t.valid) and is_conflict(t, shape, texture) for t in known) if known else None,
                "controls": controls or None,
            }
        out[f] = table
    return out
