"""The per-observer analyses that ``summary.json`` adds to cue fractions and shape bias.

- ``controls``/``valid``/``exclusions``: cue validity from control twins (:mod:`.validity`);
- ``evidence``: rank and probability of each cue's label (:mod:`.evidence`);
- ``by_factor``: every figure per level of each design factor (:mod:`.by_factor`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .by_factor import by_factor
from .cues import Trial
from .evidence import evidence_summary
from .validity import conflict_trials, controls_summary, exclusions, valid_summary

__all__ = ["add_analyses", "common_labels"]


def add_analyses(summary: dict[str, Any], trials: Mapping[str, Sequence[Trial]], cues: Sequence[str], *, controls: Sequence[str], accuracy_cue: str) -> dict[str, Any]:
    """Add ``controls``, ``valid``, ``exclusions``, ``evidence`` and ``by_factor`` to each observer of ``summary`` (in place)."""
    cue_names = [c for c in cues if c != "other"]
    summary["controls"] = list(controls) or None
    summary["cue_labels"] = common_labels(trials, cue_names)
    for name, ts in trials.items():
        o = summary["observers"][name]
        o["controls"] = controls_summary(ts, controls) if controls else None
        o["valid"] = valid_summary(ts, cues) if controls else None
        o["exclusions"] = exclusions(ts, has_controls=bool(controls))
        o["evidence"] = evidence_summary(conflict_trials(ts), cue_names)
        o["by_factor"] = by_factor(ts, cues, accuracy_cue)
    return summary


def common_labels(trials: Mapping[str, Sequence[Trial]], cues: Sequence[str]) -> dict[str, str | None]:
    """Each cue's label when every conflict item shares it (the flagship's "toilet seat"), else ``None``."""
    out: dict[str, str | None] = {}
    for c in cues:
        labels = {t.cues.get(c) for ts in trials.values() for t in ts if not t.control}
        out[c] = labels.pop() if len(labels) == 1 and None not in labels else None
    return out
