"""Loaders beyond the built-in EfficientNet-Lite: torchvision, timm, local checkpoints, any module.

- ``torchvision:NAME``: ``torchvision.models.get_model(NAME, weights="DEFAULT")`` with the
  weights' own mean/std and crop size (extra ``foolbox-lite[torchvision]``);
- ``timm:NAME``: ``timm.create_model(NAME, pretrained=True)`` with its data config (extra ``[timm]``);
- ``ARCH@PATH``: the architecture ARCH (any name above, loaded without its own weights where
  possible) with a state dict read by ``torch.load(PATH, weights_only=True)``;
- ``PATH``: a TorchScript archive; preprocessing, input size and labels come from an optional
  sidecar ``PATH.json`` (default: ImageNet mean/std, 224, ImageNet-1k labels);
- :func:`from_module`: any ``nn.Module`` or callable with declared preprocessing and labels.

Pickled Python objects (``torch.save(model)``) are refused: loading them runs arbitrary code.
"""

from __future__ import annotations

import json
import pickle
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from ..errors import AssetError, ModelError, ParameterError, short_repr
from ..labels import LabelSpace, imagenet_labels
from ..stimulus_set.safe_paths import not_a_file
from .base import Classifier, Preprocessing

__all__ = ["CHECKPOINT_SUFFIXES", "IMAGENET_PREPROCESSING", "from_module", "load_checkpoint", "load_timm", "load_torchscript", "load_torchvision"]

IMAGENET_PREPROCESSING = Preprocessing(scale=1.0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ts", ".ckpt", ".bin", ".jit")


def _size(input_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(input_size, int) and not isinstance(input_size, bool):
        h = w = input_size
    else:
        try:
            h, w = (int(v) for v in input_size)  # type: ignore[union-attr]
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"input_size must be an int or (height, width), got {input_size!r}") from exc
    if h < 1 or w < 1:
        raise ParameterError(f"input_size must be positive, got {input_size!r}")
    return h, w


def _labels(labels: LabelSpace | Sequence[str] | str | None) -> LabelSpace:
    if labels is None or labels == "imagenet1k":
        return imagenet_labels()
    if isinstance(labels, LabelSpace):
        return labels
    if isinstance(labels, str):
        from ..labels.mappings import get_mapping

        names = get_mapping(labels).names
        return LabelSpace(names, names)
    names = tuple(str(x) for x in labels)
    if not names or len(set(names)) != len(names):
        raise ParameterError("labels must be a non-empty list of distinct class names")
    return LabelSpace(names, names)


def from_module(
    model: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor],
    *,
    name: str = "model",
    input_size: int | Sequence[int] = 224,
    preprocessing: Preprocessing | None = None,
    labels: LabelSpace | Sequence[str] | str | None = None,
    resize_mode: str = "bilinear",
) -> Classifier:
    """Wrap a module or callable ``normalised images -> logits`` as a :class:`Classifier`.

    ``labels``: ``None``/``"imagenet1k"`` (1000 ImageNet classes), a mapping name such as
    ``"geirhos16"`` (the model outputs one logit per category), or a list of class names.
    """
    if not callable(model):
        raise ParameterError(f"model must be an nn.Module or a callable, got {type(model).__name__}")
    if isinstance(model, torch.nn.Module):
        model.eval()
    if preprocessing is not None and not isinstance(preprocessing, Preprocessing):
        raise ParameterError(f"preprocessing must be a foolbox_lite.classifiers.Preprocessing, got {type(preprocessing).__name__}")
    return Classifier(name=name, model=model, input_size=_size(input_size), preprocessing=preprocessing or IMAGENET_PREPROCESSING, labels=_labels(labels), resize_mode=resize_mode)


def load_torchvision(name: str, *, pretrained: bool = True) -> Classifier:
    """A torchvision classifier with its default ImageNet weights and their preprocessing."""
    try:
        import torchvision
    except ImportError as exc:
        raise ModelError(f"torchvision:{name} needs torchvision", hint="pip install 'foolbox-lite[torchvision]' (a torchvision matching your torch)") from exc
    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError) as exc:
        known = ", ".join(sorted(torchvision.models.list_models())[:12])
        raise ModelError(f"unknown torchvision model {name!r}", hint=f"e.g. {known}, ...") from exc
    try:
        model = torchvision.models.get_model(name, weights=weights if pretrained else None)
    except Exception as exc:  # download failures come as URLError, RuntimeError, OSError...
        raise ModelError(f"the weights of torchvision:{name} cannot be loaded: {exc}", hint="they are downloaded once into $TORCH_HOME; copy them there on an offline machine") from exc
    t = weights.transforms()
    crop = getattr(t, "crop_size", [224])
    prep = Preprocessing(scale=1.0, mean=tuple(t.mean), std=tuple(t.std))  # type: ignore[arg-type]
    cats = weights.meta.get("categories") or []
    return from_module(model, name=f"torchvision:{name}", input_size=_size(crop if len(crop) == 2 else crop[0]), preprocessing=prep, labels=None if len(cats) == 1000 else cats)


