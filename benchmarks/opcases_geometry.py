"""Benchmark cases: unusual-angle warps against per-image OpenCV warps on uint8."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
from harness import Case, operator_runner

import foolbox_lite as fl


def numpy_batch(images: torch.Tensor) -> list[np.ndarray]:
    """uint8 HWC copies of a batch, the input a per-image OpenCV/PIL peer would get."""
    return [np.ascontiguousarray((x.permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)) for x in images]


def cases(images: torch.Tensor, masks: torch.Tensor, device: str) -> list[Case]:
    stim = fl.Stimuli.from_tensor(images, masks)
    np_imgs = numpy_batch(images)
    h, w = images.shape[-2:]
    rng = np.random.default_rng(0)
    angles = rng.uniform(-30, 30, len(np_imgs))
    rot = [cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), float(a), 1.0) for a in angles]
    tilt_op = fl.ops.Tilt(pitch=(-40, 40), yaw=(-30, 30))
    params = [r["params"] for r in tilt_op.sample_params(stim, seed=0, path="tilt")]
    persp = [m.numpy() for m in tilt_op.matrices(stim, params)]

    def run(op: fl.Operator) -> Callable[[], None]:
        return operator_runner(op, stim, device)

    def peer_rotate() -> None:
        for im, m in zip(np_imgs, rot):
            cv2.warpAffine(im, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

    def peer_tilt() -> None:
        for im, m in zip(np_imgs, persp):
            cv2.warpPerspective(im, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

    def peer_flip() -> None:
        for im in np_imgs:
            cv2.flip(im, 1)

    return [
        Case("rotate", run(fl.ops.Rotate(angle=(-30, 30))), "opencv.warpAffine", peer_rotate, planes=8),
        Case("tilt", run(tilt_op), "opencv.warpPerspective", peer_tilt, planes=8),
        Case("scale_translate", run(fl.ops.ScaleTranslate(scale=(0.8, 1.2), tx=(-0.1, 0.1))), "opencv.warpAffine", peer_rotate, planes=8),
        Case("flip", run(fl.ops.Flip(horizontal=1.0)), "opencv.flip", peer_flip, planes=8),
    ]
