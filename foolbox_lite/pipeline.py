"""Composition of operators: a sequence (:class:`Pipeline`) and a random choice (:class:`OneOf`).

Each child draws from its own per-item stream, keyed by its path in the tree
(``"0"``, ``"1"``, ``"1.0"``...), so adding an operator at the end of a pipeline
does not change what the earlier ones drew, and every item's record says which
operator at which path did what.

Compositions are :class:`~foolbox_lite.operators.base.Transform` s but not operators:
they sample nothing themselves except :class:`OneOf`'s choice, apply nothing, and
replay from whole per-item histories (:meth:`Composition.replay`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from .errors import InputError, ParameterError
from .operators.base import Transform, records_at, scatter
from .operators.buffers import offer_output, reusable
from .operators.records import BatchRecord, Params
from .params import check_number
from .seeding import BatchDraws
from .stimuli import Stimuli

__all__ = ["Composition", "OneOf", "Pipeline"]


def _tensors(stim: Stimuli) -> list[torch.Tensor]:
    return [stim.images, *stim.layers.values()]


def _child_path(path: str, k: int) -> str:
    return f"{path}.{k}" if path else str(k)


def _check_ops(ops: Sequence[Transform], what: str) -> list[Transform]:
    ops = list(ops)
    if not ops:
        raise ParameterError(f"{what} needs at least one operator")
    for k, op in enumerate(ops):
        if not isinstance(op, Transform):
            raise ParameterError(f"{what}[{k}] is {type(op).__name__}, not an operator", hint="use classes from fl.ops")
    return ops


class Composition(Transform):
    """A transform made of child transforms ``ops``; replayed from each item's whole record list."""

    ops: list[Transform]

    @property  # type: ignore[override]
    def differentiable(self) -> bool:  # a composition is as differentiable as its least differentiable child
        return all(op.differentiable for op in self.ops)

    def replay(self, stim: Stimuli, history: Sequence[Sequence[Mapping[str, Any]]] | None = None, *, path: str | None = None) -> Stimuli:
        """Apply the recorded parameters again; ``history`` is each item's ``params`` list (default: ``stim``'s own)."""
        self._validate(stim)
        if history is None:
            history = [it.params for it in stim.items]
        return self._replay_tree(stim, history, self.root_path if path is None else path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.ops!r}{''.join(f', {k}={v!r}' for k, v in self.config().items() if k != 'ops')})"


class Pipeline(Composition):
    """Apply operators in sequence, every one seeded per item from ``(seed, item index, its path)``.

    ``pipe(stim)`` returns the transformed batch; each item's ``params`` lists every
    operator's record, and ``pipe.replay(stim, [it.params for it in out.items])``
    reproduces ``out`` from them.
    """

    name = "pipeline"

    def __init__(self, ops: Sequence[Transform], seed: int = 0) -> None:
        self.ops = _check_ops(ops, "Pipeline")
        self.seed = int(check_number("seed", seed, integer=True))
        self.default_seed = self.seed
        self._record(ops=list(ops))

    @classmethod
    def example(cls) -> Pipeline:
        """A configured instance for the contract tests: several steps (so buffers are reused), ``p < 1`` and a nested choice."""
        from .operators.color import Grayscale, Invert
        from .operators.noise import GaussianNoise

        return cls([GaussianNoise(std=(0.02, 0.1)), Invert(p=0.5), OneOf.example(), Grayscale(), GaussianNoise(std=0.05, mono=True)], seed=2)

    @property
    def root_path(self) -> str:
        return ""

    def _run(self, stim: Stimuli, *, seed: int, path: str) -> Stimuli:
        def step(k: int, op: Transform, s: Stimuli) -> Stimuli:
            op._validate(s)
            return op._run(s, seed=seed, path=_child_path(path, k))

        return self._chain(stim, step)

    def _replay_tree(self, stim: Stimuli, history: Sequence[Sequence[Mapping[str, Any]]], path: str) -> Stimuli:
        return self._chain(stim, lambda k, op, s: op._replay_tree(s, history, _child_path(path, k)))

    def _chain(self, stim: Stimuli, step: Callable[[int, Transform, Stimuli], Stimuli]) -> Stimuli:
        """Run ``step`` for every child in order, offering each the images of the batch two steps back.

        That batch is an intermediate of this call that nothing else can reach once the next
        step has its input; it is offered only when it shares no memory with that input or
        with the caller's batch (see :func:`~foolbox_lite.operators.buffers.reusable`).
        """
        caller = _tensors(stim)
        dead: Stimuli | None = None
        for k, op in enumerate(self.ops):
            buf = dead.images if dead is not None and reusable(dead.images, [*_tensors(stim), *caller]) else None
            with offer_output(buf):
                out = step(k, op, stim)
            dead = stim if k > 0 else None
            stim = out
        return stim


