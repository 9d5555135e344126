"""Segmentation operators: compute the batch's foreground ``mask`` layer from its images.

:class:`ForegroundMask` runs rembg (an ONNX segmenter such as ``u2netp``), GrabCut
or border-colour thresholding on every image and sets the ``"mask"`` layer, so
that later operators (background swaps, restyling) have an object to work on.
Masks are cached by the image's content hash and the method's settings.  Not
differentiable: a mask is a discrete decision.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..backends.mask_cache import MaskCache
from ..backends.mask_cleanup import as_cleanup
from ..backends.segment import METHODS, cache_for, method_settings, segment_array
from ..errors import InputError, ModelError, ParameterError
from ..params import check_number
from ..stimuli import MASK, Stimuli
from .base import Operator

__all__ = ["foreground_masks", "ForegroundMask", "OPERATORS"]


def foreground_masks(
    images: torch.Tensor,
    settings: Mapping[str, Any],
    *,
    cache: MaskCache | None = None,
    names: Sequence[str] | None = None,
) -> torch.Tensor:
    """``(B, 3, H, W)`` in [0, 1] -> masks ``(B, 1, H, W)`` (same dtype/device), one segmentation per image.

    ``settings`` come from :func:`~foolbox_lite.backends.segment.method_settings`;
    an empty mask raises :class:`~foolbox_lite.errors.AssetError` naming the item.
    """
    if not torch.isfinite(images).all():
        raise InputError("images have non-finite values (NaN or inf); cannot segment them")
    # one uint8 HWC copy of the batch (round half to even, as when saving), then one segmentation per image
    rgb = images.detach().to("cpu", torch.float32).clamp(0, 1).mul(255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    out = torch.empty((images.shape[0], 1, images.shape[2], images.shape[3]), dtype=images.dtype, device=images.device)
    for i in range(images.shape[0]):
        what = f"item {names[i]!r}" if names is not None else f"image {i} of the batch"
        m = segment_array(rgb[i], settings, cache=cache, what=what)
        out[i, 0].copy_(torch.from_numpy(m))
    return out


class ForegroundMask(Operator):
    """Set the ``mask`` layer from the images: ``method`` = ``"rembg"``, ``"grabcut"`` or ``"threshold"``.

    ``model``: rembg name or ``.onnx`` path (``rembg`` only); ``box``/``margin``/``iterations``:
    GrabCut's seed box (default the centre box leaving ``margin`` per side);
    ``threshold``: colour distance for ``threshold`` (``None`` = Otsu); ``cleanup``:
    ``True``, ``False`` or a dict (threshold, largest, holes, feather, min_area);
    ``cache``: ``False`` (memory only), ``True`` (``$FOOLBOX_LITE_HOME/cache/masks``) or a folder.
    """

    name = "foreground_mask"
    differentiable = False
    extras = ("rembg",)  # rembg and onnxruntime for rembg, its OpenCV for grabcut

    def __init__(
        self,
        method: str = "rembg",
        *,
        model: str = "u2netp",
        box: Sequence[float] | None = None,
        margin: float = 0.1,
        iterations: int = 5,
        threshold: float | None = None,
        cleanup: bool | Mapping[str, Any] = True,
        cache: bool | str = False,
        p: float = 1.0,
    ) -> None:
        if method not in METHODS:
            raise ParameterError(f"parameter 'method' = {method!r} is not one of {list(METHODS)}")
        check_number("margin", margin, low=0.0, high=0.45)
        check_number("iterations", iterations, low=1, high=50, integer=True)
        if threshold is not None:
            check_number("threshold", threshold, low=0.0, high=1.0)
        if not isinstance(model, (str, os.PathLike)):
            raise ParameterError(f"parameter 'model' must be a model name or an .onnx path, got {model!r}")
        as_cleanup(cleanup)
        self._settings = method_settings(method, model=model, box=box, margin=margin, iterations=iterations, threshold=threshold, cleanup=cleanup)
        self._model = model
        self._cache = cache_for(cache) if cache else MaskCache(None)
        super().__init__(p=p)
        self._record(model=str(model), box=list(box) if box is not None else None, cleanup=cleanup if isinstance(cleanup, bool) else dict(cleanup))

    @property
    def settings(self) -> dict[str, Any]:
        """The method's settings as recorded (the model by name and sha256)."""
        return dict(self._settings)

    def sample(self, g: torch.Generator, ctx: Any) -> dict[str, Any]:
        s = self._settings
        rec: dict[str, Any] = {"method": s["method"]}
        if s["method"] == "rembg":
            rec.update(model=s["model"], model_sha256=s["model_sha256"])
        return rec

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        want = self._settings.get("model_sha256")
        for it, prm in zip(stim.items, params):
            if "model_sha256" in prm and prm["model_sha256"] != want:
                raise ModelError(
                    f"item {it.id!r} was recorded with model {prm.get('model')!r} {prm['model_sha256']}, but this operator has {want}",
                    hint="replay with the same model file (see the lock file)",
                )
        with torch.no_grad():
            masks = foreground_masks(stim.images, self._settings, cache=self._cache, names=[it.id for it in stim.items])
        layers = dict(stim.layers)
        layers[MASK] = masks
        return stim.replace(layers=layers)

    @classmethod
    def example(cls) -> ForegroundMask:
        return cls("grabcut", margin=0.05, iterations=3, cleanup={"feather": 0.8})


OPERATORS: tuple[type[Operator], ...] = (ForegroundMask,)
