"""The stimulus batch: images, aligned layers and per-item metadata.

A :class:`Stimuli` is what flows through operators and pipelines:

- ``images``: float ``(B, 3, H, W)`` in ``[0, 1]`` (float32 normally, float64 for gradcheck);
- ``layers``: named tensors aligned with the images, ``(B, C, H, W)``; ``"mask"`` is the
  foreground/shape mask ``(B, 1, H, W)`` in ``[0, 1]`` (soft masks allowed);
- ``items``: one :class:`Item` per image: its id, its index in the stimulus set (which
  seeds its random streams), its cue labels, its sources and the record of every
  operator parameter applied to it.

Batches are treated as values: operators return new batches and never mutate their input.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from .assets.io import Fit, MaskMode, load_image_and_mask, save_image
from .errors import InputError

__all__ = ["MASK", "BatchRows", "Item", "Stimuli", "plain_record"]

#: Name of the foreground/shape mask layer.
MASK = "mask"


def plain_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A fresh plain-dict copy of one parameter record ``{"op", "path", "applied", "params"}``."""
    return {"op": record["op"], "path": record["path"], "applied": bool(record.get("applied", True)), "params": copy.deepcopy(dict(record["params"]))}


@dataclass
class Item:
    """Metadata of one stimulus.

    ``index`` is the item's position in the whole stimulus set: together with the
    seed it determines every random draw made for this item, whatever batch it is in.
    """

    id: str
    index: int
    cues: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    params: list[Mapping[str, Any]] = field(default_factory=list)

    def copy(self) -> Item:
        """A copy whose lists and dicts can be changed freely; the records themselves are shared.

        A record is never changed once it is in ``params`` (operators append new ones), so
        copies share them: copying an item costs O(1) per record, not a deep copy of its history.
        """
        return Item(self.id, self.index, dict(self.cues), dict(self.sources), list(self.params))

    def with_record(self, record: Mapping[str, Any]) -> Item:
        """A copy with ``record`` appended to its parameter history."""
        return Item(self.id, self.index, dict(self.cues), dict(self.sources), [*self.params, record])

    def to_dict(self) -> dict[str, Any]:
        """Plain values only: records (possibly views of a batch's columns) become fresh dicts."""
        return {"id": self.id, "index": self.index, "cues": dict(self.cues), "sources": dict(self.sources), "params": self.plain_params()}

    def plain_params(self) -> list[dict[str, Any]]:
        """The parameter history as fresh plain dicts (what a manifest line stores)."""
        return [plain_record(r) for r in self.params]


