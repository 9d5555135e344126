"""Generation operators: diffusers inpainting around or inside the object mask.

- :class:`InpaintBackground` repaints everything outside the ``mask`` from a prompt
  (the object sits in a generated scene; its pixels are kept exactly) and sets
  ``cues["background"]``;
- :class:`RestyleObject` repaints the object with a texture prompt (masked inpainting
  or img2img), keeping its silhouette and the background, and sets ``cues["texture"]``.

Each item draws its prompt and a diffusion seed from its own generator; the seed is
recorded and drives a fresh ``torch.Generator`` for that item alone, so records
replay exactly and outputs do not depend on the batch.  The model is a local
Stable Diffusion folder, a hub id (offline by default) or
:data:`~foolbox_lite.backends.diffusers_gen.TINY_MODEL` (random weights, for tests).
Not differentiable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from ..backends import diffusers_gen as dg
from ..errors import ModelError, ParameterError
from ..params import check_number
from ..seeding import draw_seed
from ..stimuli import Stimuli
from .base import Operator, SampleContext

__all__ = ["InpaintBackground", "RestyleObject", "OPERATORS"]


def _prompts(value: Any) -> tuple[str, ...]:
    if isinstance(value, Mapping) and set(value) == {"choice"}:
        value = value["choice"]
    vals = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, Sequence) else ()
    if not vals or not all(isinstance(v, str) and v.strip() for v in vals):
        raise ParameterError(f"parameter 'prompt' must be a non-empty string or a list of them, got {value!r}",
                             hint='e.g. prompt="zebra skin fabric" or prompt={"choice": ["forest", "beach"]}')
    return vals


def _labels(labels: Any, prompts: tuple[str, ...]) -> tuple[str, ...]:
    if labels is None:
        return prompts
    vals = (labels,) if isinstance(labels, str) else tuple(labels)
    if len(vals) != len(prompts) or not all(isinstance(v, str) and v for v in vals):
        raise ParameterError(f"parameter 'labels' must give one non-empty label per prompt ({len(prompts)}), got {labels!r}")
    return vals


class _Generative(Operator):
    """Shared parts: model, prompts, steps, guidance, strength; per-item seed and prompt."""

    differentiable = False
    needs_mask = True
    extras = ("diffusers",)
    cue = ""

    def __init__(self, model: str, prompt: Any, *, labels: Any = None, steps: int = 25, guidance: float = 7.5,
                 strength: float = 1.0, negative_prompt: str | None = None, device: str = "cpu", p: float = 1.0) -> None:
        if not isinstance(model, str) or not model:
            raise ParameterError(f"operator {self.name!r}: parameter 'model' must be a model folder or hub id, got {model!r}",
                                 hint="generation needs a model: a local Stable Diffusion folder, a hub id, or TINY_MODEL for tests")
        self.model = model
        self.prompts = _prompts(prompt)
        self.labels = _labels(labels, self.prompts)
        self.steps = int(check_number("steps", steps, low=1, high=1000, integer=True))
        self.guidance = float(check_number("guidance", guidance, low=0.0, high=50.0))
        self.strength = float(check_number("strength", strength, low=0.01, high=1.0))
        if int(self.steps * self.strength) < 1:
            raise ParameterError(f"operator {self.name!r}: steps={steps} at strength={strength} leaves no denoising step",
                                 hint="raise steps or strength so that int(steps * strength) >= 1")
        if negative_prompt is not None and not isinstance(negative_prompt, str):
            raise ParameterError(f"parameter 'negative_prompt' must be a string, got {negative_prompt!r}")
        self.negative_prompt = negative_prompt
        if not isinstance(device, str) or not device:
            raise ParameterError(f"operator {self.name!r}: parameter 'device' must be a device name such as 'cpu' or 'cuda', got {device!r}")
        self.device = device
        super().__init__(p=p)
        self._record(prompt=prompt if isinstance(prompt, str) else list(self.prompts), labels=None if labels is None else list(self.labels))

    def sample(self, g: torch.Generator, ctx: SampleContext) -> dict[str, Any]:
        k = int(torch.randint(0, len(self.prompts), (1,), generator=g).item()) if len(self.prompts) > 1 else 0
        return {"prompt": self.prompts[k], "label": self.labels[k], "seed": draw_seed(g), "model_sha256": dg.model_hashes(self.model)[self.model]}

    def _one(self, image: torch.Tensor, mask: torch.Tensor, prm: Mapping[str, Any]) -> torch.Tensor:
        raise NotImplementedError

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        out = torch.empty_like(stim.images)
        items = [it.copy() for it in stim.items]
        digest = dg.model_hashes(self.model)[self.model]
        for i, prm in enumerate(tqdm(params, desc=self.name, unit="img", disable=len(params) < 4, leave=False)):
            if prm.get("model_sha256", digest) != digest:
                raise ModelError(f"item {items[i].id!r} was made with model weights {prm['model_sha256']}, but {self.model!r} is now {digest}",
                                 hint="replay with the same model files (see the lock file)")
            img = self._one(stim.images[i], stim.mask[i], prm)
            out[i].copy_(img.to(dtype=out.dtype, device=out.device))
            items[i].cues[self.cue] = str(prm["label"])
        return stim.replace(images=out, items=items)

    @classmethod
    def example(cls) -> _Generative:
        return cls(dg.TINY_MODEL, {"choice": ["zebra skin fabric", "brick wall"]}, steps=1, guidance=2.0)


class InpaintBackground(_Generative):
    """Generate a new scene around the object from a prompt (inpainting outside the mask)."""

    name = "inpaint_background"
    cue = "background"

    def __init__(self, model: str, prompt: Any, *, labels: Any = None, steps: int = 25, guidance: float = 7.5,
                 strength: float = 1.0, negative_prompt: str | None = None, device: str = "cpu", p: float = 1.0) -> None:
        super().__init__(model, prompt, labels=labels, steps=steps, guidance=guidance, strength=strength, negative_prompt=negative_prompt, device=device, p=p)

    def _one(self, image: torch.Tensor, mask: torch.Tensor, prm: Mapping[str, Any]) -> torch.Tensor:
        return dg.inpaint_background(self.model, image, mask, prm["prompt"], self.steps, int(prm["seed"]), strength=self.strength,
                                     guidance=self.guidance, negative_prompt=self.negative_prompt, device=self.device)


class RestyleObject(_Generative):
    """Repaint the object with a texture prompt (``mode`` = ``"inpaint"`` or ``"img2img"``), silhouette kept."""

    name = "restyle_object"
    cue = "texture"

    def __init__(self, model: str, prompt: Any, *, mode: str = "inpaint", labels: Any = None, steps: int = 25, guidance: float = 7.5,
                 strength: float = 0.75, negative_prompt: str | None = None, device: str = "cpu", p: float = 1.0) -> None:
        if mode not in ("inpaint", "img2img"):
            raise ParameterError(f"operator 'restyle_object': parameter 'mode' = {mode!r} is not one of ['inpaint', 'img2img']")
        self.mode = mode
        super().__init__(model, prompt, labels=labels, steps=steps, guidance=guidance, strength=strength, negative_prompt=negative_prompt, device=device, p=p)

    def _one(self, image: torch.Tensor, mask: torch.Tensor, prm: Mapping[str, Any]) -> torch.Tensor:
        return dg.restyle_object(self.model, image, mask, prm["prompt"], self.steps, int(prm["seed"]), mode=self.mode,
                                 strength=self.strength, guidance=self.guidance, negative_prompt=self.negative_prompt, device=self.device)

    @classmethod
    def example(cls) -> RestyleObject:
        return cls(dg.TINY_MODEL, {"choice": ["zebra skin fabric", "brick wall"]}, steps=2, strength=0.5, guidance=2.0)


OPERATORS: tuple[type[Operator], ...] = (InpaintBackground, RestyleObject)
