"""The design of a stimulus set: its factors, and item ``i``'s level of each.

Items are numbered ``0..N-1`` in a fixed order and computed on demand (nothing
holds the whole list): a crossing decodes ``i`` in mixed radix (first factor
slowest, then ``repeat`` copies of each cell); random draws pick each factor's
level from a generator seeded by ``(seed, i, "design.<factor>")``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import ParameterError
from ..seeding import item_generator
from .assets import RecipeAsset
from .schema import Recipe

__all__ = ["MAX_ITEMS", "DesignItem", "DesignPlan", "Level", "plan_design"]

#: Designs with more items than this are refused (a typo such as an extra factor can explode a crossing).
MAX_ITEMS = 10_000_000


@dataclass(frozen=True)
class Level:
    """One level of a factor: a plain value or an asset."""

    value: int | float | str | bool | None = None
    asset: RecipeAsset | None = None

    @property
    def key(self) -> str:
        """A short stable text naming the level (used in conditions and grouping)."""
        if self.asset is not None:
            return self.asset.id
        return repr(self.value) if not isinstance(self.value, str) else self.value

    @property
    def label(self) -> str:
        """A human-readable name for the level."""
        return self.asset.name if self.asset is not None else str(self.value)


@dataclass(frozen=True)
class DesignItem:
    index: int
    levels: dict[str, Level]

    @property
    def condition(self) -> str:
        """``factor=level`` pairs joined by ``,`` (the cell of the design this item belongs to)."""
        return ",".join(f"{f}={lv.label}" for f, lv in self.levels.items())

    @property
    def factors(self) -> dict[str, Any]:
        """The item's level of each factor for the manifest: plain values as they are, assets by name."""
        return {f: (lv.asset.name if lv.asset is not None else lv.value) for f, lv in self.levels.items()}


class DesignPlan:
    """The design's factors and a way to get item ``i`` without listing them all."""

    def __init__(self, factors: dict[str, list[Level]], *, n: int, mode: str, repeat: int, seed: int) -> None:
        self.factors = factors
        self.n = n
        self.mode = mode
        self.repeat = repeat
        self.seed = seed
        self._names = list(factors)

    def __len__(self) -> int:
        return self.n

    def item(self, index: int) -> DesignItem:
        if not 0 <= index < self.n:
            raise IndexError(index)
        levels: dict[str, Level] = {}
        if self.mode == "cross":
            cell = index // self.repeat
            for name in reversed(self._names):
                lv = self.factors[name]
                cell, k = divmod(cell, len(lv))
                levels[name] = lv[k]
            levels = {name: levels[name] for name in self._names}
        else:
            import torch

            for name in self._names:
                lv = self.factors[name]
                g = item_generator(self.seed, index, f"design.{name}")
                levels[name] = lv[int(torch.randint(0, len(lv), (1,), generator=g).item())]
        return DesignItem(index, levels)

    def __iter__(self) -> Iterator[DesignItem]:
        for i in range(self.n):
            yield self.item(i)

    def describe(self) -> dict[str, Any]:
        """For the lock file and datasheet."""
        return {
            "mode": self.mode,
            "n": self.n,
            "repeat": self.repeat,
            "factors": {name: [lv.key for lv in lv_list] for name, lv_list in self.factors.items()},
        }


def plan_design(recipe: Recipe, assets: dict[str, list[RecipeAsset]]) -> DesignPlan:
    """The recipe's design with asset levels resolved; an empty design is an error."""
    d = recipe.design
    factors: dict[str, list[Level]] = {}
    for name, spec in d.factors.items():
        if spec.values is not None:
            factors[name] = [Level(value=v) for v in spec.values]
        else:
            factors[name] = [Level(asset=a) for group in spec.asset_names() for a in assets[group]]
    kind = "cross" if d.cross is not None else "random"
    loc8 = recipe._locator
    for name, lv in factors.items():
        if not lv:
            msg = f"factor {name!r} has no levels, so the design is empty"
            raise loc8.error(ParameterError, ["design", kind, name], msg) if loc8 else ParameterError(msg)
    if kind == "cross":
        n = d.repeat
        for lv in factors.values():
            n *= len(lv)
    else:
        n = int(d.n or 0)
    if n <= 0:
        raise ParameterError("the design is empty (0 items)")
    if n > MAX_ITEMS:
        msg = f"the design has {n} items, over the limit of {MAX_ITEMS}"
        raise loc8.error(ParameterError, ["design"], msg, "use random draws with n, or fewer levels") if loc8 else ParameterError(msg)
    return DesignPlan(factors, n=n, mode=kind, repeat=d.repeat if kind == "cross" else 1, seed=recipe.seed)
