"""Cue attribution: which of a stimulus's cues did a decision follow?

A decision follows cue ``c`` when it equals the stimulus's label for ``c``
(``shape``, ``texture``, ``background``... whatever the manifest names);
otherwise it is ``other``.  When two cues share the label (no conflict), the
first in the set's cue order wins (``shape`` before ``texture``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OTHER", "Trial", "check_cue", "cue_order", "followed_cue"]

#: The attribution of a decision that matches no cue.
OTHER = "other"


def cue_order(declared: Sequence[str], cues_seen: Sequence[Mapping[str, str]] = ()) -> list[str]:
    """The set's cue names in order: the declared ones, then any others the manifest uses (sorted)."""
    order = [c for c in declared if c != OTHER]
    extra = sorted({k for cues in cues_seen for k in cues} - set(order) - {OTHER})
    return order + extra


def check_cue(name: str, cues: Sequence[str], what: str = "--reference-cue") -> str:
    """``name`` if it is one of the set's ``cues``; else a :class:`ParameterError` naming the known cues.

    An unknown cue would silently give an accuracy of null.
    """
    if name not in cues:
        import difflib

        from ..errors import ParameterError, short_repr

        near = difflib.get_close_matches(str(name), list(cues), n=1, cutoff=0.5)
        raise ParameterError(f"{what} {short_repr(name)} is not a cue of the set", hint=f"did you mean {near[0]!r}?" if near else f"cues: {', '.join(cues) or 'none'}")
    return name


def followed_cue(decision: str, cues: Mapping[str, str], order: Sequence[str]) -> str:
    """The first cue in ``order`` whose label is ``decision``, else ``other``."""
    for name in order:
        label = cues.get(name)
        if label is not None and label == decision:
            return name
    for name, label in cues.items():  # cues the order does not list
        if name not in order and label == decision:
            return name
    return OTHER


@dataclass
class Trial:
    """One observer's response to one stimulus (a row of ``trials.csv``)."""

    observer: str
    stimulus: str  # the stimulus's file name (``imagename``)
    response: str
    followed: str
    cues: dict[str, str] = field(default_factory=dict)
    condition: str = ""
    reference: str = ""  # the reference cue's label (``category``)
    trial: int = 0
    session: int = 1
    rt: float = math.nan
    stimulus_id: str = ""
    #: for a control twin: the cue it keeps and its conflict item's id (empty for conflict items)
    control: str = ""
    twin: str = ""
    #: the stimulus's design factors (level per factor), from the manifest
    factors: dict[str, Any] = field(default_factory=dict)
    #: graded evidence per cue name: rank of its label (1 = the decision) and its probability (models only)
    ranks: dict[str, int] = field(default_factory=dict)
    probs: dict[str, float] = field(default_factory=dict)
    #: a conflict trial whose twins this observer recognised (None: no controls, or no twin trial)
    valid: bool | None = None
