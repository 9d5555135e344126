"""Saving and loading a fitted perturbation: a tensor file plus JSON metadata.

``uap.pt`` holds the float32 tensor ``(1, 3, H, W)`` (``torch.save``, loaded with
``weights_only=True``); ``uap.json`` beside it says what it is: the model and its
preprocessing and input size, the norm and eps, the method and seed, the images
used (with their sha256), and the fooling rates measured on the fit set and on
any held-out set.  The JSON also records the tensor file's sha256, so a loaded
pair is checked to belong together.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..classifiers import Classifier
from ..errors import AssetError, InputError, ModelError, short_repr
from ..files import atomic_write_bytes, atomic_write_text, sha256_bytes
from ..stimulus_set.safe_paths import check_component, not_a_file
from .budget import SizeRule, fit_size, perturbation_norm

__all__ = ["FORMAT", "Perturbation", "load_perturbation", "metadata_path", "perturbation_target", "save_perturbation"]

#: Value of the ``format`` field of the metadata.
FORMAT = "foolbox-lite-perturbation"
FORMAT_VERSION = 1


def metadata_path(path: str | os.PathLike[str]) -> Path:
    """The JSON file that goes with tensor file ``path`` (``uap.pt`` -> ``uap.json``)."""
    return Path(path).with_suffix(".json")


@dataclass
class Perturbation:
    """A perturbation tensor ``(1, 3, H, W)`` in ``[0, 1]`` pixel units and its metadata."""

    delta: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def norm(self) -> str:
        return str(self.meta["norm"])

    @property
    def eps(self) -> float:
        return float(self.meta["eps"])

    @property
    def size(self) -> tuple[int, int]:
        return (int(self.delta.shape[-2]), int(self.delta.shape[-1]))

    def for_classifier(self, clf: Classifier, *, size_rule: SizeRule = "error", allow_other_model: bool = False) -> torch.Tensor:
        """The tensor at ``clf``'s input size, after checking it was fitted for that model.

        Another model is an error unless ``allow_other_model`` (to measure transfer);
        another input size is an error unless ``size_rule`` is ``resize`` or ``tile``.
        """
        model = self.meta.get("model")
        if model != clf.name and not allow_other_model:
            raise ModelError(
                f"the perturbation was fitted for model {model!r}, not {clf.name!r}",
                hint="evaluate it with that model, or allow another model (allow_other_model=True, --allow-other-model) to measure transfer",
            )
        if self.size != tuple(clf.input_size) and size_rule == "error":
            raise InputError(
                f"the perturbation is {self.size[0]}x{self.size[1]} but {clf.name}'s input size is {clf.input_size[0]}x{clf.input_size[1]}",
                hint="choose the size rule 'resize' or 'tile' (size_rule=..., --size-rule) to bring it to the input size",
            )
        return fit_size(self.delta, tuple(clf.input_size), size_rule, norm=self.norm, eps=self.eps)

    def operator(self, *, resize: str = "resize", p: float = 1.0) -> Any:
        """The core's ``AddPerturbation`` operator adding this tensor with its norm and eps (``resize``: resize, tile or error)."""
        from ..operators.perturbation import AddPerturbation

        return AddPerturbation(self.delta[0], norm=self.norm, eps=self.eps, resize=resize, p=p)


def perturbation_target(path: str | os.PathLike[str]) -> Path:
    """The tensor file :func:`save_perturbation` writes for ``path``: ``.pt`` added to a bare name,
    ``DIR/uap.pt`` inside an existing folder ``DIR`` (never ``DIR.pt`` beside it); checked before any work."""
    p = Path(path)
    if p.is_dir():
        p = p / "uap.pt"
    elif p.suffix == "":
        p = p.with_suffix(".pt")
    if p.suffix == ".json":
        raise InputError(f"the tensor file {str(p)!r} cannot end in .json: that name is for its metadata", hint="use a name like uap.pt")
    if p.exists() and not p.is_file():
        raise InputError(f"the tensor file {str(p)!r} {not_a_file(p)}", hint="choose another -o")
    if p.parent.exists() and not p.parent.is_dir():
        raise InputError(f"{str(p.parent)!r} is not a folder, so {str(p)!r} cannot be written", hint="choose another -o")
    if p.parent.is_dir() and not os.access(p.parent, os.W_OK):
        raise InputError(f"cannot write {str(p)!r}: its folder is not writable", hint="choose a writable -o")
    return p


def _check_delta(delta: torch.Tensor) -> None:
    if not isinstance(delta, torch.Tensor) or delta.dim() != 4 or tuple(delta.shape[:2]) != (1, 3):
        raise InputError(f"a perturbation must be a tensor (1, 3, H, W), got {getattr(delta, 'shape', type(delta).__name__)}")
    if not delta.is_floating_point() or not bool(torch.isfinite(delta).all()):
        raise InputError("a perturbation must be a finite floating-point tensor")


