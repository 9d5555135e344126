"""The ``skipped`` step: what a recipe step becomes for an item its ``when:`` excludes.

It changes nothing, but it keeps the step's place (so later steps keep their paths and
random streams) and leaves a record naming the operator it stands in for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..stimuli import Stimuli
from .base import Operator
from .cue_controls import APPEARANCE

__all__ = ["Skipped", "OPERATORS"]


class Skipped(Operator):
    """Stands in for a step whose ``when:`` excludes the item: changes nothing, keeps the paths of later steps.

    ``op`` is the name of the operator it stands in for (kept in :meth:`config`).
    """

    name = "skipped"
    differentiable = True
    cue_controls = APPEARANCE  # changes nothing, in every twin

    def __init__(self, op: str = "") -> None:
        super().__init__()
        self.op = op

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        return stim.replace()


OPERATORS: tuple[type[Operator], ...] = (Skipped,)
