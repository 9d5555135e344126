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


@pytest.fixture()
def batch():
    """A small masked batch of synthetic scenes, (6, 3, 32, 32)."""
    import foolbox_lite as fl
    from foolbox_lite.assets.synthetic import disc_scene

    images, masks = disc_scene(6, 32)
    return fl.Stimuli.from_tensor(images, masks)
