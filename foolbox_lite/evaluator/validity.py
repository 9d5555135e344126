"""Validity of cue-conflict items from their single-cue control twins, per observer.

A set built with ``controls:`` holds, for every conflict item, twins that keep one
cue each (manifest ``control``/``twin``).  For an observer:

- ``controls``: per kept cue, how many twins it saw and the fraction it named by that
  cue's label (the plain seat called "toilet seat", the zebra coat called "zebra");
- a conflict item is **valid** when the observer recognised every one of its twins;
  it is unknown (``None``) when the observer saw none or only some of them;
- ``valid``: cue fractions and shape bias over the valid conflict items only;
- ``exclusions``: what each figure leaves out and why, with counts.

Sets without controls report ``controls: null`` and ``valid: null``, never zeros.
"""

from __future__ import annotations

from collections.abc import Sequence

from .cues import Trial
from .metrics import cue_fractions, shape_bias

__all__ = ["conflict_trials", "controls_summary", "exclusions", "is_conflict", "mark_validity", "twin_correct", "valid_summary"]


def conflict_trials(trials: Sequence[Trial]) -> list[Trial]:
    """The trials on conflict items (not on control twins)."""
    return [t for t in trials if not t.control]


def twin_correct(t: Trial) -> bool:
    """Whether a twin trial's response is the label of the cue the twin keeps."""
    return bool(t.control) and t.response == t.cues.get(t.control)


def mark_validity(trials: Sequence[Trial]) -> None:
    """Set ``valid`` on one observer's conflict trials from its twin trials (left ``None`` without twins)."""
    cues = list(dict.fromkeys(t.control for t in trials if t.control))
    if not cues:
        return
    twins = {(t.twin, t.control): twin_correct(t) for t in trials if t.control}
    for t in trials:
        if t.control:
            continue
        seen = [twins.get((t.stimulus_id, c)) for c in cues]
        t.valid = None if any(s is None for s in seen) else all(seen)


def controls_summary(trials: Sequence[Trial], cues: Sequence[str]) -> dict[str, dict[str, object]] | None:
    """``{cue: {n, accuracy}}`` over the observer's twin trials; ``None`` when it has none."""
    out: dict[str, dict[str, object]] = {}
    for c in cues:
        ts = [t for t in trials if t.control == c]
        if ts:
            out[c] = {"n": len(ts), "accuracy": sum(map(twin_correct, ts)) / len(ts)}
    return out or None


def is_conflict(t: Trial, shape: str = "shape", texture: str = "texture") -> bool:
    """Whether the trial's shape and texture labels differ (or it lacks one of them)."""
    s, x = t.cues.get(shape), t.cues.get(texture)
    return s is None or x is None or s != x


def valid_summary(trials: Sequence[Trial], cues: Sequence[str], shape: str = "shape", texture: str = "texture") -> dict[str, object] | None:
    """Cue fractions and shape bias over the valid conflict items (no-conflict items left out); ``None`` when validity is unknown."""
    conflict = conflict_trials(trials)
    if all(t.valid is None for t in conflict):
        return None
    valid = [t for t in conflict if t.valid and is_conflict(t, shape, texture)]
    return {"n": len(valid), "cue_fractions": cue_fractions(valid, cues) if valid else None, "shape_bias": shape_bias(valid, shape, texture)}


def exclusions(trials: Sequence[Trial], shape: str = "shape", texture: str = "texture", *, has_controls: bool | None = None) -> dict[str, object]:
    """Counts of what the figures leave out, and a sentence saying why (``has_controls``: the set has twins;
    default: this observer saw some)."""
    conflict = conflict_trials(trials)
    twins = len(trials) - len(conflict)
    controlled = bool(twins) if has_controls is None else has_controls
    no_conflict = sum(not is_conflict(t, shape, texture) for t in conflict)
    invalid = sum(t.valid is False and is_conflict(t, shape, texture) for t in conflict)
    unknown = sum(t.valid is None for t in conflict)
    decided = sum(t.response in (t.cues.get(shape), t.cues.get(texture)) for t in conflict if is_conflict(t, shape, texture))
    text = [f"{len(conflict)} conflict items"]
    if twins:
        text.append(f"{twins} control twins are counted only as controls")
    if no_conflict:
        text.append(f"{no_conflict} items whose {shape} and {texture} labels are the same (no conflict) are left out of shape bias and of the valid subset")
    text.append(f"shape bias is over the {decided} decisions that named the {shape} or the {texture} label")
    if controlled and unknown < len(conflict):
        text.append(f"{invalid} conflict items are invalid (a twin was not recognised) and left out of the valid subset")
    if controlled and unknown:
        text.append(f"validity is unknown for {unknown} items (no trial on their twins)")
    return {"control_twins": twins, "no_conflict": no_conflict, "invalid": invalid if controlled else None, "validity_unknown": unknown if controlled else None,
            "shape_or_texture_decisions": decided, "explanation": "; ".join(text) + "."}
