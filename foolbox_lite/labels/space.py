"""The ImageNet-1k label space (index, wnid, name), shipped with the package."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..errors import ParameterError

__all__ = ["LabelSpace", "imagenet_labels"]


@dataclass(frozen=True)
class LabelSpace:
    """An ordered list of classes: ``wnids[i]`` and ``names[i]`` describe logit ``i``."""

    wnids: tuple[str, ...]
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.wnids)

    def index(self, label: str) -> int:
        """The index of a class given by wnid (``n02391049``), name (``zebra``) or ``name`` with underscores."""
        table = self._lookup()
        key = label.strip().lower().replace("_", " ")
        if key in table:
            return table[key]
        near = difflib.get_close_matches(key, list(table), n=3, cutoff=0.6)
        raise ParameterError(f"unknown ImageNet class {label!r}", hint=f"did you mean {', '.join(near)}?" if near else "give a wnid such as n02391049 or a name such as zebra")

    def _lookup(self) -> dict[str, int]:
        return _lookup_table(self)


@lru_cache(maxsize=8)
def _lookup_table(space: LabelSpace) -> dict[str, int]:
    table: dict[str, int] = {}
    for i, (w, n) in enumerate(zip(space.wnids, space.names)):
        table.setdefault(w.lower(), i)
        table.setdefault(n.lower(), i)  # the first of duplicate names (crane, maillot) wins
    return table


@lru_cache(maxsize=1)
def imagenet_labels() -> LabelSpace:
    """The 1000 ImageNet-1k classes in the standard (sorted wnid) order."""
    text = resources.files("foolbox_lite").joinpath("data/imagenet1k.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines()[1:] if line]
    return LabelSpace(tuple(r[1] for r in rows), tuple(r[2] for r in rows))
