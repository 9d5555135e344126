"""Benchmark cases: colour operators."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from harness import Case

import foolbox_lite as fl


def numpy_batch(images: torch.Tensor) -> list[np.ndarray]:
    """uint8 HWC copies of a batch, the input a per-image OpenCV/PIL peer would get."""
    return [np.ascontiguousarray((x.permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)) for x in images]


def cases(images: torch.Tensor, masks: torch.Tensor, device: str) -> list[Case]:
    stim = fl.Stimuli.from_tensor(images, masks)
    op = fl.ops.Grayscale()
    np_imgs = numpy_batch(images)

    def peer() -> None:
        for im in np_imgs:
            g = cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)
            cv2.cvtColor(g, cv2.COLOR_GRAY2RGB)

    def ours() -> None:
        with torch.inference_mode():
            op(stim)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    return [Case("grayscale", ours, "opencv", peer)]