def _checked_layers(images: torch.Tensor, layers: Mapping[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """The images checked, and a fresh dict of layers checked against them."""
    _check_image_tensor(images)
    b = images.shape[0]
    layers = dict(layers or {})
    for name, layer in layers.items():
        if not isinstance(layer, torch.Tensor) or layer.dim() != 4:
            raise InputError(f"layer {name!r} must be a tensor (B, C, H, W), got {getattr(layer, 'shape', type(layer).__name__)}")
        if layer.shape[0] != b or layer.shape[-2:] != images.shape[-2:]:
            raise InputError(
                f"layer {name!r} has shape {tuple(layer.shape)} but the images are {tuple(images.shape)}",
                hint="layers must match the images' batch size, height and width",
            )
        if layer.device != images.device:
            raise InputError(f"layer {name!r} is on {layer.device} but the images are on {images.device}")
    return layers


def _check_image_tensor(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor):
        raise InputError(f"images must be a torch.Tensor of shape (B, 3, H, W), got {type(images).__name__}")
    if images.dim() != 4 or images.shape[1] != 3:
        raise InputError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}", hint="add a batch dimension with images[None] or expand grey images to 3 channels")
    if not images.is_floating_point():
        raise InputError(f"images must be floating point in [0, 1], got dtype {images.dtype}", hint="convert uint8 with images.float() / 255")


class BatchRows(Protocol):
    """A record of a whole batch (see :class:`~foolbox_lite.operators.records.BatchRecord`): one row per item."""

    def row(self, i: int) -> Mapping[str, Any]: ...

    def __len__(self) -> int: ...


class Stimuli:
    """A batch of stimuli: images ``(B, 3, H, W)``, aligned layers and per-item metadata.

    Operators append one batch record per call (:meth:`with_record`) without touching the
    items: each item's history is materialised -- base item plus one row per pending record
    -- the first time :attr:`items` is read (typically once, when a manifest line is
    written), so a chain of operators costs O(1) Python work per batch for its records.
    """

    __slots__ = ("_base", "_items", "_records", "images", "layers")

    def __init__(
        self,
        images: torch.Tensor,
        layers: Mapping[str, torch.Tensor] | None = None,
        items: Sequence[Item] | None = None,
    ) -> None:
        layers = _checked_layers(images, layers)
        b = images.shape[0]
        if items is None:
            items = [Item(id=f"{i:06d}", index=i) for i in range(b)]
        items = list(items)
        if len(items) != b:
            raise InputError(f"{len(items)} items given for a batch of {b} images")
        self.images = images
        self.layers = layers
        self._items: list[Item] | None = items
        self._base: list[Item] = []
        self._records: tuple[BatchRows, ...] = ()

    @classmethod
    def _sharing(cls, images: torch.Tensor, layers: Mapping[str, torch.Tensor], base: list[Item], records: tuple[BatchRows, ...]) -> Stimuli:
        """A batch whose items are ``base`` (never changed, never handed out) with ``records`` appended."""
        layers = _checked_layers(images, layers)
        if len(base) != images.shape[0]:
            raise InputError(f"{len(base)} items given for a batch of {images.shape[0]} images")
        out = cls.__new__(cls)
        out.images, out.layers = images, layers
        out._items, out._base, out._records = None, base, records
        return out

    @property
    def items(self) -> list[Item]:
        """One :class:`Item` per image, owned by this batch (changes to them stay in it and what is derived from it later)."""
        if self._items is None:
            recs = self._records
            self._items = [
                Item(b.id, b.index, dict(b.cues), dict(b.sources), [*b.params, *(r.row(i) for r in recs)]) for i, b in enumerate(self._base)
            ]
        return self._items

    @property
    def indices(self) -> list[int]:
        """Each item's index in the stimulus set (what seeds its random streams), without materialising the items."""
        return [it.index for it in (self._items if self._items is not None else self._base)]

    def _frozen(self) -> tuple[list[Item], tuple[BatchRows, ...]]:
        """Base items and pending records that a derived batch may share (a snapshot once :attr:`items` was handed out)."""
        if self._items is None:
            return self._base, self._records
        return [it.copy() for it in self._items], ()

    def with_record(self, record: BatchRows, images: torch.Tensor | None = None, layers: Mapping[str, torch.Tensor] | None = None) -> Stimuli:
        """A new batch (with some parts replaced) whose every item has ``record``'s row appended to its history."""
        if not callable(getattr(record, "row", None)) or not hasattr(record, "__len__"):
            raise InputError(
                f"with_record takes a record of the whole batch (one row per item), got {type(record).__name__}",
                hint="pass a foolbox_lite.operators.records.BatchRecord; per-item dicts go in Item.params",
            )
        if len(record) != len(self):
            raise InputError(f"a batch record of {len(record)} rows given for a batch of {len(self)} items")
        base, recs = self._frozen()
        return Stimuli._sharing(self.images if images is None else images, self.layers if layers is None else layers, base, (*recs, record))

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_tensor(
        cls,
        images: torch.Tensor,
        masks: torch.Tensor | None = None,
        *,
        ids: Sequence[str] | None = None,
        cues: Sequence[Mapping[str, str]] | None = None,
        start_index: int = 0,
    ) -> Stimuli:
        """Wrap tensors: ``images`` ``(B, 3, H, W)`` and optional ``masks`` ``(B, 1, H, W)``."""
        _check_image_tensor(images)
        b = images.shape[0]
        items = [
            Item(
                id=ids[i] if ids is not None else f"{start_index + i:06d}",
                index=start_index + i,
                cues=dict(cues[i]) if cues is not None else {},
            )
            for i in range(b)
        ]
        layers = {} if masks is None else {MASK: masks}
        return cls(images, layers, items)

    @classmethod
    def from_files(
        cls,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        masks: Sequence[str | os.PathLike[str] | None] | None = None,
        *,
        size: int | tuple[int, int] = 224,
        fit: Fit = "resize",
        mask_mode: MaskMode = "auto",
        cues: Sequence[Mapping[str, str]] | None = None,
        device: torch.device | str = "cpu",
    ) -> Stimuli:
        """Load images (PNG/JPEG) and masks from files with :func:`~foolbox_lite.assets.io.load_image_and_mask`.

        Without an explicit mask, a transparent image (alpha band or palette transparency)
        gets its alpha as the mask.  A mask file may be an alpha image, a grey mask (white =
        object) or a black-on-white silhouette (``mask_mode``, see
        :func:`~foolbox_lite.assets.io.mask_from_pil`); it must have its image's size.
        """
        path_list = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        if not path_list:
            raise InputError("no image paths given")
        if masks is not None and len(masks) != len(path_list):
            raise InputError(f"{len(masks)} masks given for {len(path_list)} images")
        loaded = [load_image_and_mask(p, masks[i] if masks is not None else None, size, fit, mask_mode) for i, p in enumerate(path_list)]
        items = [Item(id=Path(p).stem, index=i, cues=dict(cues[i]) if cues else {}, sources={"image": str(p)}) for i, p in enumerate(path_list)]
        images = torch.stack([img for img, _ in loaded]).to(device).float().div_(255.0)
        layers: dict[str, torch.Tensor] = {}
        if any(m is not None for _, m in loaded):
            ones = torch.full_like(loaded[0][0][:1], 255)
            layers[MASK] = torch.stack([m if m is not None else ones for _, m in loaded]).to(device).float().div_(255.0)
        return cls(images, layers, items)

    # ----------------------------------------------------------------- access
    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        lay = ", ".join(f"{k}{tuple(v.shape[1:])}" for k, v in self.layers.items())
        return f"Stimuli(B={len(self)}, images={tuple(self.images.shape[1:])}, layers=[{lay}], dtype={self.images.dtype}, device={self.images.device})"

    @property
    def mask(self) -> torch.Tensor:
        """The foreground mask ``(B, 1, H, W)``; a clear error when the batch has none."""
        try:
            return self.layers[MASK]
        except KeyError:
            raise InputError(
                "this operation needs a foreground mask but the batch has no 'mask' layer",
                hint="load masks with Stimuli.from_files(..., masks=[...]) or use RGBA images",
            ) from None

    @property
    def device(self) -> torch.device:
        return self.images.device

    @property
    def dtype(self) -> torch.dtype:
        return self.images.dtype

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)``."""
        return (self.images.shape[-2], self.images.shape[-1])

    # ----------------------------------------------------------------- value-style updates
    def replace(self, images: torch.Tensor | None = None, layers: Mapping[str, torch.Tensor] | None = None, items: Sequence[Item] | None = None) -> Stimuli:
        """A new batch with some parts replaced (items are copied, or shared unchanged, so records never alias)."""
        images = self.images if images is None else images
        layers = self.layers if layers is None else layers
        if items is not None:
            return Stimuli(images, layers, items)
        base, recs = self._frozen()
        return Stimuli._sharing(images, layers, base, recs)

    def select(self, index: Sequence[int] | torch.Tensor) -> Stimuli:
        """The sub-batch of the given positions (in that order)."""
        idx = torch.as_tensor(list(index) if not isinstance(index, torch.Tensor) else index, dtype=torch.long)
        dev_idx = idx.to(self.device)
        return Stimuli(
            self.images.index_select(0, dev_idx),
            {k: v.index_select(0, dev_idx) for k, v in self.layers.items()},
            [self.items[int(i)].copy() for i in idx],
        )

    @staticmethod
    def cat(batches: Iterable[Stimuli]) -> Stimuli:
        """Concatenate batches that have the same layers, size, dtype and device."""
        bl = list(batches)
        if not bl:
            raise InputError("cannot concatenate an empty list of batches")
        names = set(bl[0].layers)
        for b in bl[1:]:
            if set(b.layers) != names:
                raise InputError(f"batches have different layers: {sorted(names)} vs {sorted(b.layers)}")
        return Stimuli(
            torch.cat([b.images for b in bl]),
            {k: torch.cat([b.layers[k] for b in bl]) for k in names},
            [it.copy() for b in bl for it in b.items],
        )

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Stimuli:
        """Move images and layers to another device and/or floating dtype."""
        return Stimuli(
            self.images.to(device=device, dtype=dtype),
            {k: v.to(device=device, dtype=dtype if v.is_floating_point() else None) for k, v in self.layers.items()},
            [it.copy() for it in self.items],
        )

    def save(self, folder: str | os.PathLike[str], pattern: str = "{id}.png") -> list[Path]:
        """Save every image as a PNG named by ``pattern`` (fields: ``id``, ``index``)."""
        out = []
        for img, it in zip(self.images, self.items):
            out.append(save_image(img, Path(folder) / pattern.format(id=it.id, index=it.index)))
        return out
