"""The operator model: sample parameters per item, then apply them to a batch.

Every operator is a subclass of :class:`Operator` that implements how it draws its
parameters and :meth:`Operator.apply`, which applies them to a batch, batched:

- :meth:`Operator.sample_batch` draws the whole batch's parameters at once as columns
  from :class:`~foolbox_lite.seeding.BatchDraws` (one counter-based stream per item,
  keyed by ``(seed, item index, operator path)``): O(1) Python work per batch;
- or :meth:`Operator.sample` draws one item's parameters from that item's own
  ``torch.Generator`` (for parameters that are not numbers: texture names, prompts).

The final :meth:`Transform.__call__` owns validation and the seed; an operator's
run owns the per-operator probability ``p``, the draws and the parameter record
(a :class:`~foolbox_lite.operators.records.BatchRecord`, materialised per item only when
read), so item ``i``'s output depends only on ``(seed, i, its inputs)`` and can be
replayed exactly from its record with :meth:`Operator.replay`.

:class:`Transform` is what operators and compositions (``foolbox_lite.pipeline``)
share: calling, replaying from per-item histories, and ``config()``, which is
recorded from the constructor call so that ``type(op)(**op.config())`` rebuilds it.
"""

from __future__ import annotations

import abc
import functools
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, final

import torch

from ..allocator import tune_allocator
from ..errors import InputError, ParameterError
from ..params import Spec, check_number
from ..seeding import BatchDraws, item_generator
from ..stimuli import Item, Stimuli
from .records import BatchRecord, Column, Params, _jsonable, plain_record

__all__ = ["BatchContext", "Operator", "Record", "SampleContext", "Transform", "records_at", "scatter"]

#: One entry of an item's parameter record: ``{"op", "path", "applied", "params"}``.
Record = dict[str, Any]


@dataclass(frozen=True)
class SampleContext:
    """What :meth:`Operator.sample` may look at besides its generator."""

    index: int
    height: int
    width: int
    item: Item


@dataclass(frozen=True)
class BatchContext:
    """What :meth:`Operator.sample_batch` may look at besides its draws: the batch and its size."""

    stim: Stimuli
    height: int
    width: int


def _record_arguments(init: Any) -> Any:
    """Wrap a constructor so that its outermost call stores the bound arguments (see :meth:`Transform.config`)."""
    sig = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        if "_arguments" not in self.__dict__:
            bound = sig.bind(self, *args, **kwargs)
            bound.apply_defaults()
            recorded: dict[str, Any] = {}
            for k, (name, v) in enumerate(bound.arguments.items()):
                kind = sig.parameters[name].kind
                if k == 0:
                    continue  # self
                if kind is inspect.Parameter.VAR_KEYWORD:
                    recorded.update(v)
                elif kind is inspect.Parameter.VAR_POSITIONAL:
                    raise TypeError(f"{type(self).__qualname__}: *{name} cannot be recorded; take a list instead")
                else:
                    recorded[name] = v
            self._arguments = recorded
        init(self, *args, **kwargs)

    return wrapper


