"""Label mappings: from the 1000 ImageNet-1k classes to coarser categories.

A :class:`LabelMapping` names categories and the ImageNet-1k indices that belong
to each.  A category's probability is the mean (or sum) of its members' softmax
probabilities; the decision is the most probable category.  The 16-category
mapping of Geirhos et al. ships as ``geirhos16``; users register their own with
:func:`register_mapping`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch

from ..errors import ParameterError

__all__ = ["GEIRHOS16", "LabelMapping", "available_mappings", "get_mapping", "is_mapping", "register_mapping"]

Aggregate = Literal["mean", "sum", "max"]


@dataclass(frozen=True)
class LabelMapping:
    """Categories as groups of ImageNet-1k class indices.

    ``aggregate`` says how member probabilities combine: ``mean`` (Geirhos et al.;
    robust to categories with many members such as ``dog``), ``sum`` or ``max``.
    """

    name: str
    categories: Mapping[str, tuple[int, ...]]
    aggregate: Aggregate = "mean"
    n_classes: int = 1000
    description: str = ""
    _matrix: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ParameterError(f"a label mapping needs a non-empty name, got {self.name!r}")
        if not self.categories:
            raise ParameterError(f"label mapping {self.name!r} has no categories")
        if self.aggregate not in ("mean", "sum", "max"):
            raise ParameterError(f"label mapping {self.name!r}: aggregate must be 'mean', 'sum' or 'max', got {self.aggregate!r}")
        seen: dict[int, str] = {}
        cats = {}
        for cat, members in self.categories.items():
            if not isinstance(cat, str) or not cat or cat == "na":
                raise ParameterError(f"label mapping {self.name!r}: category names must be non-empty strings other than 'na', got {cat!r}")
            members = tuple(int(i) for i in members)
            if not members:
                raise ParameterError(f"label mapping {self.name!r}: category {cat!r} has no member classes")
            for i in members:
                if not 0 <= i < self.n_classes:
                    raise ParameterError(f"label mapping {self.name!r}: category {cat!r} lists class index {i}, outside 0..{self.n_classes - 1}")
                if i in seen:
                    raise ParameterError(f"label mapping {self.name!r}: class index {i} is in both {seen[i]!r} and {cat!r}")
                seen[i] = cat
            cats[cat] = members
        object.__setattr__(self, "categories", cats)

    @property
    def names(self) -> tuple[str, ...]:
        """Category names in their fixed order (the order of :meth:`probabilities` columns)."""
        return tuple(self.categories)

    def __contains__(self, label: object) -> bool:
        return label in self.categories

    def category_of(self, class_index: int) -> str | None:
        """The category a class index belongs to, or ``None``."""
        for cat, members in self.categories.items():
            if class_index in members:
                return cat
        return None

    def _weights(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (str(device), dtype)
        if key not in self._matrix:
            w = torch.zeros(self.n_classes, len(self.categories), dtype=dtype)
            for j, members in enumerate(self.categories.values()):
                w[list(members), j] = 1.0 / len(members) if self.aggregate == "mean" else 1.0
            self._matrix[key] = w.to(device)
        return self._matrix[key]

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Category probabilities ``(B, K)`` from ImageNet logits ``(B, n_classes)``."""
        if logits.dim() != 2 or logits.shape[1] != self.n_classes:
            raise ParameterError(f"label mapping {self.name!r} needs logits of shape (B, {self.n_classes}), got {tuple(logits.shape)}")
        probs = logits.float().softmax(dim=1)
        if self.aggregate == "max":
            cols = [probs[:, list(m)].amax(dim=1) for m in self.categories.values()]
            return torch.stack(cols, dim=1)
        return probs @ self._weights(probs.device, probs.dtype)

    def decide(self, logits: torch.Tensor) -> list[str]:
        """The most probable category of each row of ``logits``."""
        idx = self.probabilities(logits).argmax(dim=1).tolist()
        names = self.names
        return [names[i] for i in idx]

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "aggregate": self.aggregate, "categories": {k: list(v) for k, v in self.categories.items()}}

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> LabelMapping:
        """Build a mapping from ``{"name": ..., "categories": {cat: [indices]}, "aggregate": "mean"}``."""
        try:
            cats = raw["categories"]
            name = raw.get("name", "custom")
        except (KeyError, TypeError, AttributeError) as exc:
            raise ParameterError("a label mapping needs a 'categories' table {category: [ImageNet indices]}") from exc
        if not isinstance(cats, Mapping):
            raise ParameterError(f"label mapping 'categories' must be a table {{category: [indices]}}, got {type(cats).__name__}")
        return cls(name=str(name), categories={str(k): tuple(v) for k, v in cats.items()}, aggregate=raw.get("aggregate", "mean"))  # type: ignore[arg-type]


def _r(a: int, b: int, skip: Sequence[int] = ()) -> tuple[int, ...]:
    return tuple(i for i in range(a, b + 1) if i not in skip)


#: The 16 entry-level categories of Geirhos et al. (ICLR 2019), from the ImageNet
#: indices listed in model-vs-human's ``helper/human_categories.py``.
GEIRHOS16 = LabelMapping(
    name="geirhos16",
    description="16 entry-level categories of Geirhos et al. (ICLR 2019); probability = mean of member softmax probabilities",
    categories={
        "airplane": (404,),
        "bear": (294, 295, 296, 297),
        "bicycle": (444, 671),
        "bird": (8,) + _r(10, 16) + _r(18, 20) + _r(22, 24) + _r(80, 83) + _r(87, 96) + (98, 99, 100) + _r(127, 133) + _r(135, 145),
        "boat": (472, 554, 625, 814, 914),
        "bottle": (440, 720, 737, 898, 899, 901, 907),
        "car": (436, 511, 817),
        "cat": _r(281, 286),
        "chair": (423, 559, 765, 857),
        "clock": (409, 530, 892),
        "dog": _r(152, 268, skip=(192, 204, 227, 242, 251, 258, 260, 264)),
        "elephant": (385, 386),
        "keyboard": (508, 878),
        "knife": (499,),
        "oven": (766,),
        "truck": (555, 569, 656, 675, 717, 734, 864, 867),
    },
)

_REGISTRY: dict[str, LabelMapping] = {GEIRHOS16.name: GEIRHOS16}


def register_mapping(mapping: LabelMapping, *, overwrite: bool = False) -> LabelMapping:
    """Make a mapping available by name (in sets' ``label_space`` and ``--mapping``)."""
    if not isinstance(mapping, LabelMapping):
        raise ParameterError(f"register_mapping expects a LabelMapping, got {type(mapping).__name__}")
    if mapping.name == "imagenet1k":
        raise ParameterError("'imagenet1k' is the name of the full label space; choose another mapping name")
    if mapping.name in _REGISTRY and not overwrite and _REGISTRY[mapping.name] != mapping:
        raise ParameterError(f"a different label mapping named {mapping.name!r} is already registered", hint="pass overwrite=True to replace it")
    _REGISTRY[mapping.name] = mapping
    return mapping


def available_mappings() -> list[str]:
    return sorted(_REGISTRY)


def is_mapping(name: str) -> bool:
    return name in _REGISTRY


def get_mapping(name: str | LabelMapping) -> LabelMapping:
    """A registered mapping by name (or the mapping itself)."""
    if isinstance(name, LabelMapping):
        return name
    if name not in _REGISTRY:
        raise ParameterError(f"unknown label mapping {name!r}", hint=f"known: {', '.join(available_mappings())}; register your own with foolbox_lite.labels.register_mapping")
    return _REGISTRY[name]
