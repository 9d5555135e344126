"""Composition of operators: a sequence (:class:`Pipeline`) and a random choice (:class:`OneOf`).

Each child draws from its own per-item stream, keyed by its path in the tree
(``"0"``, ``"1"``, ``"1.0"``...), so adding an operator at the end of a pipeline
does not change what the earlier ones drew, and every item's record says which
operator at which path did what.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from .errors import ParameterError
from .operators.base import Operator, SampleContext, records_at, scatter
from .operators.buffers import offer_output, reusable
from .params import check_number
from .stimuli import Stimuli

__all__ = ["Pipeline", "OneOf"]


def _tensors(stim: Stimuli) -> list[torch.Tensor]:
    return [stim.images, *stim.layers.values()]


def _child_path(path: str, k: int) -> str:
    return f"{path}.{k}" if path else str(k)


def _check_ops(ops: Sequence[Operator], what: str) -> list[Operator]:
    ops = list(ops)
    if not ops:
        raise ParameterError(f"{what} needs at least one operator")
    for k, op in enumerate(ops):
        if not isinstance(op, Operator):
            raise ParameterError(f"{what}[{k}] is {type(op).__name__}, not an operator", hint="use classes from fl.ops")
    return ops


class Pipeline(Operator):
    """Apply operators in sequence, every one seeded per item from ``(seed, item index, its path)``.

    ``pipe(stim)`` returns the transformed batch; each item's ``params`` lists every
    operator's record, and ``pipe.replay(stim, [it.params for it in out.items])``
    reproduces ``out`` from them.
    """

    name = "pipeline"
    differentiable = True

    def __init__(self, ops: Sequence[Operator], seed: int = 0) -> None:
        super().__init__(config={"ops": list(ops), "seed": seed})
        self.ops = _check_ops(ops, "Pipeline")
        self.seed = int(check_number("seed", seed, integer=True))
        self.default_seed = self.seed

    @property
    def root_path(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"Pipeline({self.ops!r}, seed={self.seed})"

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:  # pragma: no cover - not used
        raise NotImplementedError("a Pipeline applies its children; call it or use replay()")

    def _run(self, stim: Stimuli, *, seed: int, path: str) -> Stimuli:
        def step(k: int, op: Operator, s: Stimuli) -> Stimuli:
            op._validate(s)
            return op._run(s, seed=seed, path=_child_path(path, k))

        return self._chain(stim, step)

    def replay(self, stim: Stimuli, history: Sequence[Sequence[Mapping[str, Any]]] | None = None, *, path: str = "") -> Stimuli:  # type: ignore[override]
        """Apply the recorded parameters again; ``history`` is each item's ``params`` list."""
        if history is None:
            history = [it.params for it in stim.items]
        return self._replay_tree(stim, history, path)

    def _replay_tree(self, stim: Stimuli, history: Sequence[Sequence[Mapping[str, Any]]], path: str) -> Stimuli:
        return self._chain(stim, lambda k, op, s: op._replay_tree(s, history, _child_path(path, k)))

    def _chain(self, stim: Stimuli, step: Callable[[int, Operator, Stimuli], Stimuli]) -> Stimuli:
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


class OneOf(Operator):
    """Apply one of ``ops`` per item, chosen with probabilities proportional to ``weights``."""

    name = "one_of"
    differentiable = True

    def __init__(self, ops: Sequence[Operator], weights: Sequence[float] | None = None) -> None:
        super().__init__(config={"ops": list(ops), "weights": None if weights is None else list(weights)})
        self.ops = _check_ops(ops, "OneOf")
        w = [1.0] * len(self.ops) if weights is None else [float(check_number(f"weights[{i}]", x, low=0.0)) for i, x in enumerate(weights)]
        if len(w) != len(self.ops) or sum(w) <= 0:
            raise ParameterError(f"OneOf: weights must be {len(self.ops)} non-negative numbers with a positive sum, got {weights!r}")
        self.weights = torch.tensor(w, dtype=torch.float64)

    @classmethod
    def example(cls) -> Operator:
        from .operators.color import Grayscale, Invert

        return cls([Grayscale(), Invert()], weights=[1.0, 2.0])

    def sample(self, g: torch.Generator, ctx: SampleContext) -> dict[str, Any]:
        return {"choice": int(torch.multinomial(self.weights, 1, generator=g).item())}

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:  # pragma: no cover - not used
        raise NotImplementedError("OneOf applies its children")

    def _run(self, stim: Stimuli, *, seed: int, path: str) -> Stimuli:
        records = self.sample_params(stim, seed=seed, path=path)
        return self._dispatch(stim, records, path, lambda op, sub, p, idx: op._run(sub, seed=seed, path=p))

    def _replay_tree(self, stim: Stimuli, history: Sequence[Sequence[Mapping[str, Any]]], path: str) -> Stimuli:
        records = records_at(stim, history, path)
        return self._dispatch(
            stim, records, path, lambda op, sub, p, idx: op._replay_tree(sub, [history[i] for i in idx], p)
        )

    def _dispatch(self, stim: Stimuli, records: Sequence[Mapping[str, Any]], path: str, run_child: Callable[[Operator, Stimuli, str, list[int]], Stimuli]) -> Stimuli:
        items = [it.copy() for it in stim.items]
        for it, r in zip(items, records):
            it.params.append({"op": self.name, "path": path, "applied": True, "params": dict(r["params"])})
        out = Stimuli(stim.images, stim.layers, items)
        for k, op in enumerate(self.ops):
            idx = [i for i, r in enumerate(records) if r["params"]["choice"] == k]
            if not idx:
                continue
            sub = run_child(op, out.select(idx), _child_path(path, k), idx)
            out = sub if len(idx) == len(stim) else scatter(out, sub, idx, f"OneOf choice {k} ({op.name})")
        return out