class Transform(abc.ABC):
    """Anything a pipeline can run: an :class:`Operator` or a composition of transforms.

    Constructor arguments are recorded when the object is built, so subclasses write
    no ``config`` of their own: ``type(t)(**t.config())`` rebuilds an equal transform.
    """

    #: Registry name used in recipes and parameter records.
    name: ClassVar[str] = ""
    #: Whether the output is differentiable w.r.t. the images (the contract tests gradcheck it in float64).
    differentiable: ClassVar[bool] = False
    #: Seed used when ``__call__`` is given none (compositions carry their own).
    default_seed: int = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _record_arguments(cls.__dict__["__init__"])  # type: ignore[method-assign]

    def config(self) -> dict[str, Any]:
        """The constructor arguments: ``type(op)(**op.config())`` is an equal operator."""
        cfg = dict(self.__dict__.get("_arguments", {}))
        p = cfg.pop("p", None)
        if p is not None and float(p) != 1.0:
            cfg["p"] = float(p)
        return cfg

    def _record(self, **values: Any) -> None:
        """Replace recorded constructor arguments by a normalised copy (e.g. a dict for an object, a private tensor)."""
        self._arguments.update(values)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if not isinstance(v, torch.Tensor))
        return f"{type(self).__name__}({args})"

    @final
    def __call__(self, stim: Stimuli, *, seed: int | None = None, path: str | None = None) -> Stimuli:
        """Sample each item's parameters from its own generator, apply them and record them.

        ``seed`` defaults to :attr:`default_seed`; ``path`` names this transform's place in a
        pipeline (it is part of every item's random stream and of its record).
        """
        self._validate(stim)
        tune_allocator()  # once per process: fresh outputs then reuse freed heap memory (see foolbox_lite.allocator)
        seed = self.default_seed if seed is None else int(check_number("seed", seed, integer=True))
        return self._run(stim, seed=seed, path=path if path is not None else self.root_path)

    @property
    def root_path(self) -> str:
        """The path used when this transform is called on its own."""
        return self.name

    @abc.abstractmethod
    def _run(self, stim: Stimuli, *, seed: int, path: str) -> Stimuli:
        """Draw every item's parameters at ``path`` from ``seed`` and apply them."""

    @abc.abstractmethod
    def _replay_tree(self, stim: Stimuli, history: Sequence[Sequence[Mapping[str, Any]]], path: str) -> Stimuli:
        """Replay from whole per-item histories, picking this transform's records by ``path``."""

    def _validate(self, stim: Stimuli) -> None:
        if not isinstance(stim, Stimuli):
            raise InputError(
                f"operator {self.name!r} takes a Stimuli batch, got {type(stim).__name__}",
                hint="wrap tensors with fl.Stimuli.from_tensor(images, masks)",
            )


class Operator(Transform):
    """Base class of every stimulus operator.

    Subclasses set ``name`` (the registry name used by recipes), implement
    :meth:`apply` (and :meth:`sample` when they draw random parameters), pass ``p``
    to ``super().__init__(p=p)`` and provide :meth:`example` for the contract tests.
    """

    #: Whether the operator reads the ``mask`` layer.
    needs_mask: ClassVar[bool] = False
    #: Optional extras (``pip install foolbox-lite[EXTRA]``) the operator needs; the contract tests skip on nothing else.
    extras: ClassVar[tuple[str, ...]] = ()
    #: Constructor arguments that take textures: recipes resolve asset names given there to textures.
    texture_arguments: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, p: float = 1.0) -> None:
        self.p = float(check_number("p", p, low=0.0, high=1.0))

    # ------------------------------------------------------------------ to implement
    def sample(self, g: torch.Generator, ctx: SampleContext) -> dict[str, Any]:
        """Draw one item's parameters from ``g``; JSON-serialisable values only.

        Operators whose parameters are numbers implement :meth:`sample_batch` instead,
        which draws the whole batch at once; this per-item hook is for the others.
        """
        return {}

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> Mapping[str, Column] | None:
        """Draw every item's parameters at once: a column (tensor ``(B, ...)`` or list) per parameter.

        ``draws`` gives each item its own counter-based stream (see
        :class:`~foolbox_lite.seeding.BatchDraws`).  Return ``None`` (the default, unless the
        operator samples nothing) to draw per item with :meth:`sample` instead.
        """
        if type(self).sample is Operator.sample:
            return {}  # samples nothing: no per-item work at all
        return None

    @abc.abstractmethod
    def apply(self, stim: Stimuli, params: Params) -> Stimuli:
        """Apply the parameters (one row per item; see :class:`~foolbox_lite.operators.records.Params`) to the batch."""

    @classmethod
    def example(cls) -> Operator:
        """A configured instance for the contract tests (works on a masked RGB batch)."""
        return cls()

    # ------------------------------------------------------------------ provided
    def draw(self, draws: BatchDraws, spec: Spec) -> torch.Tensor:
        """One float64 value per item of a numeric parameter spec (one draw from every item's stream)."""
        col = spec.column(draws.uniform())
        return col.to(torch.float64) if isinstance(col, torch.Tensor) else torch.tensor(col, dtype=torch.float64)

    def sample_record(self, stim: Stimuli, *, seed: int, path: str) -> BatchRecord:
        """What this operator would draw for ``stim`` at ``path``: one :class:`BatchRecord` for the batch."""
        h, w = stim.size
        draws = BatchDraws(seed, stim.indices, path)
        applied = None
        if self.p < 1.0:
            applied = draws.uniform() < self.p
        columns = self.sample_batch(draws, BatchContext(stim, h, w))
        if columns is not None:
            return BatchRecord(self.name, path, applied, Params(columns, size=len(stim)))
        rows: list[dict[str, Any]] = []
        items = stim.items
        flags = [True] * len(items) if applied is None else applied.tolist()
        for item, on in zip(items, flags):
            rows.append(self.sample(item_generator(seed, item.index, path), SampleContext(item.index, h, w, item)) if on else {})
        return BatchRecord(self.name, path, applied, Params(rows=_jsonable(rows, self.name)))

    def sample_params(self, stim: Stimuli, *, seed: int, path: str) -> list[Record]:
        """The record every item of ``stim`` would get, as plain dicts, without applying anything."""
        rec = self.sample_record(stim, seed=seed, path=path)
        return [plain_record(rec.row(i)) for i in range(len(rec))]

    def _replay_tree(self, stim: Stimuli, history: Sequence[Sequence[Mapping[str, Any]]], path: str) -> Stimuli:
        return self.replay(stim, records_at(stim, history, path))

    def _run(self, stim: Stimuli, *, seed: int, path: str) -> Stimuli:
        return self._apply_record(stim, self.sample_record(stim, seed=seed, path=path))

    def replay(self, stim: Stimuli, records: Sequence[Mapping[str, Any]]) -> Stimuli:
        """Apply recorded parameters (one record per item) again: the same output as the original call."""
        self._validate(stim)
        if len(records) != len(stim):
            raise InputError(f"{len(records)} parameter records given for a batch of {len(stim)}")
        return self._apply_record(stim, BatchRecord.from_records(self.name, records))

    def _apply_record(self, stim: Stimuli, rec: BatchRecord) -> Stimuli:
        if rec.op != self.name:
            raise InputError(f"record for operator {rec.op!r} given to operator {self.name!r}")
        if rec.all_applied:
            out = self.apply(stim, rec.params)
        else:
            idx = [i for i, a in enumerate(rec.applied) if a]
            if not idx:
                out = stim.replace()
            else:
                sub = self.apply(stim.select(idx), rec.params.select(idx))
                out = scatter(stim, sub, idx, f"operator {self.name!r} with p < 1")
        self._check_output(stim, out)
        return out.with_record(rec)  # O(1): each item's row is materialised only when its history is read

    # ------------------------------------------------------------------ checks
    def _validate(self, stim: Stimuli) -> None:
        super()._validate(stim)
        if self.needs_mask:
            stim.mask  # noqa: B018 - raises a clear error when missing

    def _check_output(self, stim: Stimuli, out: Stimuli) -> None:
        if not isinstance(out, Stimuli) or len(out) != len(stim):
            raise RuntimeError(f"operator {self.name!r} returned a batch of the wrong size")
        if out.images.dtype != stim.images.dtype or out.images.device != stim.images.device:
            raise RuntimeError(f"operator {self.name!r} changed dtype/device {stim.dtype}/{stim.device} -> {out.dtype}/{out.device}")


