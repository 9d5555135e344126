"""The outputs of one build batch: its 8-bit images, float32 sidecars, final masks and items, by manifest position.

The pipeline runs once per group of items sharing the factor levels it uses, so a batch's
images arrive group by group; :class:`BatchOutput` puts each where its manifest position
says.  8-bit images are stored ``(H, W, 3)`` (the writers' layout): each plane is converted by
``cv2.multiply(plane, 255, dtype=CV_8U)`` (one pass, no temporaries; OpenCV 5 rounds the
float32 product half to even, so the values are exactly those of
``x.clamp(0, 1).mul(255).round().to(uint8)``, tested near every tie; with an OpenCV that
rounds otherwise, checked once per process by :func:`multiply_rounds_like_torch`, torch's
arithmetic converts each plane), then ``cv2.merge``
interleaves the planes (one cache-friendly pass, several times faster than a strided torch copy).
Channels-last images (a warp of a channels-last batch without a mask keeps that layout) are converted in one pass.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch

from ..errors import ParameterError
from ..stimuli import MASK, Item, Stimuli

__all__ = ["BatchOutput", "multiply_rounds_like_torch", "rounded_u8", "stack_u8", "tie_probe", "to_u8"]


def stack_u8(tensors: Sequence[torch.Tensor | None], device: str, shape: tuple[int, ...] | None = None, fill: int = 255) -> torch.Tensor:
    """uint8 ``(C, H, W)`` tensors (``None`` = ``fill``, of ``shape`` when all are None) -> float32 ``(B, C, H, W)``
    in ``[0, 1]`` on ``device``, the values of ``t.float() / 255`` for each, converted straight into the batch."""
    ref = next((t for t in tensors if t is not None), None)
    if ref is None:
        assert shape is not None, "stack_u8 needs a shape when every tensor is None"
        ref = torch.empty(shape, dtype=torch.uint8)
    full = None
    parts = []
    for t in tensors:
        if t is None:
            full = torch.full_like(ref, fill) if full is None else full
            t = full
        parts.append(t)
    if torch.device(device).type != "cpu":
        return torch.stack(parts).to(device).float().div_(255.0)
    out = torch.empty((len(parts), *ref.shape), dtype=torch.float32)
    for k, t in enumerate(parts):
        torch.div(t, 255.0, out=out[k])
    return out


def tie_probe() -> np.ndarray:
    """float32 values within 300 ulps of every ``(k + 0.5) / 255`` and beyond ``[0, 1]``: where 8-bit roundings part."""
    near = [(np.float32((k + 0.5) / 255).view(np.int32) + np.arange(-300, 300, dtype=np.int32)).view(np.float32) for k in range(-1, 257)]
    return np.concatenate([*near, np.array([0.0, 1.0, -0.0, 2.0, -5.0, 1e30, -1e30], np.float32)])


def rounded_u8(values: torch.Tensor) -> torch.Tensor:
    """The 8-bit values a build stores: ``x.clamp(0, 1).mul(255).round()`` (half to even) as uint8."""
    return values.clamp(0, 1).mul(255.0).round_().to(torch.uint8)


@functools.lru_cache(maxsize=1)
def multiply_rounds_like_torch() -> bool:
    """Whether ``cv2.multiply(x, 255, dtype=CV_8U)`` gives :func:`rounded_u8`'s bytes next to every tie.

    OpenCV 5 rounds the float32 product half to even, as torch does; OpenCV 4.x multiplies in
    double precision, so a float32 product of exactly ``k + 0.5`` whose exact value lies just
    above it rounds up (129 of the probe's 154,807 values with 4.10).
    """
    import cv2

    v = tie_probe().reshape(1, -1)
    got = cv2.multiply(v, 255.0, dtype=cv2.CV_8U)
    return bool(np.array_equal(got, rounded_u8(torch.from_numpy(v)).numpy()))


def to_u8(src: np.ndarray, dst: np.ndarray) -> None:
    """Write :func:`rounded_u8` of the 2-D float32 ``src`` into the uint8 ``dst`` of its shape: one
    ``cv2.multiply`` pass where it rounds like torch (:func:`multiply_rounds_like_torch`), else torch's arithmetic."""
    import cv2

    if multiply_rounds_like_torch():
        if cv2.multiply(src, 255.0, dst=dst, dtype=cv2.CV_8U).ctypes.data != dst.ctypes.data:  # pragma: no cover
            raise RuntimeError("cv2.multiply did not write into the batch's output")
    else:
        torch.from_numpy(dst).copy_(rounded_u8(torch.from_numpy(src)))


class BatchOutput:
    """Preallocated outputs of ``n`` images of ``size``; ``store`` fills the positions of one pipeline result."""

    def __init__(self, n: int, size: tuple[int, int], *, sidecars: bool, has_mask: list[bool], stim_has_mask: bool) -> None:
        h, w = size
        self.u8 = torch.empty((n, h, w, 3), dtype=torch.uint8)
        self._u8 = self.u8.numpy()
        self._plane = np.empty((3, h, w), dtype=np.uint8)  # one image's 8-bit planes, before cv2.merge interleaves them
        self.f32 = torch.empty((n, 3, h, w), dtype=torch.float32) if sidecars else None
        self.mask = torch.zeros((n, h, w), dtype=torch.uint8)
        self._mask = self.mask.numpy()
        #: an image's final mask is kept when its base asset has one or an operator made the layer
        self.has_mask = has_mask
        self.stim_has_mask = stim_has_mask
        self.items: list[Item | None] = [None] * n

    def store(self, out: Stimuli, slots: list[int]) -> None:
        """Put the images, masks and items of ``out`` at positions ``slots`` (refusing non-finite values)."""
        import cv2

        x = out.images.detach().to("cpu", torch.float32)
        if not torch.isfinite(x.sum()) and not torch.isfinite(x).all():  # a finite sum means all finite: one pass
            bad = [out.items[i].id for i in range(len(slots)) if not torch.isfinite(x[i]).all()]
            raise ParameterError(f"the pipeline produced non-finite values (NaN or inf) for items {bad[:5]}")
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():  # (H, W, 3) per item already: one pass
            xs = x.numpy()
            h, w = x.shape[-2:]
            for k, s in enumerate(slots):
                # as (H, W * 3) single-channel arrays: cv2.multiply by a scalar is ~4x slower on 3 channels
                to_u8(xs[k].transpose(1, 2, 0).reshape(h, w * 3), self._u8[s].reshape(h, w * 3))
        else:
            xs = x.contiguous().numpy()
            plane = self._plane
            for k, s in enumerate(slots):
                for c in range(3):
                    to_u8(xs[k, c], plane[c])
                dst = self._u8[s]
                if cv2.merge([plane[0], plane[1], plane[2]], dst).ctypes.data != dst.ctypes.data:  # pragma: no cover
                    raise RuntimeError("cv2.merge did not write into the batch's output")
        idx = torch.as_tensor(slots, dtype=torch.long)
        if self.f32 is not None:
            self.f32.index_copy_(0, idx, x)
        if MASK in out.layers:  # as mask_u8: clamp to [0, 1], times 255, rounded half to even
            m = out.layers[MASK].detach().to("cpu", torch.float32)[:, 0].contiguous().numpy()
            for k, s in enumerate(slots):
                to_u8(m[k], self._mask[s])
            if not self.stim_has_mask:
                for k in slots:
                    self.has_mask[k] = True
        for it, k in zip(out.items, slots):
            self.items[k] = it

    def masks(self) -> list[torch.Tensor | None]:
        return [self.mask[k] if self.has_mask[k] else None for k in range(len(self.has_mask))]
