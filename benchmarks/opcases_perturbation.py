"""Benchmark cases: adding a (universal) perturbation."""

from __future__ import annotations

import numpy as np
import torch
from harness import Case
from opcases_color import numpy_batch

import foolbox_lite as fl


def cases(images: torch.Tensor, masks: torch.Tensor, device: str) -> list[Case]:
    stim = fl.Stimuli.from_tensor(images, masks)
    h, w = images.shape[-2:]
    g = torch.Generator().manual_seed(0)
    delta = (torch.rand(3, h, w, generator=g) - 0.5) * 0.1
    op = fl.ops.AddPerturbation(delta, norm="linf", eps=8 / 255)
    np_imgs = numpy_batch(images)
    d16 = np.ascontiguousarray((op.delta_for(h, w)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.int16))

    def peer() -> None:  # numpy: int16 add, clip, back to uint8
        for im in np_imgs:
            np.clip(im + d16, 0, 255).astype(np.uint8)

    def ours() -> None:
        with torch.inference_mode():
            op(stim)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    return [Case("add_perturbation", ours, "numpy", peer)]
