"""The forward pass the evaluator runs: ONNX Runtime on the CPU when it is installed, else eager torch.

``auto`` exports only classifiers marked :attr:`~foolbox_lite.classifiers.Classifier.traceable`
(the built-in EfficientNet-Lite models): tracing a module with Python-side state or
data-dependent branches would freeze one call's path into the graph.

On 2 CPU cores EfficientNet-Lite0 ran 3-10x faster in ONNX Runtime (graph fusion, its own
thread pool that sleeps instead of spinning when the cores are shared) than in eager torch
(see ``benchmarks/evaluate.py``).  The model is exported once per process (and again when
its weights change) with the legacy TorchScript exporter; its logits equal the torch
model's within :data:`ORT_ATOL` (tested on photos), so a decision can differ only where
two classes' logits are closer than that.  ``backend="torch"`` gives the eager model's
logits exactly; GPUs and models that are not ``torch.nn.Module`` always run in torch.
"""

from __future__ import annotations

import io
import threading
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch

from ..classifiers import Classifier
from ..errors import ModelError, ParameterError

__all__ = ["BACKENDS", "ORT_ATOL", "Backend", "Forward", "make_forward", "onnxruntime_available"]

Backend = Literal["auto", "torch", "onnxruntime"]
BACKENDS: tuple[str, ...] = ("auto", "torch", "onnxruntime")
#: Largest |logit difference| allowed between the ONNX Runtime forward and the eager torch model.
ORT_ATOL = 1e-3


@dataclass(frozen=True)
class Forward:
    """``run(x)``: logits ``(B, n)`` of normalised inputs ``(B, 3, H, W)``; ``backend`` says which engine."""

    backend: str
    run: Callable[[torch.Tensor], torch.Tensor]
    memory_format: torch.memory_format


def onnxruntime_available() -> bool:
    """Whether ``onnxruntime`` and ``onnx`` (the exporter writes through it) are installed."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


_lock = threading.Lock()
_build_lock = threading.Lock()


@dataclass
class _Exported:
    """A model's ONNX export and its sessions by thread count, valid while its weights' fingerprint holds."""

    fingerprint: tuple[tuple[int, int], ...]
    onnx: bytes
    sessions: dict[int, object] = field(default_factory=dict)


#: per model (dropped with the model): its export and sessions
_exports: weakref.WeakKeyDictionary[torch.nn.Module, _Exported] = weakref.WeakKeyDictionary()


def _fingerprint(model: torch.nn.Module) -> tuple[tuple[int, int], ...]:
    """Where every weight lives and how often it was written: changes when the weights do.

    Walks the modules' own tables (a third of the time ``parameters()`` takes, which matters
    once per evaluation); a tensor shared by two modules is listed twice, which changes nothing.
    """
    out: list[tuple[int, int]] = []
    seen: set[int] = set()
    stack = [model]
    while stack:
        mod = stack.pop()
        if id(mod) in seen:
            continue
        seen.add(id(mod))
        for t in mod._parameters.values():
            if t is not None:
                out.append((t.data_ptr(), t._version))
        for t in mod._buffers.values():
            if t is not None:
                out.append((t.data_ptr(), t._version))
        stack.extend(mod._modules.values())
    return tuple(out)


def _export(model: torch.nn.Module, input_size: tuple[int, int]) -> bytes:
    f = io.BytesIO()
    x = torch.zeros(1, 3, *input_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (x,), f, input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
    return f.getvalue()


def _session(clf: Classifier, threads: int) -> object:
    """The model's ONNX Runtime session with ``threads`` threads (exported once per weights, a session per thread count)."""
    model = clf.model
    assert isinstance(model, torch.nn.Module)
    fp = _fingerprint(model)
    with _lock:
        done = _exports.get(model)
        if done is not None and done.fingerprint == fp and threads in done.sessions:
            return done.sessions[threads]
    with _build_lock:  # torch's exporter uses process-wide state: one export or session build at a time
        with _lock:
            done = _exports.get(model)
        if done is None or done.fingerprint != fp:
            was_training = model.training
            model.eval()
            try:
                done = _Exported(fp, _export(model, clf.input_size))
            finally:
                model.train(was_training)
        if threads not in done.sessions:
            done.sessions[threads] = _new_session(done.onnx, threads)
        with _lock:
            _exports[model] = done
        return done.sessions[threads]


def _new_session(onnx: bytes, threads: int) -> object:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # sleep, do not spin, on shared cores
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(onnx, opts, providers=["CPUExecutionProvider"])


def make_forward(clf: Classifier, device: torch.device, backend: str = "auto", *, channels_last: bool = True, threads: int | None = None) -> Forward:
    """The fastest correct forward of ``clf`` on ``device`` for ``backend`` (auto, torch or onnxruntime).

    ``threads``: ONNX Runtime's threads for one call (default: torch's thread count).  Its
    logits do not depend on it (tested), so a single-threaded session can serve each of
    several threads that run batches side by side (:mod:`~foolbox_lite.evaluator.inference`).
    """
    if backend not in BACKENDS:
        raise ParameterError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    module = isinstance(clf.model, torch.nn.Module)
    ort_possible = device.type == "cpu" and module
    if backend == "onnxruntime":
        if not ort_possible:
            raise ParameterError(f"backend 'onnxruntime' runs torch.nn.Module models on the CPU; {clf.name!r} on {device} cannot", hint="use --backend torch or auto")
        if not onnxruntime_available():
            raise ParameterError("backend 'onnxruntime' needs the onnx and onnxruntime packages", hint="pip install 'foolbox-lite[onnx]' or use --backend torch")
    if backend != "torch" and (backend == "onnxruntime" or clf.traceable) and ort_possible and onnxruntime_available():
        try:
            sess = _session(clf, max(1, threads or torch.get_num_threads()))
        except Exception as exc:
            if backend == "onnxruntime":
                raise ModelError(f"model {clf.name!r} could not be exported to ONNX: {exc}", hint="use --backend torch") from exc
            warnings.warn(f"model {clf.name!r}: ONNX export failed ({exc}); evaluating in torch", stacklevel=2)
        else:
            def run_ort(x: torch.Tensor) -> torch.Tensor:
                arr = x.detach().contiguous().numpy()
                return torch.from_numpy(sess.run(None, {"x": arr})[0])  # type: ignore[attr-defined]

            return Forward("onnxruntime", run_ort, torch.contiguous_format)
    fmt = torch.channels_last if channels_last and module and device.type == "cpu" else torch.contiguous_format
    if module:
        clf.model.to(device, memory_format=fmt)  # type: ignore[union-attr]
        clf.model.eval()  # type: ignore[union-attr]
    return Forward("torch", clf.model, fmt)
