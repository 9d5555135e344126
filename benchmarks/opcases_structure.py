"""Benchmark cases: structure removal (patch scramble, silhouette, edges).

Our patch scramble moves the mask layer with the image, so its peer scrambles the uint8 mask
too, with the same permutation; ``patch_scramble_image`` compares the image alone on both sides.
"""

from __future__ import annotations

from collections.abc import Callable

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

    def scrambles(with_mask: bool) -> Callable[[], None]:
        """numpy: blocks view, permuted gather, back to HWC; the mask with the same permutation."""

        def scramble(im: np.ndarray, perm: np.ndarray) -> None:
            c = im.shape[2] if im.ndim == 3 else 1
            blocks = im[: GRID * ph, : GRID * pw].reshape(GRID, ph, GRID, pw, c).swapaxes(1, 2).reshape(GRID * GRID, ph, pw, c)
            np.ascontiguousarray(blocks[perm].reshape(GRID, GRID, ph, pw, c).swapaxes(1, 2).reshape(GRID * ph, GRID * pw, c))

        def peer() -> None:
            for im, mk in zip(np_imgs, np_masks):
                perm = rng.permutation(GRID * GRID)
                scramble(im, perm)
                if with_mask:
                    scramble(mk, perm)

        return peer

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
        Case("patch_scramble", _ours(fl.ops.PatchScramble(grid=GRID), stim, device), "numpy", scrambles(True), planes=8),  # the mask layer follows
        Case("patch_scramble_image", _ours(fl.ops.PatchScramble(grid=GRID), fl.Stimuli.from_tensor(images), device), "numpy", scrambles(False)),
        Case("silhouette", _ours(fl.ops.Silhouette(), stim, device), "opencv", peer_silhouette, planes=4),
        Case("edges_sobel", _ours(fl.ops.Edges("sobel"), stim, device), "opencv", peer_sobel),
        Case("edges_canny", _ours(fl.ops.Edges("canny"), stim, device), "opencv", peer_canny),
    ]