class OneOf(Composition):
    """Apply one of ``ops`` per item, chosen with probabilities proportional to ``weights``.

    Each item's choice is drawn from its own stream at the OneOf's path and recorded
    there as ``{"op": "one_of", "params": {"choice": k}}``.
    """

    name = "one_of"

    def __init__(self, ops: Sequence[Transform], weights: Sequence[float] | None = None) -> None:
        self.ops = _check_ops(ops, "OneOf")
        w = [1.0] * len(self.ops) if weights is None else [float(check_number(f"weights[{i}]", x, low=0.0)) for i, x in enumerate(weights)]
        if len(w) != len(self.ops) or sum(w) <= 0:
            raise ParameterError(f"OneOf: weights must be {len(self.ops)} non-negative numbers with a positive sum, got {weights!r}")
        self.weights = torch.tensor(w, dtype=torch.float64)

        self._record(ops=list(ops), weights=None if weights is None else list(weights))

    @classmethod
    def example(cls) -> OneOf:
        """A configured instance for the contract tests."""
        from .operators.color import Grayscale, Invert

        return cls([Grayscale(), Invert()], weights=[1.0, 2.0])

    def choices(self, stim: Stimuli, *, seed: int, path: str) -> BatchRecord:
        """Which child each item gets (column ``choice``), drawn from each item's own stream at ``path``."""
        u = BatchDraws(seed, stim.indices, path).uniform()
        cum = torch.cumsum(self.weights, 0)
        k = torch.searchsorted(cum / cum[-1], u, right=True).clamp_(max=len(self.ops) - 1)
        return BatchRecord(self.name, path, None, Params({"choice": k}, size=len(stim)))

    def _run(self, stim: Stimuli, *, seed: int, path: str) -> Stimuli:
        record = self.choices(stim, seed=seed, path=path)
        return self._dispatch(stim, record, path, lambda op, sub, p, idx: op._run(sub, seed=seed, path=p))

    def _replay_tree(self, stim: Stimuli, history: Sequence[Sequence[Mapping[str, Any]]], path: str) -> Stimuli:
        record = BatchRecord.from_records(self.name, records_at(stim, history, path))
        return self._dispatch(
            stim, record, path, lambda op, sub, p, idx: op._replay_tree(sub, [history[i] for i in idx], p)
        )

    def _dispatch(self, stim: Stimuli, record: BatchRecord, path: str, run_child: Callable[[Transform, Stimuli, str, list[int]], Stimuli]) -> Stimuli:
        choice = record.params.column("choice", dtype=torch.long, what=f"OneOf at {path!r}")
        if choice.dim() != 1 or ((choice < 0) | (choice >= len(self.ops))).any():
            raise InputError(f"OneOf at {path!r}: recorded choices must be integers in [0, {len(self.ops)}), got {choice.tolist()}")
        out = stim.with_record(record)
        chosen = choice.tolist()
        for k, op in enumerate(self.ops):
            idx = [i for i, c in enumerate(chosen) if c == k]
            if not idx:
                continue
            sub = run_child(op, out.select(idx), _child_path(path, k), idx)
            out = sub if len(idx) == len(stim) else scatter(out, sub, idx, f"OneOf choice {k} ({op.name})")
        return out
