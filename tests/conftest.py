"""Shared fixtures.

``shared_dir`` is ``../shared`` beside the project (or ``$FOOLBOX_LITE_SHARED``).
Tests that need it skip when it is absent, except when ``FOOLBOX_LITE_SHARED``
is set (as CI does): then a missing folder fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


_DTYPES = ("float32", "float64", "float16", "bfloat16")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", action="append", default=None, metavar="DEVICE",
                     help="device for tests that take the `device` fixture (repeatable: cpu, cuda, cuda:1, mps); "
                          "default cpu, plus cuda when a GPU is present; a requested device that is missing skips")
    parser.addoption("--dtype", action="append", default=None, choices=_DTYPES,
                     help="image dtype for tests that take the `dtype` fixture (repeatable; default float32)")


def _device_missing(name: str) -> str | None:
    """Why ``name`` cannot run here (None when it can)."""
    dev = torch.device(name)
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        return f"no CUDA device {name!r} here"
    if dev.type == "mps" and not torch.backends.mps.is_available():
        return "no MPS device here"
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests that take ``device``/``dtype`` once per requested device/dtype (see --device, --dtype).

    A test that parametrizes either name itself keeps its own values.
    """
    own = {n.strip() for m in metafunc.definition.iter_markers("parametrize")
           for n in (m.args[0].split(",") if isinstance(m.args[0], str) else m.args[0])}
    if "device" in metafunc.fixturenames and "device" not in own:
        names = metafunc.config.getoption("--device") or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        params = []
        for n in names:
            why = _device_missing(n)
            params.append(pytest.param(n, id=n, marks=pytest.mark.skip(reason=why) if why else ()))
        metafunc.parametrize("device", params, indirect=True)
    if "dtype" in metafunc.fixturenames and "dtype" not in own:
        metafunc.parametrize("dtype", metafunc.config.getoption("--dtype") or ["float32"], indirect=True)


@pytest.fixture()
def device(request: pytest.FixtureRequest) -> torch.device:
    """The device under test (from --device)."""
    return torch.device(request.param)


@pytest.fixture()
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    """The image dtype under test (from --dtype)."""
    return getattr(torch, request.param)


def _shared_path() -> Path:
    env = os.environ.get("FOOLBOX_LITE_SHARED")
    return Path(env) if env else ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    p = _shared_path()
    if not (p / "data").is_dir():
        if os.environ.get("FOOLBOX_LITE_SHARED"):
            pytest.fail(f"FOOLBOX_LITE_SHARED={os.environ['FOOLBOX_LITE_SHARED']} but {p / 'data'} is missing")
        pytest.skip(f"shared test data not found at {p}")
    return p


@pytest.fixture(scope="session")
def imagenet_samples(shared_dir: Path) -> Path:
    p = shared_dir / "data" / "imagenet-samples"
    if not p.is_dir():
        pytest.fail(f"{p} is missing from the shared data")
    return p


@pytest.fixture(scope="session")
def geirhos_shapes(shared_dir: Path) -> Path:
    p = shared_dir / "data" / "geirhos-shapes"
    if not p.is_dir():
        pytest.fail(f"{p} is missing from the shared data")
    return p


@pytest.fixture(scope="session")
def lite0():
    """The offline default classifier, loaded once per test session."""
    from foolbox_lite.classifiers import load_classifier

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    return load_classifier("efficientnet_lite0")


@pytest.fixture()
def one_thread():
    """Gradchecks of tiny tensors gain nothing from threads, and lose a lot on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def big_batch():
    """A masked batch above the 1 MiB that buffer reuse starts at, (6, 3, 128, 128) float32."""
    import foolbox_lite as fl
    from foolbox_lite.assets.synthetic import disc_scene

    images, masks = disc_scene(6, 128)
    assert images.numel() * 4 > 1 << 20
    return fl.Stimuli.from_tensor(images, masks)


@pytest.fixture()
def batch():
    """A small masked batch of synthetic scenes, (6, 3, 32, 32)."""
    import foolbox_lite as fl
    from foolbox_lite.assets.synthetic import disc_scene

    images, masks = disc_scene(6, 32)
    return fl.Stimuli.from_tensor(images, masks)