def load_timm(name: str, *, pretrained: bool = True) -> Classifier:
    """A timm classifier with its pretrained weights and data config (mean, std, input size)."""
    try:
        import timm
        from timm.data import resolve_data_config
    except ImportError as exc:
        raise ModelError(f"timm:{name} needs timm", hint="pip install 'foolbox-lite[timm]'") from exc
    try:
        model = timm.create_model(name, pretrained=pretrained)
    except RuntimeError as exc:
        raise ModelError(f"timm model {name!r} cannot be created: {exc}", hint="list them with timm.list_models(pretrained=True)") from exc
    except Exception as exc:
        raise ModelError(f"the weights of timm:{name} cannot be loaded: {exc}", hint="timm downloads them once into the Hugging Face cache") from exc
    cfg = resolve_data_config({}, model=model)
    prep = Preprocessing(scale=1.0, mean=tuple(cfg["mean"]), std=tuple(cfg["std"]))
    n = getattr(model, "num_classes", 1000)
    if n != 1000:
        raise ModelError(f"timm:{name} has {n} classes; only ImageNet-1k heads are understood", hint="wrap it with from_module(..., labels=[...])")
    return from_module(model, name=f"timm:{name}", input_size=_size(cfg["input_size"][1:]), preprocessing=prep)


def _is_torchscript(path: Path) -> bool:
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as z:
            return any(n.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for n in z.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def _sidecar(path: Path) -> dict[str, object]:
    side = path.with_name(path.name + ".json")
    if not side.is_file():
        return {}
    try:
        raw = json.loads(side.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AssetError(f"{str(side)!r} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise AssetError(f"{str(side)!r} must hold an object with input_size, preprocessing and labels")
    return raw


def load_torchscript(path: str | Path, *, name: str | None = None) -> Classifier:
    """A TorchScript classifier; ``PATH.json`` may declare ``input_size``, ``preprocessing`` ({scale, mean, std}) and ``labels``."""
    p = Path(path)
    if not p.is_file():
        raise AssetError(f"model file {str(p)!r} {not_a_file(p)}")
    if not _is_torchscript(p):
        raise ModelError(f"{str(p)!r} is not a TorchScript archive")
    with warnings.catch_warnings():  # TorchScript is deprecated in recent torch, but still the portable format
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            model = torch.jit.load(str(p), map_location="cpu")
        except Exception as exc:  # noqa: BLE001 - a damaged or fake archive fails in many ways inside torch
            raise ModelError(f"{str(p)!r} is not a loadable TorchScript archive: {short_repr(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}",
                             hint="export it again with torch.jit.save") from None
    meta = _sidecar(p)
    prep_raw = meta.get("preprocessing")
    try:
        prep = Preprocessing(float(prep_raw["scale"]), tuple(prep_raw["mean"]), tuple(prep_raw["std"])) if prep_raw else None  # type: ignore[index]
    except (KeyError, TypeError, ValueError) as exc:
        raise AssetError(f"{p!s}.json: 'preprocessing' must be {{scale, mean: [3], std: [3]}}, got {prep_raw!r}") from exc
    return from_module(model, name=name or p.stem, input_size=meta.get("input_size", 224), preprocessing=prep, labels=meta.get("labels"))  # type: ignore[arg-type]


def _state_dict(raw: object, path: Path) -> Mapping[str, torch.Tensor]:
    if isinstance(raw, Mapping):
        for key in ("state_dict", "model", "model_state_dict", "state_dict_ema"):
            if isinstance(raw.get(key), Mapping):
                raw = raw[key]
                break
    if not isinstance(raw, Mapping) or not raw or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise ModelError(f"{str(path)!r} does not hold a state dict (a table of tensors)", hint="save weights with torch.save(model.state_dict(), PATH)")
    return {str(k).removeprefix("module."): v for k, v in raw.items()}


def load_checkpoint(path: str | Path, arch: str | None = None, *, loader: Callable[[str], Classifier] | None = None, allow_torchscript: bool = False) -> Classifier:
    """A classifier from a local file: architecture ``arch`` plus a weights-only state dict, or
    (only with ``allow_torchscript``: it runs the file's own code) a TorchScript archive."""
    p = Path(path)
    if not p.is_file():
        raise AssetError(f"model file {str(p)!r} {not_a_file(p)}", hint="give an existing .pt/.pth file, or a model name")
    if arch is None and _is_torchscript(p):
        if not allow_torchscript:
            raise ModelError(
                f"refusing to load {str(p)!r}: it is a TorchScript archive, which runs its own code",
                hint="load it only if you trust it: pass --allow-torchscript (allow_torchscript=True); recipes cannot allow it",
            )
        return load_torchscript(p)
    try:
        raw = torch.load(str(p), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not zipfile.is_zipfile(p):  # not written by torch.save (>= 1.6): garbage or a foreign format
            raise ModelError(f"{str(p)!r} is not a PyTorch weights file", hint="give a file written by torch.save(state_dict) or torch.jit.save") from exc
        raise ModelError(
            f"refusing to load {str(p)!r}: it contains pickled Python objects (code), not just weights",
            hint="save weights with torch.save(model.state_dict(), PATH) and pass ARCH@PATH, or export TorchScript with torch.jit.save",
        ) from exc
    except Exception as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{str(p)!r} is not a PyTorch weights file: {short_repr(detail)}", hint="give a file written by torch.save(state_dict) or torch.jit.save") from exc
    sd = _state_dict(raw, p)
    if arch is None:
        raise ModelError(
            f"{str(p)!r} holds weights but no architecture",
            hint=f"name the architecture: e.g. --model efficientnet_lite0@{p} or torchvision:resnet50@{p}",
        )
    if loader is None:
        from . import load_classifier as loader
    clf = loader(arch)
    if not isinstance(clf.model, torch.nn.Module):
        raise ModelError(f"architecture {arch!r} is not an nn.Module; cannot load a state dict into it")
    try:
        clf.model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ModelError(f"the weights in {str(p)!r} do not fit architecture {arch!r}: {first}", hint="check that ARCH matches the checkpoint") from exc
    clf.name = f"{arch}@{p.name}"
    return clf