def records_at(stim: Stimuli, history: Sequence[Sequence[Mapping[str, Any]]], path: str) -> list[Mapping[str, Any]]:
    """Each item's one record at ``path`` in its history (a clear error when missing or repeated)."""
    if len(history) != len(stim):
        raise InputError(f"{len(history)} histories given for a batch of {len(stim)}")
    recs = []
    for item, h in zip(stim.items, history):
        found = [r for r in h if r.get("path") == path]
        if len(found) != 1:
            raise InputError(f"item {item.id!r}: expected one record at path {path!r}, found {len(found)}")
        recs.append(found[0])
    return recs


def scatter(stim: Stimuli, sub: Stimuli, idx: Sequence[int], what: str) -> Stimuli:
    """Put the outputs ``sub`` of the items at positions ``idx`` back among the others of ``stim``."""
    if sub.images.shape[1:] != stim.images.shape[1:] or sub.dtype != stim.dtype:
        raise ParameterError(f"{what}: changes the image size or dtype, so it cannot run on part of a batch")
    if set(sub.layers) - set(stim.layers):
        raise ParameterError(f"{what}: adds layers {sorted(set(sub.layers) - set(stim.layers))}, so it cannot run on part of a batch")
    index = torch.as_tensor(idx, dtype=torch.long, device=stim.device)
    images = stim.images.index_copy(0, index, sub.images)
    layers = {k: (v.index_copy(0, index, sub.layers[k]) if k in sub.layers else v) for k, v in stim.layers.items()}
    items = [it.copy() for it in stim.items]
    for j, i in enumerate(idx):
        items[i] = sub.items[j].copy()
    return Stimuli(images, layers, items)
