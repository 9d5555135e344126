"""Benchmark cases: background compositing against per-image PIL ``Image.composite``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from harness import Case, operator_runner
from PIL import Image

import foolbox_lite as fl


def cases(images: torch.Tensor, masks: torch.Tensor, device: str) -> list[Case]:
    stim = fl.Stimuli.from_tensor(images, masks)
    g = torch.Generator().manual_seed(0)
    bgs = torch.rand(8, 3, 256, 320, generator=g)  # fitted to 224x224 once (cached by the operator)
    h, w = images.shape[-2:]
    to_u8 = lambda t: np.ascontiguousarray((t.permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8))
    fgs = [Image.fromarray(to_u8(x)) for x in images]
    ms = [Image.fromarray((m[0].cpu().numpy() * 255).astype(np.uint8), mode="L") for m in masks]
    pil_bgs = [Image.fromarray(to_u8(b)).resize((w, h)) for b in bgs]
    comp = fl.ops.Composite(bgs)
    comp.fitted(h, w, images.dtype, images.device)
    challenge = fl.ops.BackgroundsChallenge("only_fg")

    def run(op: fl.Operator) -> Callable[[], None]:
        return operator_runner(op, stim, device)

    def peer() -> None:
        for i, (f, m) in enumerate(zip(fgs, ms)):
            Image.composite(f, pil_bgs[i % len(pil_bgs)], m)

    black = Image.new("RGB", (w, h))

    def peer_only_fg() -> None:
        for f, m in zip(fgs, ms):
            Image.composite(f, black, m)

    return [
        Case("composite", run(comp), "PIL.Image.composite", peer),
        Case("backgrounds_challenge", run(challenge), "PIL.Image.composite", peer_only_fg),
    ]
