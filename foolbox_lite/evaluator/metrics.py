"""Metrics over trials: cue fractions, shape bias, accuracy, error consistency.

- cue fractions: the fraction of trials attributed to each cue, and to ``other``;
- shape bias (Geirhos et al., ICLR 2019): shape decisions / (shape + texture
  decisions), counted only over stimuli whose shape and texture labels differ;
- accuracy against a cue: the fraction of trials whose response is that cue's label;
- error consistency (Geirhos, Meding & Wichmann, NeurIPS 2020): Cohen's kappa of
  two observers' right/wrong trials, matched by stimulus:
  ``kappa = (c_obs - c_exp) / (1 - c_exp)``, ``c_exp = p1 p2 + (1 - p1)(1 - p2)``.
  A response of ``na`` counts as wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations

from ..errors import InputError
from .cues import OTHER, Trial

__all__ = [
    "ErrorConsistency",
    "accuracy",
    "cue_fractions",
    "error_consistency",
    "group_by_condition",
    "kappa",
    "shape_bias",
    "summarize",
]


def cue_fractions(trials: Sequence[Trial], cues: Sequence[str]) -> dict[str, float]:
    """``{cue: fraction, ..., "other": fraction}`` over ``trials`` (all keys present, summing to 1)."""
    keys = [c for c in cues if c != OTHER] + [OTHER]
    counts = dict.fromkeys(keys, 0)
    for t in trials:
        counts[t.followed if t.followed in counts else OTHER] += 1
    n = len(trials)
    return {k: (v / n if n else 0.0) for k, v in counts.items()}


def shape_bias(trials: Iterable[Trial], shape: str = "shape", texture: str = "texture") -> float | None:
    """Shape decisions / (shape + texture decisions) over conflict stimuli; ``None`` when there are none."""
    n_shape = n_texture = 0
    for t in trials:
        s, x = t.cues.get(shape), t.cues.get(texture)
        if s is None or x is None or s == x:
            continue
        n_shape += t.response == s
        n_texture += t.response == x
    total = n_shape + n_texture
    return n_shape / total if total else None


def _is_right(t: Trial, cue: str) -> bool | None:
    label = t.cues.get(cue)
    return None if label is None else t.response == label


def accuracy(trials: Iterable[Trial], cue: str = "shape") -> float | None:
    """Fraction of trials whose response is the ``cue`` label (trials without that cue are left out)."""
    right = [r for r in (_is_right(t, cue) for t in trials) if r is not None]
    return sum(right) / len(right) if right else None


@dataclass(frozen=True)
class ErrorConsistency:
    a: str
    b: str
    kappa: float | None
    observed: float | None
    expected: float | None
    n: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def kappa(observed: float, expected: float) -> float:
    """Cohen's kappa from observed and expected consistency (1 when they agree on every trial)."""
    if observed == 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def _by_stimulus(trials: Iterable[Trial], cue: str) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for t in trials:
        r = _is_right(t, cue)
        if r is None:
            continue
        if t.stimulus in out:
            raise InputError(f"observer {t.observer!r} has two trials for stimulus {t.stimulus!r}; error consistency needs one per stimulus")
        out[t.stimulus] = r
    return out


def error_consistency(a: Sequence[Trial], b: Sequence[Trial], cue: str = "shape", *, names: tuple[str, str] | None = None) -> ErrorConsistency:
    """Error consistency of two observers over the stimuli both saw ("right" = response is the ``cue`` label)."""
    na = names[0] if names else (a[0].observer if a else "a")
    nb = names[1] if names else (b[0].observer if b else "b")
    ra, rb = _by_stimulus(a, cue), _by_stimulus(b, cue)
    common = [s for s in ra if s in rb]
    n = len(common)
    if not n:
        return ErrorConsistency(na, nb, None, None, None, 0)
    p1 = sum(ra[s] for s in common) / n
    p2 = sum(rb[s] for s in common) / n
    c_obs = sum(ra[s] == rb[s] for s in common) / n
    c_exp = p1 * p2 + (1 - p1) * (1 - p2)
    return ErrorConsistency(na, nb, kappa(c_obs, c_exp), c_obs, c_exp, n)


def group_by_condition(trials: Iterable[Trial]) -> dict[str, list[Trial]]:
    """Trials per condition, conditions in order of first appearance."""
    out: dict[str, list[Trial]] = {}
    for t in trials:
        out.setdefault(t.condition, []).append(t)
    return out


def _observer_summary(trials: Sequence[Trial], cues: Sequence[str], accuracy_cue: str, shape: str, texture: str) -> dict[str, object]:
    return {
        "n": len(trials),
        "cue_fractions": cue_fractions(trials, cues),
        "shape_bias": shape_bias(trials, shape, texture),
    }


def summarize(
    trials: Mapping[str, Sequence[Trial]],
    cues: Sequence[str],
    *,
    reference_cue: str = "shape",
    accuracy_cue: str | None = None,
    shape: str = "shape",
    texture: str = "texture",
) -> dict[str, object]:
    """The ``summary.json`` object: per observer (and per condition) fractions, shape bias and accuracy, and
    error consistency of every pair of observers ("right" = the ``reference_cue`` label).

    Trials on control twins (``Trial.control`` set) are left out of every figure here: they
    measure the cues one at a time (see :mod:`foolbox_lite.evaluator.validity`)."""
    acc_cue = accuracy_cue or reference_cue
    trials = {name: [t for t in ts if not t.control] for name, ts in trials.items()}
    observers: dict[str, object] = {}
    for name, ts in trials.items():
        entry = _observer_summary(ts, cues, acc_cue, shape, texture)
        groups = group_by_condition(ts)
        entry["accuracy"] = {"cue": acc_cue, "overall": accuracy(ts, acc_cue), "per_condition": {c: accuracy(g, acc_cue) for c, g in groups.items()}}
        entry["per_condition"] = {c: _observer_summary(g, cues, acc_cue, shape, texture) for c, g in groups.items()}
        observers[name] = entry
    pairs = [error_consistency(trials[x], trials[y], reference_cue, names=(x, y)).to_dict() for x, y in combinations(list(trials), 2)]
    return {"reference_cue": reference_cue, "cues": [c for c in cues if c != OTHER] + [OTHER], "observers": observers, "error_consistency": pairs}
