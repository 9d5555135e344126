"""Benchmark cases: unusual-angle warps and flips against per-image OpenCV calls on uint8.

Our operators move the mask layer with the image, so each peer warps (or flips) the uint8
mask too, with the same matrix: the same work a per-image script does for a stimulus with a
mask.  The ``*_image`` cases compare the image alone on both sides (no mask: our warps then
turn about the image centre, as the peer's matrix does).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
from harness import Case, operator_runner
from opcases_color import numpy_batch

import foolbox_lite as fl


def cases(images: torch.Tensor, masks: torch.Tensor, device: str) -> list[Case]:
    stim = fl.Stimuli.from_tensor(images, masks)
    alone = fl.Stimuli.from_tensor(images)
    np_imgs = numpy_batch(images)
    np_masks = [np.ascontiguousarray((m[0].cpu().numpy() * 255).astype(np.uint8)) for m in masks]
    h, w = images.shape[-2:]
    rng = np.random.default_rng(0)
    angles = rng.uniform(-30, 30, len(np_imgs))
    rot = [cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), float(a), 1.0) for a in angles]
    tilt_op = fl.ops.Tilt(pitch=(-40, 40), yaw=(-30, 30))
    params = [r["params"] for r in tilt_op.sample_params(stim, seed=0, path="tilt")]
    persp = [m.numpy() for m in tilt_op.matrices(stim, params)]

    def run(op: fl.Operator, s: fl.Stimuli = stim) -> Callable[[], None]:
        return operator_runner(op, s, device)

    def warps(fn: Callable[..., np.ndarray], mats: list[np.ndarray], with_mask: bool) -> Callable[[], None]:
        def peer() -> None:
            for im, mk, m in zip(np_imgs, np_masks, mats):
                fn(im, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
                if with_mask:
                    fn(mk, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

        return peer

    def flips(with_mask: bool) -> Callable[[], None]:
        def peer() -> None:
            for im, mk in zip(np_imgs, np_masks):
                cv2.flip(im, 1)
                if with_mask:
                    cv2.flip(mk, 1)

        return peer

    out = []
    for with_mask in (True, False):
        s, tag, planes = (stim, "", 8) if with_mask else (alone, "_image", 6)
        out += [
            Case(f"rotate{tag}", run(fl.ops.Rotate(angle=(-30, 30)), s), "opencv.warpAffine", warps(cv2.warpAffine, rot, with_mask), planes=planes),
            Case(f"tilt{tag}", run(tilt_op, s), "opencv.warpPerspective", warps(cv2.warpPerspective, persp, with_mask), planes=planes),
            Case(f"scale_translate{tag}", run(fl.ops.ScaleTranslate(scale=(0.8, 1.2), tx=(-0.1, 0.1)), s), "opencv.warpAffine", warps(cv2.warpAffine, rot, with_mask), planes=planes),
            Case(f"flip{tag}", run(fl.ops.Flip(horizontal=1.0), s), "opencv.flip", flips(with_mask), planes=planes),
        ]
    return out
