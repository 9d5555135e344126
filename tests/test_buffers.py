"""The output pool must never hand out memory that a tensor, view or array still uses."""

from __future__ import annotations

import torch

from foolbox_lite.operators.buffers import empty_cpu

SHAPE = (4, 3, 128, 128)  # 786 KB * 1.25 > 1 MiB: pooled


def test_live_tensors_views_and_arrays_keep_their_memory():
    a = empty_cpu(SHAPE, torch.float32).fill_(1.0)
    b = empty_cpu(SHAPE, torch.float32).fill_(2.0)
    assert a.data_ptr() != b.data_ptr()
    view = a[1:2]
    arr = b.numpy()
    del a, b
    c = empty_cpu(SHAPE, torch.float32).fill_(3.0)
    assert c.data_ptr() not in (view.data_ptr() - view.storage_offset() * 4, arr.ctypes.data)
    assert torch.all(view == 1.0) and (arr == 2.0).all()


def test_freed_buffers_are_reused():
    a = empty_cpu(SHAPE, torch.float32)
    ptr = a.data_ptr()
    del a
    assert empty_cpu(SHAPE, torch.float32).data_ptr() == ptr


def test_operator_outputs_do_not_alias(batch):
    import foolbox_lite as fl

    big = fl.Stimuli.from_tensor(torch.rand(8, 3, 256, 256))
    first = fl.ops.Invert()(big)
    second = fl.ops.Invert()(first)
    assert first.images.data_ptr() != second.images.data_ptr()
    assert torch.allclose(second.images, big.images, atol=1e-6)
    assert torch.allclose(first.images, 1 - big.images)
