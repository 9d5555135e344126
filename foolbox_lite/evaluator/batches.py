"""Reading a stimulus set's images in batches, overlapped with inference, ready for the model.

:class:`BatchReader` decodes batch ``k + 1`` in the background while batch ``k`` is
used.  Each image is checked against its manifest sha256 on the bytes read, decoded and
-- when every model of the run shares one :class:`Normalise` -- turned into the model's
normalised float planes right there, in the decoding thread, while the image is still in
the cache: the main thread then hands the batch straight to the forward pass.

Normalising uint8 pixels is a lookup: ``x * a + b`` has 256 possible values per channel,
computed once in float32 exactly as the per-batch ``mul``/``add`` computes them, so the
tables give the same bits (tested) in one pass per plane instead of a conversion copy and
two arithmetic passes over the batch on the main thread.  Where every ``x * a`` is exact
in float32 (EfficientNet-Lite's ``a = 1/128``), one rounding makes ``x * a + b`` the same
however it is computed, and a vectorised multiply-add (``cv2.addWeighted``) replaces the
lookups, after it has been checked against the tables on planes of the model's size.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import torch

from ..assets.io import decode_rgb_hwc, decode_rgb_hwc_bytes
from ..classifiers import Classifier
from ..errors import InputError
from ..operators.itempool import for_items, thread_buffer
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
    #: per channel ``(a, b)`` when :func:`exact_multiply_add` vouches for them at ``size``, else ``None`` (lookups)
    affine: tuple[tuple[float, float], ...] | None = None

    @classmethod
    def of(cls, clf: Classifier) -> Normalise:
        a, b = clf.preprocessing.affine(torch.float32, "cpu", input_scale=255.0)
        values = torch.arange(256, dtype=torch.float32).view(1, 256)
        tables = np.ascontiguousarray((values * a.view(3, 1)).add_(b.view(3, 1)).numpy())
        size = (int(clf.input_size[0]), int(clf.input_size[1]))
        pairs = tuple((float(x), float(y)) for x, y in zip(a.flatten().tolist(), b.flatten().tolist()))
        return cls(size, tables, pairs if exact_multiply_add(pairs, size) else None)

    def same_as(self, other: Normalise) -> bool:
        return self.size == other.size and np.array_equal(self.tables, other.tables)

    def fits(self, image: np.ndarray) -> bool:
        """Whether ``image`` ``(H, W, 3)`` is already at the model's input size (no resize needed)."""
        return image.shape == (*self.size, 3)

    def planes(self, image: np.ndarray, out: np.ndarray) -> None:
        """Write the normalised planes of uint8 ``image`` ``(H, W, 3)`` into float32 ``out`` ``(3, H, W)``."""
        import cv2

        # kept planes: fresh ones cost page faults, and views of one (3, H, W) array split 2x slower
        chans = [thread_buffer(f"normalise.split{c}", image.shape[:2], np.uint8) for c in range(3)]
        got = cv2.split(image, chans)
        chans = chans if all(g is c for g, c in zip(got, chans)) else list(got)
        for c, plane in enumerate(chans):
            if self.affine is not None:
                a, b = self.affine[c]
                cv2.addWeighted(plane, a, plane, 0.0, b, dst=out[c], dtype=cv2.CV_32F)
            else:
                cv2.LUT(plane, self.tables[c], dst=out[c])


