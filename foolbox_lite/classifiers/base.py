"""A classifier: a model plus its declared preprocessing, input size and label space.

Inputs are always images in ``[0, 1]`` of any size ``(B, 3, H, W)``; the
classifier resizes to its own input size and normalises as its weights expect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..labels import LabelSpace, imagenet_labels

__all__ = ["Classifier", "Preprocessing"]


@dataclass(frozen=True)
class Preprocessing:
    """``(x - mean) / std`` per channel after scaling ``[0, 1]`` pixels by ``scale``.

    EfficientNet-Lite (TF convention): ``scale=255, mean=127, std=128``;
    torchvision ImageNet: ``scale=1, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)``.
    """

    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def affine(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu", *, input_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, b)`` of shape ``(1, 3, 1, 1)`` with ``normalised = x * a + b`` for pixels ``x`` in ``[0, input_scale]``."""
        mean = torch.tensor(self.mean, dtype=torch.float64).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float64).view(1, 3, 1, 1)
        a = (self.scale / input_scale) / std
        b = -mean / std
        return a.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.affine(x.dtype, x.device)
        return torch.addcmul(b, x, a)  # one allocation; differentiable

    def to_dict(self) -> dict[str, object]:
        return {"scale": self.scale, "mean": list(self.mean), "std": list(self.std)}


@dataclass
class Classifier:
    """A callable ``images in [0, 1] -> logits`` with its preprocessing and label space."""

    name: str
    model: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor]
    input_size: tuple[int, int]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    labels: LabelSpace = field(default_factory=imagenet_labels)
    #: Resize mode used to bring images to ``input_size``.
    resize_mode: str = "bilinear"
    #: The model's forward is a fixed graph of tensor ops (no Python state or data-dependent
    #: branches), so the evaluator may export it to ONNX Runtime (see ``evaluator.engine``).
    traceable: bool = False

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Resize to the exact input size and normalise (differentiable)."""
        if images.shape[-2:] != self.input_size:
            images = F.interpolate(images, size=self.input_size, mode=self.resize_mode, align_corners=False, antialias=True)
        return self.preprocessing(images)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` for images ``(B, 3, H, W)`` in ``[0, 1]``."""
        return self.model(self.prepare(images))

    @property
    def device(self) -> torch.device:
        if isinstance(self.model, torch.nn.Module):
            for p in self.model.parameters():
                return p.device
        return torch.device("cpu")

    def to(self, device: torch.device | str) -> Classifier:
        if isinstance(self.model, torch.nn.Module):
            self.model.to(device)
        return self
