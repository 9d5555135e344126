"""Any albumentations transform as an operator, seeded per item.

``Albumentations(A.Compose([...]))`` (or a transform, or the dict ``A.to_dict`` makes,
for recipes) runs the transform on each item alone: it draws a seed from the item's
generator, records it, seeds the transform with it (``set_random_seed``) and applies it
to the item's image as uint8 ``H x W x 3`` (``round(x * 255)``) and to its layers as
float32 ``H x W x C`` masks, so masks follow geometric transforms.  The image comes back
as ``uint8 / 255`` in the input's dtype: outputs are quantised to 256 levels.

albumentations is imported lazily (extra ``albumentations``), with
``NO_ALBUMENTATIONS_UPDATE=1`` so that importing it does not contact PyPI.  Not
differentiable; runs on the CPU (GPU batches are copied there and back).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..errors import InputError, ParameterError
from ..seeding import draw_seed
from ..stimuli import Stimuli
from .base import Operator, SampleContext

__all__ = ["import_albumentations", "Albumentations", "OPERATORS"]


def import_albumentations() -> Any:
    """``import albumentations`` without its update check; a clear error when it is missing."""
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    try:
        import albumentations as A
    except ImportError as exc:
        raise ParameterError(
            "the Albumentations operator needs the albumentations package",
            hint="pip install 'foolbox-lite[albumentations]'",
        ) from exc
    return A


class Albumentations(Operator):
    """Wrap an albumentations transform (object or ``A.to_dict`` dict); one recorded seed per item."""

    name = "albumentations"
    extras = ("albumentations",)

    def __init__(self, transform: Any, *, p: float = 1.0) -> None:
        A = import_albumentations()
        if isinstance(transform, Mapping):
            try:
                built = A.from_dict(dict(transform))
            except Exception as exc:  # albumentations raises several kinds here
                raise ParameterError(f"parameter 'transform': cannot build an albumentations transform from {dict(transform)!r}: {exc}") from exc
            cfg_transform: Any = dict(transform)
        elif isinstance(transform, (A.BasicTransform, A.BaseCompose)):
            built = copy.deepcopy(transform)
            try:
                cfg_transform = A.to_dict(transform)
            except Exception:  # noqa: BLE001 - not serialisable (e.g. A.Lambda): keep the object itself
                cfg_transform = transform
        else:
            raise ParameterError(
                f"parameter 'transform' must be an albumentations transform or a dict from A.to_dict, got {type(transform).__name__}",
                hint="e.g. Albumentations(A.Compose([A.HorizontalFlip(), A.RandomBrightnessContrast()]))",
            )
        self.transform = built
        super().__init__(p=p)
        self._record(transform=cfg_transform)

    def sample(self, g: torch.Generator, ctx: SampleContext) -> dict[str, Any]:
        return {"seed": draw_seed(g)}

    def _one(self, image: torch.Tensor, layer: torch.Tensor | None, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        img = (image.detach().permute(1, 2, 0).cpu().double() * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()
        kwargs: dict[str, Any] = {"image": img}
        if layer is not None:
            kwargs["mask"] = layer.detach().permute(1, 2, 0).cpu().float().contiguous().numpy()
        self.transform.set_random_seed(seed)
        res = self.transform(**kwargs)
        out_img = res["image"]
        if out_img.ndim != 3 or out_img.shape[2] != 3:
            raise InputError(f"the albumentations transform returned an image of shape {out_img.shape}; expected H x W x 3")
        t_img = torch.from_numpy(out_img.astype("float32") / 255.0).permute(2, 0, 1)
        t_lay = None
        if layer is not None:
            m = torch.from_numpy(res["mask"].astype("float32"))
            t_lay = m[None] if m.dim() == 2 else m.permute(2, 0, 1)
        return t_img, t_lay

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        names = list(stim.layers)
        sizes = [stim.layers[k].shape[1] for k in names]
        stacked = torch.cat([stim.layers[k] for k in names], dim=1) if names else None
        imgs, lays = [], []
        for i, p in enumerate(params):
            t_img, t_lay = self._one(stim.images[i], None if stacked is None else stacked[i], int(p["seed"]))
            imgs.append(t_img)
            lays.append(t_lay)
        shapes = {tuple(t.shape) for t in imgs}
        if len(shapes) != 1:
            raise InputError(
                f"the albumentations transform gave images of different sizes {sorted(shapes)} within one batch",
                hint="end the transform with a fixed-size step such as A.Resize(h, w) or A.CenterCrop(h, w)",
            )
        images = torch.stack(imgs).to(device=stim.device, dtype=stim.dtype)
        layers: dict[str, torch.Tensor] = {}
        if names:
            lay = torch.stack(lays).to(device=stim.device)  # type: ignore[arg-type]
            for k, part in zip(names, torch.split(lay, sizes, dim=1)):
                layers[k] = part.to(stim.layers[k].dtype).contiguous()
        return stim.replace(images=images, layers=layers)

    @classmethod
    def example(cls) -> Albumentations:
        A = import_albumentations()
        return cls(A.Compose([A.HorizontalFlip(p=0.5), A.RandomBrightnessContrast(brightness_limit=0.3, contrast_limit=0.3, p=1.0)]))


OPERATORS: tuple[type[Operator], ...] = (Albumentations,)
