"""Benchmark cases: texture operators against per-image OpenCV/numpy doing the same thing.

- ``texture_fill``: each item's tile warped (scale, rotation, offset; wrap-around) and pasted
  into the mask; peer: ``cv2.warpAffine(BORDER_WRAP)`` on uint8 + ``np.copyto(where=mask)``.
- ``texture_shaded``: the same plus luminance shading; peer: warp, ``cv2.cvtColor`` to grey,
  a float32 multiply, paste.
- ``colour_match``: Reinhard colour transfer inside the mask; peer: ``cv2.cvtColor`` to Lab
  (uint8), ``cv2.meanStdDev`` with the mask, affine per channel, back to RGB, paste.

The quilting transfer has no per-image peer; ``benchmarks/quilting.py`` measures it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from harness import Case

import foolbox_lite as fl
from foolbox_lite.operators.texture import ColourMatch, ShadedTextureFill, TextureFill
from foolbox_lite.textures import Texture


def numpy_batch(images: torch.Tensor) -> list[np.ndarray]:
    return [np.ascontiguousarray((x.permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)) for x in images]


def bench_texture() -> Texture:
    """A 256x256 procedural texture (no files needed): oriented stripes with a second frequency."""
    ys, xs = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    a = torch.sin(xs * 0.3 + ys * 0.1) * 0.5 + 0.5
    b = torch.cos(ys * 0.17) * 0.5 + 0.5
    return Texture.from_tensor(torch.stack([a, 0.5 * a + 0.5 * b, b]) * 0.9 + 0.05, name="bench", label="bench")


def _affines(n: int, tile: tuple[int, int], size: int = 224) -> list[np.ndarray]:
    g = np.random.default_rng(0)
    out = []
    for _ in range(n):
        s, a = g.uniform(0.8, 1.25), math.radians(g.uniform(-30, 30))
        c, si = math.cos(a) / s, math.sin(a) / s
        cx = (size - 1) / 2
        m = np.array([[c, -si, cx - (c * cx - si * cx) + g.uniform() * tile[1]], [si, c, cx - (si * cx + c * cx) + g.uniform() * tile[0]]])
        out.append(m)
    return out


def cases(images: torch.Tensor, masks: torch.Tensor, device: str) -> list[Case]:
    stim = fl.Stimuli.from_tensor(images, masks)
    tex = bench_texture()
    tile_u8 = np.ascontiguousarray((tex.seamless().image.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    np_imgs = numpy_batch(images)
    np_masks = [np.ascontiguousarray(m[0].cpu().numpy() > 0.5) for m in masks]
    mats = _affines(len(np_imgs), tile_u8.shape[:2])
    size = images.shape[-1]

    def run(op):
        def ours() -> None:
            with torch.inference_mode():
                op(stim)
            if device.startswith("cuda"):
                torch.cuda.synchronize()

        return ours

    def peer_fill() -> None:
        for im, m, a in zip(np_imgs, np_masks, mats):
            t = cv2.warpAffine(tile_u8, a, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_WRAP)
            out = im.copy()
            np.copyto(out, t, where=m[:, :, None])

    def peer_shaded() -> None:
        for im, m, a in zip(np_imgs, np_masks, mats):
            t = cv2.warpAffine(tile_u8, a, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_WRAP)
            g = cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32) * (1.0 / 128)
            shaded = cv2.multiply(t.astype(np.float32), cv2.merge([g, g, g])).clip(0, 255).astype(np.uint8)
            out = im.copy()
            np.copyto(out, shaded, where=m[:, :, None])

    tlab = cv2.cvtColor(tile_u8, cv2.COLOR_RGB2LAB)
    t_mean, t_std = (x[:, 0] for x in cv2.meanStdDev(tlab))

    def peer_colour() -> None:
        for im, m in zip(np_imgs, np_masks):
            lab = cv2.cvtColor(im, cv2.COLOR_RGB2LAB)
            mean, std = (x[:, 0] for x in cv2.meanStdDev(lab, mask=m.astype(np.uint8)))
            moved = ((lab.astype(np.float32) - mean) * (t_std / np.maximum(std, 1e-6)) + t_mean).clip(0, 255).astype(np.uint8)
            rgb = cv2.cvtColor(moved, cv2.COLOR_LAB2RGB)
            out = im.copy()
            np.copyto(out, rgb, where=m[:, :, None])

    return [
        Case("texture_fill", run(TextureFill(tex, scale=(0.8, 1.25), angle=(-30, 30))), "opencv-warp+copyto", peer_fill),
        Case("texture_shaded", run(ShadedTextureFill(tex, scale=(0.8, 1.25), angle=(-30, 30))), "opencv-warp+shade", peer_shaded),
        Case("colour_match", run(ColourMatch(tex)), "opencv-lab-reinhard", peer_colour),
    ]
