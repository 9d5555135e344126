"""Foreground masks from photos with rembg's ONNX segmenters, offline.

A model is a rembg name (``u2netp``, ``u2net``, ``isnet-general-use``...) resolved
through :mod:`~foolbox_lite.backends.model_store`, or the path of an ``.onnx`` file
anywhere on disk.  We never let rembg download: the file is found (or a clear
error raised) first, and the session is a small subclass of rembg's own session
class whose ``download_models`` returns that file.  A file path uses rembg's
``u2net_custom`` pre/post-processing (a (1, 3, 320, 320) input normalised with the
ImageNet mean/std; channel 0 of output 0, min-max scaled), without its rule that the
file must sit in rembg's home folder.

rembg and onnxruntime are imported lazily (extra ``foolbox-lite[rembg]``).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .model_store import USED_SEGMENTERS, cached_sha256, check_onnx, model_path

__all__ = ["rembg_session", "rembg_array", "model_hashes", "resolve_model", "ORT_THREADS_ENV"]

#: Environment variable setting onnxruntime's intra-op threads (default 1: reproducible and polite on shared CPUs).
ORT_THREADS_ENV = "FOOLBOX_LITE_ORT_THREADS"

_SESSIONS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def _import_rembg() -> Any:
    try:
        import onnxruntime  # noqa: F401
        from rembg import sessions as rembg_sessions
    except ImportError as exc:
        raise ModelError(
            f"rembg masks need the rembg and onnxruntime packages ({exc.name or exc} is missing)",
            hint='pip install "foolbox-lite[rembg]", or use method="grabcut" which needs no weights',
        ) from None
    return rembg_sessions


def resolve_model(model: str | os.PathLike[str]) -> tuple[str, Path]:
    """``(label, file)`` of a model name or ``.onnx`` path; :class:`AssetError` when missing."""
    p = model_path(model)
    label = p.stem if (isinstance(model, os.PathLike) or str(model).endswith(".onnx") or "/" in str(model)) else str(model)
    return label, p


def rembg_session(model: str | os.PathLike[str] = "u2netp") -> Any:
    """A rembg session for ``model`` (cached per file and hash), never downloading."""
    label, path = resolve_model(model)
    digest = cached_sha256(path)
    key = (str(path.resolve()), digest)
    with _LOCK:
        if key in _SESSIONS:
            USED_SEGMENTERS.record(label, digest)
            return _SESSIONS[key]
    check_onnx(path)  # a clear error for foreign or truncated files, before rembg sees them
    rs = _import_rembg()
    by_name = {cls.name(): cls for cls in rs.sessions_class} if hasattr(rs, "sessions_class") else dict(rs.sessions)
    is_file = label not in by_name or str(model) != label
    base = by_name.get("u2net_custom") if is_file else by_name[label]
    if base is None:  # pragma: no cover - every rembg 2.x has it
        raise ModelError("this rembg version has no 'u2net_custom' session", hint="pip install -U rembg")
    local = type(f"Local{base.__name__}", (base,), {"download_models": classmethod(lambda cls, *a, **k: str(path))})
    import onnxruntime as ort

    opts = ort.SessionOptions()
    threads = int(os.environ.get(ORT_THREADS_ENV, "1"))
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    kwargs: dict[str, Any] = {"providers": ["CPUExecutionProvider"]}
    if is_file:
        kwargs["model_path"] = str(path)
    try:
        sess = local(label, opts, **kwargs)
    except Exception as exc:  # onnxruntime/rembg raise assorted types
        raise ModelError(f"could not open the segmentation model {str(path)!r}: {exc}") from exc
    with _LOCK:
        _SESSIONS[key] = sess
    USED_SEGMENTERS.record(label, digest)
    return sess


def rembg_array(rgb: np.ndarray, model: str | os.PathLike[str] = "u2netp") -> np.ndarray:
    """The raw soft mask of an ``(H, W, 3)`` uint8 image: float32 ``(H, W)`` in [0, 1]."""
    from PIL import Image

    sess = rembg_session(model)
    try:
        out = sess.predict(Image.fromarray(rgb, "RGB"))
    except Exception as exc:
        raise ModelError(f"segmentation model {str(model)!r} failed on a {rgb.shape[1]}x{rgb.shape[0]} image: {exc}") from exc
    m = np.asarray(out[0].convert("L"), dtype=np.float32) / 255.0
    if not np.isfinite(m).all():
        raise ModelError(f"segmentation model {str(model)!r} returned non-finite values")
    return m


def model_hashes(*models: str | os.PathLike[str]) -> dict[str, str]:
    """``{label: "sha256:<hex>"}`` of the given models, or of every model used so far in this process.

    For the lock file of a recipe: the exact weights that produced its masks.
    """
    if models:
        out = {}
        for m in models:
            label, path = resolve_model(m)
            out[label] = "sha256:" + cached_sha256(path)
        return out
    return USED_SEGMENTERS.all()
