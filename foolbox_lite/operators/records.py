"""Parameter records stored per batch (structure of arrays), materialised per item on demand.

One operator call draws its parameters for the whole batch at once: a
:class:`BatchRecord` holds them as columns (a tensor or a list per parameter, the
batch along the first dimension) plus which items the operator applied to.  Each
item's history then gets a :class:`RowRecord`, a read-only view of its row, so an
operator call costs O(1) Python work per parameter, not per item.  Plain
per-item dicts (``{"op", "path", "applied", "params"}``) are built only when
something reads a row's ``params``, e.g. when a manifest line is written, and
then once per batch; :func:`plain_record` makes a fresh copy for code that keeps one.

:class:`Params` is what :meth:`Operator.apply` receives: a sequence of per-item
parameter dicts (for code that loops over items) that also hands out whole
columns (:meth:`Params.column`) for code that does not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch

from ..errors import InputError
from ..stimuli import plain_record

__all__ = ["BatchRecord", "Column", "Params", "RowRecord", "as_params", "plain_record"]

#: One parameter for a whole batch: a tensor ``(B, ...)`` or a list of ``B`` JSON values.
Column = torch.Tensor | list[Any]

_ENCODER = json.JSONEncoder(allow_nan=False)


def _to_python(col: Column) -> list[Any]:
    """A column as ``B`` plain Python values (floats, ints, bools and nested lists of them)."""
    return col.detach().cpu().tolist() if isinstance(col, torch.Tensor) else list(col)


class Params(Sequence[Mapping[str, Any]]):
    """One operator's parameters for a batch: per-item dicts and whole columns.

    Built from columns (what :meth:`Operator.sample_batch` returns) or from per-item
    dicts (replayed records, operators that sample per item); either way
    ``params[i]`` is item ``i``'s dict and ``params.column(name)`` the batch's values.
    """

    __slots__ = ("_columns", "_rows", "_size")

    def __init__(self, columns: Mapping[str, Column] | None = None, rows: Sequence[Mapping[str, Any]] | None = None, *, size: int | None = None) -> None:
        if (columns is None) == (rows is None):
            raise ValueError("Params takes columns or rows, not both")
        self._columns = dict(columns) if columns is not None else None
        self._rows = list(rows) if rows is not None else None
        self._size = len(self._rows) if self._rows is not None else int(size if size is not None else 0)
        if self._columns is not None:
            for name, col in self._columns.items():
                if len(col) != self._size:
                    raise RuntimeError(f"parameter column {name!r} has {len(col)} values for a batch of {self._size}")

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, i: Any) -> Any:
        return self.rows()[i]

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return iter(self.rows())

    def rows(self) -> list[dict[str, Any]]:
        """Per-item dicts of plain Python values (built once, on first use, from the columns)."""
        if self._rows is None:
            assert self._columns is not None
            names = list(self._columns)
            values = [_to_python(self._columns[n]) for n in names]
            self._rows = [dict(zip(names, vals)) for vals in zip(*values)] if names else [{} for _ in range(self._size)]
        return self._rows  # type: ignore[return-value]

    def column(self, name: str, *, dtype: torch.dtype | None = None, device: torch.device | str | None = None, what: str = "") -> torch.Tensor:
        """Parameter ``name`` of every item as one tensor ``(B, ...)``; a clear error when an item lacks it."""
        if self._columns is not None and name in self._columns and isinstance(self._columns[name], torch.Tensor):
            col = self._columns[name]
        else:
            try:
                vals = self.values(name)
                col = torch.tensor(vals, dtype=dtype or _infer_dtype(vals))
            except (TypeError, ValueError, RuntimeError) as exc:
                raise InputError(f"{what or 'operator'}: parameter {name!r} must be a number (or equal-sized lists of numbers) for every item: {exc}") from None
        return col.to(device=device, dtype=dtype) if (dtype is not None or device is not None) else col  # type: ignore[union-attr]

    def values(self, name: str) -> list[Any]:
        """Parameter ``name`` of every item as a list (a clear error naming the first item without it)."""
        if self._columns is not None and name in self._columns:
            return _to_python(self._columns[name])
        rows = self.rows()
        for i, r in enumerate(rows):
            if name not in r:
                raise InputError(f"item {i}: parameter record has no {name!r} (it has {sorted(r)})")
        return [r[name] for r in rows]

    def select(self, index: Sequence[int]) -> Params:
        """The parameters of the items at ``index``, in that order."""
        if self._columns is not None and self._rows is None:
            idx = torch.as_tensor(list(index), dtype=torch.long)
            cols = {k: (v.index_select(0, idx.to(v.device)) if isinstance(v, torch.Tensor) else [v[int(i)] for i in idx]) for k, v in self._columns.items()}
            return Params(cols, size=len(idx))
        rows = self.rows()
        return Params(rows=[rows[int(i)] for i in index])


def as_params(params: Params | Sequence[Mapping[str, Any]]) -> Params:
    """``params`` as :class:`Params` (``apply`` may be called with a plain list of per-item dicts)."""
    return params if isinstance(params, Params) else Params(rows=list(params))


def _infer_dtype(vals: list[Any]) -> torch.dtype:
    flat = vals
    while flat and isinstance(flat[0], list):
        flat = flat[0]
    if flat and all(isinstance(v, bool) for v in flat):
        return torch.bool
    if flat and all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
        return torch.int64
    return torch.float64


class BatchRecord:
    """What one operator call at ``path`` did to a batch: ``applied`` per item and the parameters of the applied ones.

    ``params`` has one entry per item (items not applied get an empty dict when materialised).
    """

    __slots__ = ("_all", "applied", "op", "params", "path")

    def __init__(self, op: str, path: str, applied: torch.Tensor | Sequence[bool] | None, params: Params) -> None:
        self.op = op
        self.path = path
        self._all = applied is None
        self.applied = [True] * len(params) if applied is None else [bool(a) for a in (applied.tolist() if isinstance(applied, torch.Tensor) else applied)]
        self.params = params

    def __len__(self) -> int:
        return len(self.params)

    @property
    def all_applied(self) -> bool:
        return self._all or all(self.applied)

    def row(self, i: int) -> RowRecord:
        return RowRecord(self, i)

    def row_params(self, i: int) -> dict[str, Any]:
        return self.params.rows()[i] if self.applied[i] else {}

    @classmethod
    def from_records(cls, op: str, records: Sequence[Mapping[str, Any]]) -> BatchRecord:
        """The batch record of per-item records (replayed ones: views of one batch record stay columns)."""
        if not records:
            return cls(op, "", [], Params(rows=[]))
        first = records[0]
        if isinstance(first, RowRecord):
            src = first.batch
            if all(isinstance(r, RowRecord) and r.batch is src for r in records):
                rows = [r.index for r in records]  # type: ignore[union-attr]
                params = src.params if rows == list(range(len(src))) else src.params.select(rows)
                return cls(src.op, src.path, [src.applied[i] for i in rows], params)
        for r in records:
            if r.get("op") != op:
                raise InputError(f"record for operator {r.get('op')!r} given to operator {op!r}")
        applied = [bool(r.get("applied", True)) for r in records]
        rows = [r.get("params", {}) if a else {} for r, a in zip(records, applied)]
        return cls(op, str(first.get("path", "")), applied, Params(rows=_jsonable(rows, op)))


class RowRecord(Mapping[str, Any]):
    """One item's read-only record ``{"op", "path", "applied", "params"}``: a row of a :class:`BatchRecord`."""

    __slots__ = ("batch", "index")

    def __init__(self, batch: BatchRecord, index: int) -> None:
        self.batch = batch
        self.index = index

    def __getitem__(self, key: str) -> Any:
        if key == "op":
            return self.batch.op
        if key == "path":
            return self.batch.path
        if key == "applied":
            return self.batch.applied[self.index]
        if key == "params":
            return self.batch.row_params(self.index)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(("op", "path", "applied", "params"))

    def __len__(self) -> int:
        return 4

    def __repr__(self) -> str:
        return repr(plain_record(self))

    def __deepcopy__(self, memo: Any) -> dict[str, Any]:
        return plain_record(self)


def _jsonable(params: Sequence[Mapping[str, Any]], name: str) -> list[dict[str, Any]]:
    """Fresh JSON-normalised copies of a batch's parameter dicts (tuples become lists), in one round trip."""
    try:
        text = _ENCODER.encode(list(params))
    except (TypeError, ValueError) as exc:
        raise RuntimeError(f"operator {name!r} sampled parameters that are not JSON-serialisable: {exc}") from exc
    return json.loads(text)
