"""The evaluator's forward engines: ONNX Runtime equals the eager torch model within ORT_ATOL."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.classifiers import from_module
from foolbox_lite.errors import ParameterError
from foolbox_lite.evaluator import evaluate_set
from foolbox_lite.evaluator.engine import ORT_ATOL, make_forward, onnxruntime_available

CPU = torch.device("cpu")
needs_ort = pytest.mark.skipif(not onnxruntime_available(), reason="onnx/onnxruntime not installed (the test extra has them)")


def _photos(imagenet_samples: Path, n: int) -> torch.Tensor:
    files = sorted(imagenet_samples.glob("*.JPEG"))[::23][:n]
    return torch.stack([fl.load_image(f, 224, "crop") for f in files])


@needs_ort
@pytest.mark.shared
def test_onnxruntime_logits_equal_torch_on_photos(imagenet_samples: Path, lite0) -> None:
    x = lite0.preprocessing(_photos(imagenet_samples, 12))
    fwd = make_forward(lite0, CPU, "onnxruntime")
    assert fwd.backend == "onnxruntime" and make_forward(lite0, CPU, "auto").backend == "onnxruntime"
    assert make_forward(lite0, CPU, "torch").backend == "torch"
    with torch.inference_mode():
        ref = lite0.model(x)
        got = fwd.run(x)
        got_odd = fwd.run(x[:5])  # any batch size
    assert got.shape == ref.shape == (12, 1000)
    assert (got - ref).abs().max().item() <= ORT_ATOL
    assert torch.equal(got.argmax(1), ref.argmax(1))
    assert (got_odd - ref[:5]).abs().max().item() <= ORT_ATOL


@needs_ort
@pytest.mark.shared
def test_onnxruntime_logits_do_not_depend_on_threads_or_batch_size(imagenet_samples: Path, lite0) -> None:
    """What lets the evaluator run batches in single-threaded lanes, a few images per call."""
    x = lite0.preprocessing(_photos(imagenet_samples, 8))
    two = make_forward(lite0, CPU, "onnxruntime", threads=2).run(x)
    one = make_forward(lite0, CPU, "onnxruntime", threads=1)
    assert torch.equal(one.run(x), two)
    assert torch.equal(torch.cat([one.run(x[i : i + 3]) for i in range(0, 8, 3)]), two)


@needs_ort
@pytest.mark.shared
def test_auto_and_torch_backends_decide_alike(tmp_path: Path, imagenet_samples: Path, lite0) -> None:
    from test_evaluator import make_set, photo_rows

    folder = make_set(tmp_path / "photos", photo_rows(imagenet_samples, 20), cues=["shape"])
    fast = evaluate_set(folder, [lite0], progress=False)
    eager = evaluate_set(folder, [lite0], progress=False, backend="torch")
    assert [t.response for t in fast.trials["efficientnet_lite0"]] == [t.response for t in eager.trials["efficientnet_lite0"]]


def test_torch_backend_is_the_eager_model_exactly() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3))
    clf = from_module(net, input_size=16, labels=["a", "b", "c"])
    x = torch.rand(5, 3, 16, 16)
    fwd = make_forward(clf, CPU, "torch")
    with torch.inference_mode():
        assert fwd.backend == "torch" and torch.equal(fwd.run(x), net(x))


@needs_ort
def test_changed_weights_are_exported_again() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3))
    clf = from_module(net, input_size=8, labels=["a", "b", "c"])
    assert make_forward(clf, CPU, "auto").backend == "torch"  # not marked traceable: never exported unasked
    x = torch.rand(4, 3, 8, 8)
    before = make_forward(clf, CPU, "onnxruntime").run(x)
    with torch.no_grad():
        net[1].bias.add_(1.0)
    after = make_forward(clf, CPU, "onnxruntime").run(x)
    with torch.inference_mode():
        ref = net(x)
    assert (after - ref).abs().max().item() <= ORT_ATOL
    assert (after - before - 1.0).abs().max().item() <= ORT_ATOL


@needs_ort
def test_replaced_or_reloaded_weights_and_buffers_are_exported_again() -> None:
    """The fingerprint walks every module's own tables: a swapped parameter, a reloaded state and a written buffer all count."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3), torch.nn.BatchNorm1d(3))
    net.eval()
    clf = from_module(net, input_size=8, labels=["a", "b", "c"])
    x = torch.rand(4, 3, 8, 8)

    def close_to_eager() -> bool:
        with torch.inference_mode():
            return (make_forward(clf, CPU, "onnxruntime").run(x) - net(x)).abs().max().item() <= ORT_ATOL

    assert close_to_eager()
    net[1].weight = torch.nn.Parameter(torch.randn(3, 3 * 8 * 8))  # a new tensor object in the module's table
    assert close_to_eager()
    net.load_state_dict({k: v + 0.5 for k, v in net.state_dict().items() if v.is_floating_point()}, strict=False)  # in place
    assert close_to_eager()
    with torch.no_grad():
        net[2].running_mean.fill_(3.0)  # a buffer, written in place
    assert close_to_eager()


