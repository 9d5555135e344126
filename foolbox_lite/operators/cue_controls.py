"""How an operator takes part in a single-cue control twin.

A *control twin* of a cue-conflict item keeps one cue (``shape``, ``texture`` or
``background``) and neutralises the others, replaying the item's own recorded
parameters so that geometry, placement and noise are identical.  Each operator
class declares, in ``cue_controls``, what it does in the twin that keeps each cue:

- :data:`SAME`: applied exactly as in the conflict item (noise, colour, filters);
- :data:`SKIP`: left out; its record is kept so the twin's history matches
  (warps in the texture twin: a full-frame texture has no silhouette to move);
- any other text: the operator has a cue-neutralising mode, described by that text
  and returned by ``op.control(keep)`` (texture fills, compositing).

A kept cue an operator does not list cannot be isolated through that operator:
:func:`control_operator` returns ``None`` and recipes report it as an error naming
the operator.  See docs/recipes.md ("Paired controls") for the table per operator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import Operator

__all__ = [
    "APPEARANCE",
    "CONTROL_CUES",
    "GEOMETRY",
    "NEUTRAL_BACKGROUND",
    "NEUTRAL_SURFACE",
    "SAME",
    "SKIP",
    "Unapplied",
    "control_operator",
    "declared_controls",
]

#: The cues a control twin can keep.
CONTROL_CUES: tuple[str, ...] = ("shape", "texture", "background")
SAME = "same"
SKIP = "skip"
#: Grey of the neutral surface that replaces a texture in a shape twin (shading applied on top where the operator shades).
NEUTRAL_SURFACE = 0.75
#: Grey of the neutral background behind a shape twin (when the operator has no blank fill of its own).
NEUTRAL_BACKGROUND = 0.45

#: Warps: the same in the shape and background twins, left out in the full-frame texture twin.
GEOMETRY: Mapping[str, str] = {"shape": SAME, "texture": SKIP, "background": SAME}
#: Pixel-wise appearance changes (noise, colour, contrast, filters, perturbations): the same in every twin.
APPEARANCE: Mapping[str, str] = {"shape": SAME, "texture": SAME, "background": SAME}


def declared_controls(op: type[Operator] | Operator) -> Mapping[str, str]:
    """What ``op`` (a class or an instance) declares per kept cue; empty when it declares nothing."""
    return getattr(op, "cue_controls", None) or {}


class Unapplied(Operator):
    """Stands in for an operator that a control twin leaves out: replays its records, changes nothing."""

    def __init__(self, op: Operator) -> None:
        super().__init__()
        self.name = op.name  # type: ignore[misc]  # the records carry the original operator's name
        self.op = op

    def apply(self, stim: Any, params: Sequence[Mapping[str, Any]]) -> Any:
        return stim.replace()


def control_operator(op: Operator, keep: str) -> Operator | None:
    """The operator ``op`` becomes in the twin that keeps ``keep``; ``None`` when it cannot neutralise for it."""
    how = declared_controls(op).get(keep)
    if how is None:
        return None
    if how == SAME:
        return op
    if how == SKIP:
        return Unapplied(op)
    return op.control(keep)  # type: ignore[attr-defined, no-any-return]
