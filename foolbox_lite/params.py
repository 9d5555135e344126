"""Parameter specifications: a fixed value, a range or a set of choices.

Operators take each random parameter as a spec and sample it per item from that
item's generator.  Specs are written the same way in Python and in recipes::

    Tilt(pitch=50)                  # fixed
    Tilt(pitch=(40, 70))            # uniform in [40, 70]
    Tilt(pitch={"choice": [-60, 60]})
    Tilt(pitch={"loguniform": [0.01, 0.1]})

Bad specs (non-finite values, ranges upside down, values outside what the
operator accepts) raise :class:`~foolbox_lite.errors.ParameterError` naming the
parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import torch

from .errors import ParameterError

__all__ = ["Choice", "Fixed", "LogUniform", "Spec", "SpecLike", "Uniform", "as_spec", "check_number"]


def _uniform01(g: torch.Generator) -> float:
    return float(torch.rand((), generator=g, dtype=torch.float64).item())


@dataclass(frozen=True)
class Fixed:
    """Always the same value."""

    value: Any

    def sample(self, g: torch.Generator) -> Any:
        return self.value

    def column(self, u: torch.Tensor) -> torch.Tensor | list[Any]:
        """The value for each of ``len(u)`` items (``u``: their uniform draws, unused)."""
        v = self.value
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return torch.full((len(u),), v, dtype=torch.int64 if isinstance(v, int) else torch.float64)
        return [v] * len(u)

    def to_dict(self) -> Any:
        return self.value


@dataclass(frozen=True)
class Uniform:
    """Uniform in ``[low, high]``."""

    low: float
    high: float

    def sample(self, g: torch.Generator) -> float:
        return self.low + (self.high - self.low) * _uniform01(g)

    def column(self, u: torch.Tensor) -> torch.Tensor:
        """One value per item from its uniform draw in ``u`` ``(B,)`` float64."""
        return self.low + (self.high - self.low) * u

    def to_dict(self) -> Any:
        return [self.low, self.high]


@dataclass(frozen=True)
class LogUniform:
    """Log-uniform in ``[low, high]`` (both > 0): for scales and noise levels."""

    low: float
    high: float

    def sample(self, g: torch.Generator) -> float:
        return math.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * _uniform01(g))

    def column(self, u: torch.Tensor) -> torch.Tensor:
        """One value per item from its uniform draw in ``u`` ``(B,)`` float64."""
        return torch.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * u)

    def to_dict(self) -> Any:
        return {"loguniform": [self.low, self.high]}


@dataclass(frozen=True)
class Choice:
    """One of ``options``, uniformly."""

    options: tuple[Any, ...]

    def sample(self, g: torch.Generator) -> Any:
        i = int(torch.randint(0, len(self.options), (1,), generator=g).item())
        return self.options[i]

    def column(self, u: torch.Tensor) -> torch.Tensor | list[Any]:
        """One option per item, chosen by its uniform draw in ``u`` ``(B,)`` float64."""
        k = torch.clamp((u * len(self.options)).floor().long(), max=len(self.options) - 1)
        return _as_column([self.options[i] for i in k.tolist()]) if not _numeric(self.options) else torch.tensor(self.options, dtype=_dtype(self.options))[k]

    def to_dict(self) -> Any:
        return {"choice": list(self.options)}


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _dtype(values: Sequence[Any]) -> torch.dtype:
    return torch.int64 if all(isinstance(v, int) for v in values) else torch.float64


def _as_column(values: list[Any]) -> torch.Tensor | list[Any]:
    """Numbers as a tensor (int64 when all are ints, else float64); anything else stays a list."""
    return torch.tensor(values, dtype=_dtype(values)) if values and _numeric(values) else values


Spec = Union[Fixed, Uniform, LogUniform, Choice]
SpecLike = Union[Spec, float, int, str, bool, Sequence[float], Mapping[str, Any]]


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
) -> float:
    """Validate one number: finite, of the right kind, inside ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"parameter {name!r} must be a number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ParameterError(f"parameter {name!r} must be finite, got {value!r}")
    if integer and not isinstance(value, int) and float(value) != int(value):
        raise ParameterError(f"parameter {name!r} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ParameterError(f"parameter {name!r} = {value!r} is below its minimum {low}")
    if high is not None and value > high:
        raise ParameterError(f"parameter {name!r} = {value!r} is above its maximum {high}")
    return value


def _check_range(name: str, pair: Any, low: float | None, high: float | None, integer: bool) -> tuple[float, float]:
    if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
        raise ParameterError(f"parameter {name!r}: a range must be [low, high], got {pair!r}")
    a = check_number(f"{name}[0]", pair[0], low=low, high=high, integer=integer)
    b = check_number(f"{name}[1]", pair[1], low=low, high=high, integer=integer)
    if a > b:
        raise ParameterError(f"parameter {name!r}: range [{a}, {b}] is upside down", hint=f"write [{b}, {a}]")
    return a, b


def as_spec(
    name: str,
    value: SpecLike,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    options: Sequence[Any] | None = None,
) -> Spec:
    """Turn a user value into a validated spec.

    ``low``/``high`` bound every number the spec can produce; ``options`` lists the
    allowed values of a categorical parameter (then numbers are not expected).
    """
    if isinstance(value, (Fixed, Uniform, LogUniform, Choice)):
        value = value.to_dict()
    if options is not None:
        allowed = list(options)
        vals = value["choice"] if isinstance(value, Mapping) and "choice" in value else [value]
        for v in vals:
            if v not in allowed:
                raise ParameterError(f"parameter {name!r} = {v!r} is not one of {allowed}")
        return Choice(tuple(vals)) if len(vals) > 1 or isinstance(value, Mapping) else Fixed(vals[0])
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise ParameterError(
                f"parameter {name!r}: a distribution is one of {{uniform: [a, b]}}, {{loguniform: [a, b]}}, "
                f"{{choice: [...]}}, got {dict(value)!r}"
            )
        (kind, arg), = value.items()
        if kind == "uniform":
            return Uniform(*_check_range(name, arg, low, high, integer))
        if kind == "loguniform":
            a, b = _check_range(name, arg, low, high, integer)
            if a <= 0:
                raise ParameterError(f"parameter {name!r}: loguniform needs low > 0, got {a}")
            return LogUniform(a, b)
        if kind == "choice":
            if not isinstance(arg, Sequence) or isinstance(arg, str) or len(arg) == 0:
                raise ParameterError(f"parameter {name!r}: choice needs a non-empty list, got {arg!r}")
            return Choice(tuple(check_number(f"{name}.choice[{i}]", v, low=low, high=high, integer=integer)
                                for i, v in enumerate(arg)))
        raise ParameterError(
            f"parameter {name!r}: unknown distribution {kind!r}",
            hint="use one of: uniform, loguniform, choice",
        )
    if isinstance(value, Sequence) and not isinstance(value, str):
        return Uniform(*_check_range(name, value, low, high, integer))
    return Fixed(check_number(name, value, low=low, high=high, integer=integer))