@functools.lru_cache(maxsize=32)
def exact_multiply_add(pairs: tuple[tuple[float, float], ...], size: tuple[int, int]) -> bool:
    """Whether ``cv2.addWeighted`` gives ``float32(v) * a + b`` bit for bit for every channel's ``(a, b)`` at ``size``.

    Only where every product ``v * a`` (v in 0..255) is exact in float32: then the sum is
    rounded once whether the multiply and add are fused or not.  Even then the call is
    checked against the float32 arithmetic on ``(H, W)`` planes holding every value at
    shifting positions (the vectorised body and any scalar tail), bits compared.
    """
    import cv2

    v = np.arange(256, dtype=np.float32)
    h, w = size
    n = h * w
    k = np.arange(n)
    planes = [((k + k // 256 + off) % 256).astype(np.uint8).reshape(h, w) for off in range(0, 256, max(1, min(n, 256) // 4))]
    out = np.empty((h, w), np.float32)
    for a, b in pairs:
        a32, b32 = np.float32(a), np.float32(b)
        if float(a32) != a or float(b32) != b or not np.array_equal(v.astype(np.float64) * a, (v * a32).astype(np.float64)):
            return False
        table = v * a32 + b32  # float32 throughout: one multiply, one add
        for plane in planes:
            cv2.addWeighted(plane, a, plane, 0.0, b, dst=out, dtype=cv2.CV_32F)
            if not np.array_equal(out.view(np.uint32), table[plane].view(np.uint32)):
                return False
    return True


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
    Used as a context manager, it starts reading the first batch on entering (so the
    decoding overlaps whatever the caller sets up next) and stops its thread on leaving.
    :meth:`read` reads any batch into a numbered buffer instead (for lanes, each with its own).
    """

    def __init__(self, paths: Sequence[Path], batch_size: int, entries: Sequence[ManifestEntry] | None = None, norm: Normalise | None = None) -> None:
        self.paths = list(paths)
        self.bs = batch_size
        self.entries = list(entries) if entries is not None else None
        self.norm = norm
        self.pixels: list[torch.Tensor | None] = [None, None]
        # allocated here, on the caller's thread: glibc's main heap keeps freed blocks for reuse once
        # tuned (foolbox_lite.allocator), where a fresh reading thread's arena would page-fault them in again
        self.n_batches = math.ceil(len(self.paths) / batch_size)
        self.floats: list[torch.Tensor | None] = [self._floats() if k < self.n_batches else None for k in range(2)]
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="foolbox-lite-batch")
        self._first: Future[Prepared | Batch] | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start reading the first batch in the background (iterating starts it otherwise)."""
        if self._first is None and self.paths:
            self._first = self.pool.submit(self._load, 0)

    def close(self) -> None:
        """Stop the reading thread (a batch being read is finished and dropped)."""
        self.pool.shutdown(wait=True, cancel_futures=True)

    def read(self, k: int, slot: int, *, parallel: bool = True) -> Prepared | Batch:
        """Batch ``k`` in buffer ``slot`` (valid until that slot is read into again), decoded on
        the item pool (``parallel``) or on this thread.  The first batch, once :meth:`start`
        has begun reading it, comes from there: only slot 0 may ask for it."""
        if k == 0 and self._first is not None:
            if slot != 0:
                raise ValueError("the first batch is being read into slot 0")
            fut, self._first = self._first, None
            return fut.result()
        return self._load(k, slot, parallel)

    def _floats(self) -> torch.Tensor | None:
        return torch.empty((min(self.bs, len(self.paths)), 3, *self.norm.size), dtype=torch.float32) if self.norm is not None else None

    def _load(self, k: int, slot: int | None = None, parallel: bool = True) -> Prepared | Batch:
        slot = k % 2 if slot is None else slot
        for bufs in (self.floats, self.pixels):
            bufs.extend([None] * (slot + 1 - len(bufs)))
        start = k * self.bs
        n = min(self.bs, len(self.paths) - start)
        imgs: list[np.ndarray] = [None] * n  # type: ignore[list-item]
        norm = self.norm
        out = None
        if norm is not None:
            out = self.floats[slot]
            if out is None:
                out = self.floats[slot] = self._floats()
        on = out.numpy() if out is not None else None
        fits = [False] * n

        def work(lo: int, hi: int) -> None:  # decoding threads: hash, decode and normalise while the image is in the cache
            for j in range(lo, hi):
                img = imgs[j] = self._decode(start + j)
                if norm is not None and norm.fits(img):
                    norm.planes(img, on[j])  # type: ignore[index]
                    fits[j] = True

        if parallel:
            for_items(work, n, chunk=2)
        else:
            work(0, n)
        if out is not None and all(fits):
            return Prepared(out[:n], norm)  # type: ignore[arg-type]
        shape = imgs[0].shape
        if any(img.shape != shape for img in imgs):
            return [torch.from_numpy(img).permute(2, 0, 1) for img in imgs]  # ragged: each image is resized on its own
        buf = self.pixels[slot]
        if buf is None or buf.shape[1:] != shape:
            buf = self.pixels[slot] = torch.empty((self.bs, *shape), dtype=torch.uint8)
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
        n_batches = self.n_batches
        try:
            self.start()
            fut, self._first = self._first, None
            for k in range(n_batches):
                batch = fut.result()  # type: ignore[union-attr]
                fut = self.pool.submit(self._load, k + 1) if k + 1 < n_batches else None
                yield batch
        finally:
            self.close()
