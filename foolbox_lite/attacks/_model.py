"""A classifier prepared for many fast passes at its input size (shared by the attacks).

The attacks call the network thousands of times on CPU; a private copy of the
model in ``channels_last`` memory format runs EfficientNet-Lite about 2-3x
faster there.  The caller's classifier is never modified, and every function of
:mod:`foolbox_lite.attacks` uses the same path, so their numbers agree.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from ..classifiers import Classifier
from ..errors import InputError

__all__ = ["FastClassifier", "check_images", "prepare_classifier"]


class FastClassifier:
    """``images in [0, 1] at the input size -> logits``, batched, on the classifier's device."""

    def __init__(self, clf: Classifier) -> None:
        self.clf = clf
        self.input_size = tuple(clf.input_size)
        model = clf.model
        self.channels_last = False
        if isinstance(model, torch.nn.Module):
            model = copy.deepcopy(model).eval()
            for p in model.parameters():
                p.requires_grad_(False)
            if clf.device.type == "cpu":
                model = model.to(memory_format=torch.channels_last)
                self.channels_last = True
        self._model: Callable[[torch.Tensor], torch.Tensor] = model
        self.device = clf.device

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of images ``(B, 3, H, W)`` in ``[0, 1]`` (differentiable)."""
        x = self.clf.prepare(images)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self._model(x)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, *, batch_size: int = 64, delta: torch.Tensor | None = None, clip: bool = True) -> torch.Tensor:
        """Top-1 indices ``(N,)`` of ``images`` (+ ``delta``, clipped to ``[0, 1]``), in batches."""
        out = []
        for s in range(0, images.shape[0], batch_size):
            x = images[s : s + batch_size].to(self.device)
            if delta is not None:
                x = x + delta
                if clip:
                    x = x.clamp_(0, 1)
            out.append(self(x).argmax(1).cpu())
        return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def prepare_classifier(clf: Classifier | FastClassifier) -> FastClassifier:
    """Wrap ``clf`` once (a :class:`FastClassifier` is passed through)."""
    return clf if isinstance(clf, FastClassifier) else FastClassifier(clf)


def check_images(images: torch.Tensor, size: tuple[int, int], what: str = "images") -> None:
    """Images must be float ``(N, 3, H, W)`` at the classifier's input size."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3 or not images.is_floating_point():
        raise InputError(f"{what} must be a float tensor (N, 3, H, W) in [0, 1], got {getattr(images, 'shape', type(images).__name__)}")
    if images.shape[0] == 0:
        raise InputError(f"{what} is empty", hint="give at least one image")
    if tuple(images.shape[-2:]) != tuple(size):
        raise InputError(
            f"{what} are {images.shape[-2]}x{images.shape[-1]} but the classifier's input size is {size[0]}x{size[1]}",
            hint="load them with load_image_folder(folder, size=clf.input_size)",
        )


def as_images(images: object) -> torch.Tensor:
    """The image tensor of a tensor, a :class:`~foolbox_lite.stimuli.Stimuli` batch or an :class:`~foolbox_lite.assets.folder.ImageFolder`."""
    inner = getattr(images, "images", None)
    return inner if isinstance(inner, torch.Tensor) else images  # type: ignore[return-value]