@needs_ort
def test_exports_and_sessions_are_kept_per_model_and_dropped_with_it() -> None:
    import gc
    import weakref

    from foolbox_lite.evaluator import engine

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3))
    clf = from_module(net, input_size=8, labels=["a", "b", "c"])
    one = make_forward(clf, CPU, "onnxruntime", threads=1)
    make_forward(clf, CPU, "onnxruntime", threads=2)
    kept = engine._exports[net]
    assert sorted(kept.sessions) == [1, 2]  # one export, a session per thread count
    x = torch.rand(2, 3, 8, 8)
    assert torch.equal(one.run(x), make_forward(clf, CPU, "onnxruntime", threads=1).run(x))
    assert engine._exports[net] is kept
    gone = weakref.ref(net)
    before = len(engine._exports)
    ref = one.run(x)
    del clf, net, kept
    gc.collect()
    assert gone() is None and len(engine._exports) == before - 1  # a live forward keeps neither the model nor its entry
    assert torch.equal(one.run(x), ref)  # and still runs


@needs_ort
def test_concurrent_first_calls_export_once_and_all_succeed() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from foolbox_lite.evaluator import engine

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3))
    clf = from_module(net, input_size=8, labels=["a", "b", "c"])
    with ThreadPoolExecutor(4) as pool:  # torch's exporter keeps process-wide state: two exports at once failed
        forwards = list(pool.map(lambda t: make_forward(clf, CPU, "onnxruntime", threads=t), [1, 2, 1, 2]))
    assert all(f.backend == "onnxruntime" for f in forwards)
    assert sorted(engine._exports[net].sessions) == [1, 2]


def test_cli_refuses_an_unknown_backend(tmp_path: Path, capsys) -> None:
    from test_evaluator import make_set, tiny_rows

    from foolbox_lite.cli import main

    folder = make_set(tmp_path / "s", tiny_rows(2))
    assert main(["evaluate", str(folder), "--backend", "tensorrt", "-o", str(tmp_path / "o"), "-q"]) == 2
    assert "'tensorrt' is not one of auto, torch, onnxruntime" in capsys.readouterr().err


def test_bad_backends_are_refused() -> None:
    clf = from_module(lambda x: x.mean(dim=(2, 3)), input_size=8, labels=["a", "b", "c"])
    with pytest.raises(ParameterError, match="backend must be one of"):
        make_forward(clf, CPU, "tensorrt")
    with pytest.raises(ParameterError, match="torch.nn.Module"):
        make_forward(clf, CPU, "onnxruntime")
    assert make_forward(clf, CPU, "auto").backend == "torch"  # a plain callable runs as it is


def test_png_decoding_matches_pil_for_every_png_type(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from foolbox_lite.assets.io import _decode_rgb8_png
    from foolbox_lite.assets.io import decode_rgb_u8 as _decode
    from foolbox_lite.stimulus_set.writer import encode_png

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (21, 34, 3), dtype=np.uint8)
    (tmp_path / "built.png").write_bytes(encode_png(rgb))
    Image.fromarray(rgb).save(tmp_path / "pil.png")
    Image.fromarray(rgb).save(tmp_path / "interlaced.png", interlace=1)
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(rgb).convert("L").save(tmp_path / "grey.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    Image.fromarray(rgb).save(tmp_path / "photo.jpg", quality=90)
    for name in ("built.png", "pil.png", "interlaced.png"):
        assert _decode_rgb8_png(tmp_path / name) is not None, name  # the fast path
    for name in ("rgba.png", "grey.png", "palette.png", "photo.jpg"):
        assert _decode_rgb8_png(tmp_path / name) is None, name  # left to PIL
    for p in sorted(tmp_path.iterdir()):
        want = np.array(Image.open(p).convert("RGB"))
        assert np.array_equal(_decode(p).permute(1, 2, 0).numpy(), want), p.name
    assert np.array_equal(_decode(tmp_path / "built.png").permute(1, 2, 0).numpy(), rgb)
    (tmp_path / "cut.png").write_bytes(encode_png(rgb)[:60])  # truncated: PIL's clear error
    with pytest.raises(fl.FoolboxLiteError, match="cut.png"):
        _decode(tmp_path / "cut.png")