def save_perturbation(path: str | os.PathLike[str], delta: torch.Tensor, meta: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``delta`` to ``path`` (``.pt`` added when it has no suffix) and its metadata beside it, atomically.

    ``meta`` must hold at least ``model``, ``norm`` and ``eps``; the format, shape,
    dtype, measured norm, tensor sha256 and library version are added.  Returns both paths.
    """
    _check_delta(delta)
    for key in ("model", "norm", "eps"):
        if key not in meta:
            raise InputError(f"perturbation metadata lacks {key!r}")
    p = perturbation_target(path)
    t = delta.detach().to("cpu", torch.float32).contiguous()
    buf = io.BytesIO()
    torch.save(t, buf)
    data = buf.getvalue()
    full = dict(meta)
    full.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        shape=list(t.shape),
        dtype="float32",
        measured_norm=float(perturbation_norm(t.double(), str(meta["norm"]))[0]),
        tensor_file=p.name,
        tensor_sha256=sha256_bytes(data),
        foolbox_lite=__version__,
    )
    text = json.dumps(full, indent=2, sort_keys=True, allow_nan=False) + "\n"
    atomic_write_bytes(p, data)
    mp = atomic_write_text(metadata_path(p), text)
    return p, mp


def load_perturbation(path: str | os.PathLike[str]) -> Perturbation:
    """Load a perturbation saved by :func:`save_perturbation` (give the tensor file or its ``.json``)."""
    p = Path(path)
    if p.suffix == ".json":
        mp = p
        try:
            named = json.loads(mp.read_text(encoding="utf-8")).get("tensor_file", p.with_suffix(".pt").name)
        except (OSError, ValueError, AttributeError):
            named = p.with_suffix(".pt").name
        try:  # the tensor lies beside its metadata: a name, never a path
            p = p.with_name(check_component(named, f"{str(mp)!r}: tensor_file"))
        except InputError as exc:
            raise AssetError(str(exc.args[0]), hint="tensor_file is the name of the .pt file beside the .json") from None
    else:
        mp = metadata_path(p)
    if not p.is_file():
        raise AssetError(f"perturbation file {str(p)!r} {not_a_file(p)}", hint="give the .pt file written by 'foolbox-lite uap fit'")
    if not mp.is_file():
        raise AssetError(f"the metadata {str(mp)!r} of perturbation {str(p)!r} is missing", hint="keep the .json written beside the .pt file")
    try:
        meta = json.loads(mp.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise AssetError(f"{str(mp)!r} is not valid JSON: {short_repr(str(exc))}") from exc
    if not isinstance(meta, dict):
        raise AssetError(f"{str(mp)!r} is not foolbox-lite perturbation metadata (not a JSON object)")
    if meta.get("format") != FORMAT:
        raise AssetError(f"{str(mp)!r} is not foolbox-lite perturbation metadata (format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise AssetError(f"{str(mp)!r} has format version {meta.get('format_version')!r}; this foolbox-lite reads version {FORMAT_VERSION}")
    data = p.read_bytes()
    if sha256_bytes(data) != meta.get("tensor_sha256"):
        raise AssetError(f"{str(p)!r} does not match the sha256 recorded in {str(mp)!r}", hint="the tensor file was changed or belongs to another metadata file")
    try:
        delta = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise AssetError(f"perturbation file {str(p)!r} cannot be read: {exc}") from exc
    _check_delta(delta)
    if list(delta.shape) != meta.get("shape"):
        raise AssetError(f"{str(p)!r} has shape {list(delta.shape)} but its metadata says {meta.get('shape')}")
    eps, norm = _declared_budget(meta, mp)
    measured = float(perturbation_norm(delta.double(), norm)[0])
    if not math.isfinite(eps) or measured > eps * (1 + 1e-6):
        raise AssetError(f"{str(p)!r} has {norm} norm {measured:.6g}, above its recorded eps {eps:.6g}")
    recorded = meta.get("measured_norm")
    if recorded is not None and (not isinstance(recorded, (int, float)) or not math.isclose(float(recorded), measured, rel_tol=1e-5, abs_tol=1e-9)):
        raise AssetError(f"{str(mp)!r} records measured_norm {short_repr(recorded)} but the tensor's {norm} norm is {measured:.6g}", hint="the metadata was edited or belongs to another tensor")
    return Perturbation(delta, meta)


def _declared_budget(meta: dict[str, Any], mp: Path) -> tuple[float, str]:
    """``(eps, norm)`` of the metadata, checked: a valid budget, and the same one as ``eps_given`` on ``eps_scale``."""
    from ..errors import ParameterError
    from .budget import Budget

    try:
        budget = Budget.make(str(meta.get("norm")), meta.get("eps"))  # type: ignore[arg-type]
        if "eps_given" in meta:
            given = Budget.make(budget.norm, meta["eps_given"], scale=float(meta.get("eps_scale", 1.0)))
            if not math.isclose(given.eps, budget.eps, rel_tol=1e-9):
                raise ParameterError(f"eps {budget.eps:.6g} differs from the declared budget eps_given {short_repr(meta['eps_given'])} (scale {short_repr(meta.get('eps_scale', 1.0))}) = {given.eps:.6g}")
    except (ParameterError, TypeError, ValueError) as exc:
        raise AssetError(f"{str(mp)!r}: bad budget: {exc.args[0] if exc.args else exc}", hint="the metadata was edited; fit the perturbation again") from None
    return budget.eps, budget.norm
