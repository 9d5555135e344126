"""Asset sources for recipes: one call per ``source:`` entry, validated, with the model hashes for the lock file.

    build_source("rembg", {"image": "cat.jpg", "model": "u2netp", "size": 224})
    build_source("grabcut", {"image": "cat.jpg", "box": [0.1, 0.1, 0.9, 0.9]})
    build_source("threshold", {"image": "silhouette.png"})
    build_source("diffusers", {"model": "path/to/sd", "prompt": "zebra skin fabric", "steps": 25, "seed": 3, "tileable": True})

Each returns a :class:`SourceResult`: the image ``(3, H, W)``, the mask ``(1, H, W)``
(``None`` for generated images), ``model_hashes`` (``{model: "sha256:..."}``, empty for
the classical methods) and the resolved ``settings``.  Unknown or missing fields raise
:class:`~foolbox_lite.errors.ParameterError` naming them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import ParameterError

__all__ = ["SourceResult", "SOURCE_KINDS", "build_source"]


@dataclass
class SourceResult:
    """What a source produced, and what the lock file needs to reproduce it."""

    image: torch.Tensor
    mask: torch.Tensor | None
    model_hashes: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def _rembg(image: Any, model: str = "u2netp", cleanup: Any = True, size: Any = None, fit: str = "resize", cache: Any = True) -> SourceResult:
    from .photo_masks import mask_from_photo
    from .rembg_masks import model_hashes

    img, mask = mask_from_photo(image, model, cleanup=cleanup, size=_size(size), fit=fit, cache=cache)  # type: ignore[arg-type]
    return SourceResult(img, mask, model_hashes(model))


def _grabcut(image: Any, box: Any = None, margin: float = 0.1, iterations: int = 5, cleanup: Any = True, size: Any = None, fit: str = "resize", cache: Any = False) -> SourceResult:
    from .photo_masks import grabcut_mask

    img, mask = grabcut_mask(image, box, margin=margin, iterations=iterations, cleanup=cleanup, size=_size(size), fit=fit, cache=cache)  # type: ignore[arg-type]
    return SourceResult(img, mask)


def _threshold(image: Any, threshold: float | None = None, cleanup: Any = True, size: Any = None, fit: str = "resize", cache: Any = False) -> SourceResult:
    from .photo_masks import threshold_mask

    img, mask = threshold_mask(image, threshold, cleanup=cleanup, size=_size(size), fit=fit, cache=cache)  # type: ignore[arg-type]
    return SourceResult(img, mask)


def _diffusers(model: str, prompt: str, size: Any = 512, steps: int = 25, seed: int = 0, kind: str = "texture", tileable: bool = False,
               guidance: float = 7.5, negative_prompt: str | None = None) -> SourceResult:
    from . import diffusers_gen as dg

    if kind not in ("texture", "background"):
        raise ParameterError(f"diffusers source: 'kind' = {kind!r} is not one of ['texture', 'background']")
    if kind == "background" and tileable:
        raise ParameterError("diffusers source: 'tileable' applies to kind 'texture' only")
    img = dg.generate_texture(model, prompt, _size(size), steps, seed, tileable=bool(tileable), guidance=guidance, negative_prompt=negative_prompt)
    return SourceResult(img, None, dg.model_hashes(model))


def _size(size: Any) -> Any:
    if isinstance(size, list):
        return tuple(size)
    return size


SOURCE_KINDS: dict[str, Callable[..., SourceResult]] = {"rembg": _rembg, "grabcut": _grabcut, "threshold": _threshold, "diffusers": _diffusers}


def build_source(kind: str, spec: Mapping[str, Any]) -> SourceResult:
    """Run the source ``kind`` (``rembg``, ``grabcut``, ``threshold``, ``diffusers``) with the fields of ``spec``."""
    try:
        fn = SOURCE_KINDS[kind]
    except KeyError:
        raise ParameterError(f"unknown source kind {kind!r}", hint=f"known: {', '.join(SOURCE_KINDS)}") from None
    if not isinstance(spec, Mapping):
        raise ParameterError(f"source {kind!r} needs a mapping of fields, got {spec!r}")
    sig = inspect.signature(fn)
    unknown = sorted(set(spec) - set(sig.parameters))
    if unknown:
        raise ParameterError(f"source {kind!r}: unknown field(s) {unknown}", hint=f"fields are {sorted(sig.parameters)}")
    missing = [n for n, p in sig.parameters.items() if p.default is inspect.Parameter.empty and n not in spec]
    if missing:
        hint = "a prompt source needs a model: a local Stable Diffusion folder or a hub id" if kind == "diffusers" and "model" in missing else None
        raise ParameterError(f"source {kind!r}: missing field(s) {missing}", hint=hint)
    res = fn(**dict(spec))
    res.settings = {"kind": kind, **{n: spec.get(n, p.default) for n, p in sig.parameters.items()}}
    return res
