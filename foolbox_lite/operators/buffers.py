"""Output allocation for operators, with explicit reuse of buffers a pipeline knows are dead.

Operators allocate their outputs with :func:`empty_output` / :func:`empty_cpu`.  Outside
a reuse scope these are plain ``torch.empty`` tensors: nothing is ever shared with a
tensor the caller still holds (the allocator tuned by :mod:`foolbox_lite.allocator`
recycles freed memory without page faults).

Inside :func:`offer_output` a caller that *owns* a dead tensor -- :class:`~foolbox_lite.pipeline.Pipeline`
offers the images of the intermediate batch two steps back, which nothing else can
reach -- hands it to the next allocation of the same shape, dtype and device, once.
Reuse therefore depends on who owns what, never on reference counts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

import torch

__all__ = ["empty_cpu", "empty_output", "offer_output", "reusable", "shares_memory"]


class _Offer:
    __slots__ = ("taken", "tensor")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor
        self.taken = False


_OFFER: ContextVar[_Offer | None] = ContextVar("foolbox_lite_output_offer", default=None)


@contextlib.contextmanager
def offer_output(buffer: torch.Tensor | None) -> Iterator[None]:
    """Let the next matching :func:`empty_output` in this context return ``buffer`` (at most once).

    The caller guarantees that nothing reads ``buffer`` any more (see :func:`reusable`);
    ``None`` offers nothing, and also hides any offer of an enclosing scope.
    """
    token = _OFFER.set(_Offer(buffer) if buffer is not None else None)
    try:
        yield
    finally:
        _OFFER.reset(token)


def _take(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device, memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor | None:
    offer = _OFFER.get()
    if offer is None or offer.taken:
        return None
    t = offer.tensor
    if tuple(t.shape) != shape or t.dtype != dtype or t.device != device or not t.is_contiguous(memory_format=memory_format):
        return None
    offer.taken = True
    return t


def empty_cpu(shape: Sequence[int], dtype: torch.dtype, memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """An uninitialised CPU tensor, contiguous in ``memory_format`` (the offered buffer when one matches)."""
    shape = tuple(int(s) for s in shape)
    taken = _take(shape, dtype, torch.device("cpu"), memory_format)
    return taken if taken is not None else torch.empty(shape, dtype=dtype, memory_format=memory_format)


def empty_output(like: torch.Tensor, shape: Sequence[int] | None = None) -> torch.Tensor:
    """An uninitialised contiguous output with ``like``'s dtype and device (the offered buffer when one matches)."""
    shape = tuple(int(s) for s in (like.shape if shape is None else shape))
    taken = _take(shape, like.dtype, like.device)
    return taken if taken is not None else torch.empty(shape, dtype=like.dtype, device=like.device)


def _base_ptr(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def shares_memory(t: torch.Tensor, others: Sequence[torch.Tensor]) -> bool:
    """Whether ``t``'s storage is (part of) the storage of any of ``others``."""
    p = _base_ptr(t)
    return any(_base_ptr(o) == p for o in others)


def reusable(t: torch.Tensor, live: Sequence[torch.Tensor]) -> bool:
    """Whether a dead tensor ``t`` may be offered: it owns its whole storage, shares none with ``live`` and no graph saved it."""
    if t.requires_grad or any(o.requires_grad for o in live):
        return False  # autograd may have saved it for backward
    if torch.is_inference_mode_enabled() != t.is_inference():
        return False  # inference tensors cannot be written outside inference mode (and vice versa for clarity)
    dense = t.is_contiguous() or (t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last))
    if not dense or t.storage_offset() != 0 or t.untyped_storage().nbytes() != t.numel() * t.element_size():
        return False
    return not shares_memory(t, live)
