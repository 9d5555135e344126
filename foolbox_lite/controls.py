"""Single-cue control twins of a pipeline's output, from Python.

A cue-conflict image carries several cues at once (a toilet seat's shape, a zebra's
texture, a scene).  Its *twin* for cue ``c`` keeps only ``c``: the pipeline is
replayed from the item's own records with every operator in its cue-neutralising
mode (see :mod:`foolbox_lite.operators.cue_controls`), so the geometry, placement
and noise are those of the conflict item::

    import foolbox_lite as fl
    out = pipe(stim)
    twins = fl.control_twins(pipe, stim, out, ["shape", "texture"])
    twins["shape"].images      # the same silhouettes, plain grey, on neutral grey
    twins["texture"].items[0].id   # "<conflict id>-texture"

Recipes ask for the same with ``controls: [shape, texture]`` (docs/recipes.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import ParameterError
from .operators.base import Transform
from .operators.cue_controls import CONTROL_CUES, SAME, SKIP, control_operator, declared_controls
from .pipeline import Composition, OneOf, Pipeline
from .stimuli import Stimuli

__all__ = ["CONTROL_CUES", "control_pipeline", "control_twins", "isolating_operators", "replay_twin", "twin_id", "uncontrollable"]


def twin_id(item_id: str, cue: str) -> str:
    """The id of item ``item_id``'s twin that keeps ``cue``."""
    return f"{item_id}-{cue}"


def _leaves(op: Transform) -> list[Transform]:
    if isinstance(op, Composition):
        return [leaf for child in op.ops for leaf in _leaves(child)]
    return [op]


def uncontrollable(op: Transform, keep: str) -> list[Transform]:
    """The operators of ``op`` (a pipeline or one operator) that declare no mode for a ``keep`` twin."""
    return [leaf for leaf in _leaves(op) if keep not in declared_controls(leaf)]


def isolating_operators(op: Transform, keep: str) -> list[Transform]:
    """The operators of ``op`` that actively remove the other cues in a ``keep`` twin (neither same nor skipped)."""
    return [leaf for leaf in _leaves(op) if declared_controls(leaf).get(keep) not in (None, SAME, SKIP)]


def control_pipeline(op: Transform, keep: str) -> Transform:
    """``op`` (a pipeline, a choice or one operator) with every operator in its mode for the twin that keeps ``keep``.

    Raises :class:`~foolbox_lite.errors.ParameterError` naming the first operator that
    cannot take part, or when no operator removes the other cues.
    """
    if keep not in CONTROL_CUES:
        raise ParameterError(f"a control twin keeps one of {', '.join(CONTROL_CUES)}, not {keep!r}")
    bad = uncontrollable(op, keep)
    if bad:
        can = ", ".join(declared_controls(bad[0]))
        raise ParameterError(
            f"operator {bad[0].name!r} cannot neutralise the other cues for a {keep!r} control twin "
            + (f"(it makes twins for: {can})" if can else "(it makes no control twins)"),
            hint="see docs/recipes.md, 'Paired controls', for what each operator can isolate",
        )
    if not isolating_operators(op, keep):
        raise ParameterError(f"no operator of the pipeline isolates the {keep!r} cue, so its twin would equal the conflict image",
                             hint="controls need an operator that removes the other cues (texture_fill, texture_shaded, composite)")
    return _convert(op, keep)


def _convert(op: Transform, keep: str) -> Transform:
    if isinstance(op, Pipeline):
        return Pipeline([_convert(child, keep) for child in op.ops], seed=op.seed)
    if isinstance(op, OneOf):
        return OneOf([_convert(child, keep) for child in op.ops], weights=op.weights.tolist())
    twin = control_operator(op, keep)
    assert twin is not None  # checked by control_pipeline
    return twin


def control_twins(pipeline: Pipeline, stim: Stimuli, result: Stimuli, keep: Sequence[str] = ("shape", "texture")) -> dict[str, Stimuli]:
    """The twins of ``result = pipeline(stim)`` that keep each cue in ``keep``, keyed by cue.

    Each twin replays the conflict item's recorded parameters from the same input
    ``stim``; its item has id ``<id>-<cue>`` and the conflict item's cue labels and
    sources (the labels say which cue the twin was made to keep).
    """
    if len(stim) != len(result):
        raise ParameterError(f"result has {len(result)} items but stim has {len(stim)}; pass the batch the pipeline ran on")
    return {cue: replay_twin(control_pipeline(pipeline, cue), stim, result, cue) for cue in keep}


def replay_twin(twin_pipeline: Transform, stim: Stimuli, result: Stimuli, cue: str) -> Stimuli:
    """Replay ``result``'s records through ``twin_pipeline`` (from :func:`control_pipeline`) on ``stim``: the ``cue`` twins."""
    twin = twin_pipeline.replay(stim, [it.params for it in result.items])  # type: ignore[attr-defined]
    items = [r.copy() for r in result.items]
    for it, done in zip(items, twin.items):
        it.id = twin_id(it.id, cue)
        it.params = done.params
    return Stimuli(twin.images, twin.layers, items)
