"""Universal adversarial perturbations: one ``delta`` that changes most decisions.

The default method is the fast stochastic-gradient one (Shafahi et al., "Universal
adversarial training", AAAI 2020): one ``delta`` is optimised over minibatches to
raise a clipped loss, and projected onto the budget after every step.  The
original DeepFool-based algorithm (Moosavi-Dezfooli et al., CVPR 2017) is in
:mod:`foolbox_lite.attacks.deepfool`; :func:`fit_uap` dispatches to either.

``delta`` has shape ``(1, 3, H, W)`` at the classifier's input size, in ``[0, 1]``
pixel units (before the model's normalisation); a perturbed image is
``clamp(x + delta, 0, 1)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from ..classifiers import Classifier
from ..errors import InputError, ParameterError
from ..params import check_number
from ._model import FastClassifier, as_images, prepare_classifier
from .budget import Budget, EpsLike
from .fitting import Stopper, UAPResult, validate_fit_args

__all__ = ["Augment", "UAPResult", "augment_batch", "fit_uap", "fit_uap_sgd", "resolve_target"]

Method = Literal["sgd", "deepfool"]


@dataclass(frozen=True)
class Augment:
    """Input augmentation while fitting: random crops (side fraction in ``crop``) resized back, and flips.

    A crop of side fraction ``s`` (drawn uniformly in ``crop``) at a random position is
    stretched back to the full size; ``flip`` mirrors half of the images.  Augmented
    inputs make the perturbation generalise to images it was not fitted on.
    """

    crop: tuple[float, float] = (0.7, 1.0)
    flip: bool = True

    def __post_init__(self) -> None:
        lo, hi = (float(v) for v in self.crop)
        if not (0 < lo <= hi <= 1):
            raise ParameterError(f"augment crop must be a range (low, high) with 0 < low <= high <= 1, got {self.crop!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"crop": [float(self.crop[0]), float(self.crop[1])], "flip": bool(self.flip)}


def augment_batch(x: torch.Tensor, aug: Augment, g: torch.Generator) -> torch.Tensor:
    """Random crop-and-resize and flip of each image of ``x`` ``(B, 3, H, W)``, drawn from ``g`` (one grid_sample)."""
    b = x.shape[0]
    u = torch.rand((b, 4), generator=g, dtype=torch.float64)
    s = aug.crop[0] + (aug.crop[1] - aug.crop[0]) * u[:, 0]
    tx = (1 - s) * (2 * u[:, 1] - 1)
    ty = (1 - s) * (2 * u[:, 2] - 1)
    sx = torch.where(u[:, 3] < 0.5, -s, s) if aug.flip else s
    theta = torch.zeros((b, 2, 3), dtype=torch.float64)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx, tx, s, ty
    grid = F.affine_grid(theta.to(x.dtype).to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def resolve_target(clf: Classifier, target: int | str | None) -> int | None:
    """A class index from an index, a wnid or a class name (``None`` = untargeted)."""
    if target is None:
        return None
    if isinstance(target, bool):
        raise ParameterError(f"target must be a class index, wnid or name, got {target!r}")
    if isinstance(target, int) or (isinstance(target, str) and target.strip().isdigit()):
        t = int(target)
        if not 0 <= t < len(clf.labels):
            raise ParameterError(f"target class {t} is outside 0..{len(clf.labels) - 1}")
        return t
    return clf.labels.index(str(target))


def _loss(logits: torch.Tensor, labels: torch.Tensor, target: int | None, clip: float) -> torch.Tensor:
    """Per-item loss to *raise*: the clipped cross-entropy of the clean label, or minus that of the target."""
    if target is None:
        return F.cross_entropy(logits, labels, reduction="none").clamp(max=clip)
    t = torch.full_like(labels, target)
    return -F.cross_entropy(logits, t, reduction="none")


def fit_uap_sgd(
    clf: Classifier | FastClassifier,
    images: torch.Tensor,
    budget: Budget,
    *,
    target: int | None = None,
    batch_size: int = 32,
    lr: float = 0.2,
    lr_final: float = 0.02,
    momentum: float = 0.9,
    loss_clip: float = 9.0,
    epochs: int | None = 10,
    max_seconds: float | None = None,
    target_fooling_rate: float | None = None,
    augment: Augment | None = None,
    seed: int = 0,
    progress: bool = True,
    labels: torch.Tensor | None = None,
    on_epoch: Callable[[dict[str, float], torch.Tensor], None] | None = None,
) -> UAPResult:
    """Stochastic-gradient UAP (Shafahi et al. 2020) on ``images`` ``(N, 3, H, W)`` at the input size.

    Each step takes a minibatch (seeded order), optionally augments it, and moves
    ``delta`` along the normalised gradient of the loss (the sign for L-inf, the unit
    gradient for L2) with momentum, by ``lr * eps`` decaying geometrically towards
    ``lr_final * eps`` over the epoch limit (or the time limit), then projects onto the
    budget.  The untargeted loss is the cross-entropy of each image's clean decision,
    clipped at ``loss_clip`` so that images already fooled stop dominating; the
    targeted loss is minus the cross-entropy of ``target``.  The running fooling rate
    (or targeted success rate) of each epoch is shown on the progress bar.
    ``on_epoch(record, delta)`` is called after each epoch; its time is not counted
    against ``max_seconds``.
    """
    from tqdm.auto import tqdm

    fast = prepare_classifier(clf)
    size = fast.input_size
    validate_fit_args(images, size, batch_size, epochs, max_seconds, target_fooling_rate)
    for name, v in (("lr", lr), ("lr_final", lr_final)):
        check_number(name, v, low=0.0, high=10.0)
    check_number("momentum", momentum, low=0.0, high=1.0)
    check_number("loss_clip", loss_clip, low=0.0)
    if momentum >= 1:
        raise ParameterError(f"momentum must be below 1, got {momentum!r}")
    stopper = Stopper(epochs, max_seconds, target_fooling_rate)
    g = torch.Generator().manual_seed(int(seed))
    dev = fast.device
    n = images.shape[0]
    clean = fast.predict(images, batch_size=max(batch_size, 64)) if labels is None else labels.to(torch.long).cpu()
    delta = torch.zeros((1, 3, *size), dtype=torch.float32, device=dev)
    mom = torch.zeros_like(delta)
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = epochs * steps_per_epoch if epochs is not None else None
    history: list[dict[str, float]] = []
    step, epoch, stopped, rate = 0, 0, "", 0.0
    bar = tqdm(total=total_steps, desc="fitting UAP (sgd)", unit="step", disable=not progress, leave=False)
    try:
        while not stopped:
            perm = torch.randperm(n, generator=g)
            changed, seen = 0, 0
            for s in range(0, n, batch_size):
                idx = perm[s : s + batch_size]
                x = images.index_select(0, idx).to(dev)
                y = clean.index_select(0, idx).to(dev)
                if augment is not None:
                    x = augment_batch(x, augment, g)
                d = delta.clone().requires_grad_(True)
                logits = fast((x + d).clamp(0, 1))
                loss = _loss(logits, y, target, loss_clip).sum()
                (grad,) = torch.autograd.grad(loss, d)
                with torch.no_grad():
                    pred = logits.argmax(1)
                    hit = (pred == target) if target is not None else (pred != y)
                    changed += int(hit.sum())
                    seen += idx.numel()
                    frac = _progress_fraction(step, total_steps, stopper)
                    step_size = budget.eps * lr * (lr_final / lr) ** frac if lr > 0 and lr_final > 0 else budget.eps * lr
                    gn = grad / grad.abs().mean().clamp_min(1e-30)
                    mom.mul_(momentum).add_(gn)
                    direction = mom.sign() if budget.norm == "linf" else mom / mom.norm().clamp_min(1e-30)
                    delta = budget.project(delta + step_size * direction)
                step += 1
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, fooling=f"{changed / seen:.3f}")
                if stopper.out_of_time():
                    break
            epoch += 1
            rate = changed / max(seen, 1)
            rec = {"epoch": float(epoch), "running_fooling_rate": rate, "seconds": stopper.elapsed(), "steps": float(step)}
            history.append(rec)
            if on_epoch is not None:
                t_cb = time.perf_counter()
                on_epoch(rec, delta.detach().cpu())
                stopper.t0 += time.perf_counter() - t_cb
            stopped = stopper.done(epoch, rate)
    finally:
        bar.close()
    delta = delta.detach().cpu()
    final = fast.predict(images, batch_size=max(batch_size, 64), delta=delta.to(dev))
    fit_rate = float(((final == target) if target is not None else (final != clean)).float().mean())
    settings = {"batch_size": batch_size, "lr": lr, "lr_final": lr_final, "momentum": momentum, "loss_clip": loss_clip, "epochs": epochs, "max_seconds": max_seconds, "target_fooling_rate": target_fooling_rate, "augment": augment.to_dict() if augment else None}
    return UAPResult(delta, budget, "sgd", int(seed), target, fit_rate, epoch, step, stopper.elapsed(), stopped, settings, history)


def _progress_fraction(step: int, total_steps: int | None, stopper: Stopper) -> float:
    """How far along the schedule we are, in ``[0, 1]``: by steps when an epoch limit is set, else by time."""
    if total_steps:
        return min(1.0, step / total_steps)
    if stopper.max_seconds:
        return min(1.0, stopper.elapsed() / stopper.max_seconds)
    return 0.0


def fit_uap(
    clf: Classifier | FastClassifier,
    images: torch.Tensor,
    *,
    norm: str = "linf",
    eps: EpsLike = "10/255",
    eps_scale: float = 1.0,
    method: Method = "sgd",
    target: int | str | None = None,
    seed: int = 0,
    **options: Any,
) -> UAPResult:
    """Fit a universal perturbation for ``clf`` on ``images`` ``(N, 3, H, W)`` at ``clf.input_size`` (or a ``Stimuli`` / ``ImageFolder``).

    ``norm`` is ``linf`` or ``l2``; ``eps`` a number on the scale ``eps_scale`` (1 or
    255) or a text like ``"10/255"``; ``method`` is ``sgd`` (default, see
    :func:`fit_uap_sgd` for ``options``) or ``deepfool`` (see
    :func:`~foolbox_lite.attacks.deepfool.fit_uap_deepfool`); ``target`` a class
    index, wnid or name for a targeted perturbation.
    """
    fast = prepare_classifier(clf)
    images = as_images(images)
    budget = Budget.make(norm, eps, scale=eps_scale, size=fast.input_size)
    t = resolve_target(fast.clf, target)
    if method == "sgd":
        return fit_uap_sgd(fast, images, budget, target=t, seed=seed, **options)
    if method == "deepfool":
        from .deepfool import fit_uap_deepfool

        if t is not None:
            raise ParameterError("the deepfool method is untargeted only", hint="use method='sgd' for a targeted perturbation")
        return fit_uap_deepfool(fast, images, budget, seed=seed, **options)
    raise ParameterError(f"method {method!r} is not supported", hint="use 'sgd' (default) or 'deepfool'")


def _check_delta(delta: torch.Tensor) -> None:
    if not isinstance(delta, torch.Tensor) or delta.dim() != 4 or delta.shape[:2] != (1, 3):
        raise InputError(f"a perturbation must be a tensor (1, 3, H, W), got {getattr(delta, 'shape', type(delta).__name__)}")
