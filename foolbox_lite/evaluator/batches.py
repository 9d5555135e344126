"""Reading a stimulus set's images in batches, overlapped with inference, ready for the model.

:class:`BatchReader` decodes batch ``k + 1`` in the background while batch ``k`` is
used.  Each image is checked against its manifest sha256 on the bytes read, decoded and
-- when every model of the run shares one :class:`Normalise` -- turned into the model's
normalised float planes right there, in the decoding thread, while the image is still in
the cache: the main thread then hands the batch straight to the forward pass.

Normalising uint8 pixels is a lookup: ``x * a + b`` has 256 possible values per channel,
computed once in float32 exactly as the per-batch ``mul``/``add`` computes them, so the
tables give the same bits (tested) in one pass per plane instead of a conversion copy and
two arithmetic passes over the batch on the main thread.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..assets.io import decode_rgb_hwc, decode_rgb_hwc_bytes
from ..classifiers import Classifier
from ..errors import InputError
from ..operators.itempool import for_items
from ..stimulus_set.format import ManifestEntry, check_sha256
from ..stimulus_set.png import decode_stored_rgb

__all__ = ["Batch", "BatchReader", "Normalise", "Prepared"]

#: A batch of uint8 pixels: ``(B, 3, H, W)``, or a list of ``(3, H, W)`` when the sizes differ.
Batch = torch.Tensor | list[torch.Tensor]


@dataclass(frozen=True, eq=False)
class Normalise:
    """A model's input normalisation of uint8 pixels as per-channel lookup tables.

    ``tables[c][v]`` is ``float32(v) * a[c] + b[c]`` computed in float32 (one multiply, then
    one add, as ``x.mul_(a).add_(b)`` does), so :meth:`planes` equals the arithmetic bit for bit.
    """

    size: tuple[int, int]
    tables: np.ndarray  # (3, 256) float32

    @classmethod
    def of(cls, clf: Classifier) -> Normalise:
        a, b = clf.preprocessing.affine(torch.float32, "cpu", input_scale=255.0)
        values = torch.arange(256, dtype=torch.float32).view(1, 256)
        tables = (values * a.view(3, 1)).add_(b.view(3, 1))
        return cls(tuple(int(s) for s in clf.input_size), np.ascontiguousarray(tables.numpy()))  # type: ignore[arg-type]

    def same_as(self, other: Normalise) -> bool:
        return self.size == other.size and np.array_equal(self.tables, other.tables)

    def fits(self, image: np.ndarray) -> bool:
        """Whether ``image`` ``(H, W, 3)`` is already at the model's input size (no resize needed)."""
        return image.shape == (*self.size, 3)

    def planes(self, image: np.ndarray, out: np.ndarray) -> None:
        """Write the normalised planes of uint8 ``image`` ``(H, W, 3)`` into float32 ``out`` ``(3, H, W)``."""
        import cv2

        for c, plane in enumerate(cv2.split(image)):
            cv2.LUT(plane, self.tables[c], dst=out[c])


@dataclass(frozen=True)
class Prepared:
    """A batch already normalised for models sharing ``norm``: ``x`` ``(B, 3, H, W)`` float32 contiguous."""

    x: torch.Tensor
    norm: Normalise

    def __len__(self) -> int:
        return self.x.shape[0]


class BatchReader:
    """Iterates over the images at ``paths`` in batches of ``batch_size``, one batch ahead.

    With ``entries`` each file's bytes are checked against its manifest sha256 before
    decoding (the error names the file).  With ``norm``, batches whose images are all at
    ``norm.size`` come as :class:`Prepared` float batches; others as uint8 :data:`Batch`
    ``(B, 3, H, W)`` (a view of a reused ``(B, H, W, 3)`` buffer) or lists for mixed sizes.
    Two buffers of each kind alternate: a batch stays valid until the next-but-one is read.
    """

    def __init__(self, paths: Sequence[Path], batch_size: int, entries: Sequence[ManifestEntry] | None = None, norm: Normalise | None = None) -> None:
        self.paths = list(paths)
        self.bs = batch_size
        self.entries = list(entries) if entries is not None else None
        self.norm = norm
        self.pixels: list[torch.Tensor | None] = [None, None]
        self.floats: list[torch.Tensor | None] = [None, None]
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="foolbox-lite-batch")

    def _load(self, k: int) -> Prepared | Batch:
        start = k * self.bs
        n = min(self.bs, len(self.paths) - start)
        imgs: list[np.ndarray] = [None] * n  # type: ignore[list-item]
        norm = self.norm
        out = None
        if norm is not None:
            out = self.floats[k % 2]
            if out is None:
                out = self.floats[k % 2] = torch.empty((self.bs, 3, *norm.size), dtype=torch.float32)
        on = out.numpy() if out is not None else None
        fits = [False] * n

        def work(lo: int, hi: int) -> None:  # decoding threads: hash, decode and normalise while the image is in the cache
            for j in range(lo, hi):
                img = imgs[j] = self._decode(start + j)
                if norm is not None and norm.fits(img):
                    norm.planes(img, on[j])  # type: ignore[index]
                    fits[j] = True

        for_items(work, n, chunk=2)
        if out is not None and all(fits):
            return Prepared(out[:n], norm)  # type: ignore[arg-type]
        shape = imgs[0].shape
        if any(img.shape != shape for img in imgs):
            return [torch.from_numpy(img).permute(2, 0, 1) for img in imgs]  # ragged: each image is resized on its own
        buf = self.pixels[k % 2]
        if buf is None or buf.shape[1:] != shape:
            buf = self.pixels[k % 2] = torch.empty((self.bs, *shape), dtype=torch.uint8)
        arr = buf.numpy()
        for i, img in enumerate(imgs):
            arr[i] = img
        return buf[:n].permute(0, 3, 1, 2)

    def _decode(self, i: int) -> np.ndarray:
        if self.entries is None:
            return decode_rgb_hwc(self.paths[i])
        try:
            data = self.paths[i].read_bytes()
        except OSError as exc:
            raise InputError(f"image {self.entries[i].file!r} of item {self.entries[i].id!r} cannot be read: {exc.strerror}") from None
        check_sha256(self.entries[i], data)  # hashed in this thread, overlapped with inference
        arr = decode_stored_rgb(data)  # a build's own stored PNG: its rows, once the hash vouches for the bytes
        return arr if arr is not None else decode_rgb_hwc_bytes(data, self.paths[i])

    def __iter__(self) -> Iterator[Prepared | Batch]:
        n_batches = math.ceil(len(self.paths) / self.bs)
        try:
            fut = self.pool.submit(self._load, 0) if n_batches else None
            for k in range(n_batches):
                batch = fut.result()  # type: ignore[union-attr]
                fut = self.pool.submit(self._load, k + 1) if k + 1 < n_batches else None
                yield batch
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
