"""Benchmark cases: structure removal (patch scramble, silhouette, edges)."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from harness import Case
from harness import operator_runner as _ours
from opcases_color import numpy_batch

import foolbox_lite as fl

GRID = 4




def cases(images: torch.Tensor, masks: torch.Tensor, device: str) -> list[Case]:
    stim = fl.Stimuli.from_tensor(images, masks)
    np_imgs = numpy_batch(images)
    np_masks = [np.ascontiguousarray((m[0].cpu().numpy() * 255).astype(np.uint8)) for m in masks]
    h, w = np_imgs[0].shape[:2]
    ph, pw = h // GRID, w // GRID
    rng = np.random.default_rng(0)

    def peer_scramble() -> None:  # numpy: blocks view, permuted gather, back to HWC
        for im in np_imgs:
            blocks = im[: GRID * ph, : GRID * pw].reshape(GRID, ph, GRID, pw, 3).swapaxes(1, 2).reshape(GRID * GRID, ph, pw, 3)
            out = blocks[rng.permutation(GRID * GRID)].reshape(GRID, GRID, ph, pw, 3).swapaxes(1, 2).reshape(GRID * ph, GRID * pw, 3)
            np.ascontiguousarray(out)

    def peer_silhouette() -> None:
        for m in np_masks:
            cv2.cvtColor(255 - m, cv2.COLOR_GRAY2RGB)

    def peer_sobel() -> None:
        for im in np_imgs:
            g = cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)
            gx = cv2.Sobel(g, cv2.CV_32F, 1, 0)
            gy = cv2.Sobel(g, cv2.CV_32F, 0, 1)
            mag = cv2.magnitude(gx, gy)
            cv2.convertScaleAbs(mag, alpha=-255.0 / max(float(mag.max()), 1e-6), beta=255)

    def peer_canny() -> None:
        for im in np_imgs:
            g = cv2.GaussianBlur(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), (5, 5), 1.0)
            255 - cv2.Canny(g, 0.1 * 255, 0.2 * 255, L2gradient=True)

    return [
        Case("patch_scramble", _ours(fl.ops.PatchScramble(grid=GRID), stim, device), "numpy", peer_scramble, planes=8),  # the mask layer follows
        Case("silhouette", _ours(fl.ops.Silhouette(), stim, device), "opencv", peer_silhouette, planes=4),
        Case("edges_sobel", _ours(fl.ops.Edges("sobel"), stim, device), "opencv", peer_sobel),
        Case("edges_canny", _ours(fl.ops.Edges("canny"), stim, device), "opencv", peer_canny),
    ]
