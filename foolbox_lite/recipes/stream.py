"""Streaming a build's items onto disk: each group's images go to the writer threads as soon as they are final.

:meth:`Builder.run_batch <foolbox_lite.recipes.build.Builder.run_batch>` computes a window of items group by
group (items sharing a pipeline); with an :class:`~foolbox_lite.stimulus_set.writer.OrderedSink` that has
writer threads, each group's PNGs and masks start encoding while the next group is computed, and the
manifest lines are queued in item order once the window is done.  Sidecars and masks are on disk before
their image's manifest line.  Any split of the items, and any number of writers, gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from ..files import sha256_bytes
from ..stimuli import MASK, Item
from ..stimulus_set.format import ManifestEntry, manifest_line
from ..stimulus_set.layers import write_mask
from ..stimulus_set.writer import IMAGES, OrderedSink, write_atomic
from .batch_out import BatchOutput
from .design import DesignItem

if TYPE_CHECKING:
    from .build import Builder

__all__ = ["ItemSink", "build_items"]


class ItemSink(Protocol):
    """Where :func:`build_items` hands each encoded image: an :class:`OrderedSink`, or a Ray worker's collector."""

    def submit(self, index: int, path: Path, arr: Any, make_line: Callable[[str], str]) -> None: ...

    def flush(self) -> None: ...


def _entry_line(item: Item, file: str, sha: str, seed: int, design: DesignItem, sidecar: tuple[str, str] = ("", ""), control: str = "", twin: str = "",
                layers: dict[str, dict[str, str]] | None = None) -> str:
    return manifest_line(ManifestEntry(id=item.id, file=file, sha256=sha, seed=seed, index=item.index, cues=dict(item.cues), sources=dict(item.sources),
                                       params=list(item.params), condition=design.condition, factors=design.factors,
                                       sidecar=sidecar[0], sidecar_sha256=sidecar[1], control=control, twin=twin, layers=layers or {}))


def _write_sidecar(out: Path, item_id: str, image: torch.Tensor) -> tuple[str, str]:
    """Write ``images/<id>.f32.npy`` (float32 ``(3, H, W)``) atomically; its relative path and sha256."""
    import io

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(image.numpy(), dtype=np.float32), allow_pickle=False)
    data = buf.getvalue()
    rel = f"{IMAGES}/{item_id}.f32.npy"
    write_atomic(out / rel, data)
    return rel, sha256_bytes(data)


class _Layers:
    """An image's layer files (its mask), written by the image's worker thread before the image; ``entries`` feeds its manifest line."""

    def __init__(self, out: Path, item_id: str, mask: np.ndarray | None) -> None:
        self.out, self.item_id, self.mask = out, item_id, mask
        self.entries: dict[str, dict[str, str]] = {}

    def write(self) -> None:
        if self.mask is not None:
            self.entries[MASK] = write_mask(self.out, self.item_id, self.mask)


def build_items(builder: Builder, out: Path, indices: Sequence[int], sink: ItemSink, *, batch_size: int,
                on_batch: Callable[[int], None] | None = None) -> None:
    """Build the design's items ``indices`` (ascending) and their control twins into ``out``: images and
    sidecars written atomically, one manifest line per image handed to ``sink`` at its manifest position
    (``index * slots + j``).  Any split of the items gives the same bytes."""
    recipe, slots = builder.recipe, builder.slots
    group_size, window = batch_size, builder.window(batch_size)
    early = isinstance(sink, OrderedSink) and sink.pool is not None
    for start in range(0, len(indices), window):
        chunk = [builder.plan.item(i) for i in indices[start:start + window]]
        layers: dict[int, _Layers] = {}
        started: dict[int, Future[str]] = {}

        def begin(res: BatchOutput, positions: list[int], layers: dict[int, _Layers] = layers, started: dict[int, Future[str]] = started) -> None:
            """Start writing the images (and masks) at ``positions`` of the window: they are final."""
            assert isinstance(sink, OrderedSink)
            for k in positions:
                it = res.items[k]
                assert it is not None
                lay = layers[k] = _Layers(out, it.id, res.mask[k].numpy() if res.has_mask[k] else None)
                started[k] = sink.start(out / f"{IMAGES}/{it.id}.png", res.u8[k].numpy(), lay.write)

        u8, items, _, floats, masks = builder.run_batch(chunk, group_size, on_stored=begin if early else None)
        arrays = u8.numpy()
        for k, it in enumerate(items):
            design, j = chunk[k // slots], k % slots
            control = builder.controls[j - 1] if j else ""
            twin = builder.item_id(it.index) if j else ""
            file = f"{IMAGES}/{it.id}.png"
            # the sidecar and mask are on disk before the image's manifest line can be written
            side = _write_sidecar(out, it.id, floats[k]) if floats is not None else ("", "")
            mask = masks[k]
            lay = layers.get(k) or _Layers(out, it.id, None if mask is None else mask.numpy())

            def make_line(sha: str, it: Item = it, file: str = file, design: DesignItem = design, side: tuple[str, str] = side,
                          control: str = control, twin: str = twin, lay: _Layers = lay) -> str:
                return _entry_line(it, file, sha, recipe.seed, design, side, control, twin, lay.entries)

            if k in started:  # written by a worker since its group was computed
                assert isinstance(sink, OrderedSink)
                sink.submit(it.index * slots + j, out / file, None, make_line, started=started[k])
            elif isinstance(sink, OrderedSink):  # the mask is encoded and written by the image's worker thread
                sink.submit(it.index * slots + j, out / file, arrays[k], make_line, before=lay.write)
            else:
                lay.write()
                sink.submit(it.index * slots + j, out / file, arrays[k], make_line)
        sink.flush()
        if on_batch is not None:
            on_batch(len(chunk))
