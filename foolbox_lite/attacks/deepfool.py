"""The original universal-perturbation algorithm (Moosavi-Dezfooli et al., CVPR 2017), built on DeepFool.

For each image that the current ``v`` does not fool yet, DeepFool (Moosavi-Dezfooli
et al., CVPR 2016) finds the smallest extra perturbation that sends ``x + v`` across
the nearest decision boundary (linearising the ``num_classes`` top classes); ``v``
takes that step and is projected back onto the budget.  Passes over the images
repeat until the fooling rate on them reaches the target or a limit is hit.

DeepFool needs one gradient per candidate class, so this method costs about
``num_classes`` times more per image than the SGD method; it is kept as the
reference algorithm and for small sets.
"""

from __future__ import annotations

import torch

from ..classifiers import Classifier
from ..params import check_number
from ._model import FastClassifier, prepare_classifier
from .budget import Budget
from .fitting import Stopper, UAPResult, validate_fit_args

__all__ = ["deepfool", "fit_uap_deepfool"]


def deepfool(
    clf: Classifier | FastClassifier,
    x: torch.Tensor,
    *,
    norm: str = "l2",
    num_classes: int = 10,
    overshoot: float = 0.02,
    max_iter: int = 10,
) -> tuple[torch.Tensor, bool]:
    """Minimal perturbation ``r`` ``(1, 3, H, W)`` that changes the decision on ``x`` ``(1, 3, H, W)``.

    Among the ``num_classes`` classes with the highest clean logits, the nearest
    linearised boundary is crossed at each iteration (L2 or L-inf geometry);
    ``(1 + overshoot)`` pushes just past it.  Returns ``(r, fooled)``; ``fooled`` is
    ``False`` when ``max_iter`` iterations were not enough (``r`` is then the last try).
    """
    fast = prepare_classifier(clf)
    with torch.no_grad():
        logits0 = fast(x)
    k = min(int(num_classes), logits0.shape[1])
    cand = logits0[0].topk(k).indices
    label = int(cand[0])
    r_tot = torch.zeros_like(x)
    fooled = False
    for _ in range(int(max_iter)):
        xr = (x + (1 + overshoot) * r_tot).detach().expand(k, -1, -1, -1).clone().requires_grad_(True)
        out = fast(xr)
        if int(out[0].argmax()) != label:
            fooled = True
            break
        sel = out[torch.arange(k, device=out.device), cand]
        (grads,) = torch.autograd.grad(sel.sum(), xr)
        with torch.no_grad():
            w = (grads[1:] - grads[:1]).reshape(k - 1, -1)
            f = (sel[1:] - sel[:1]).detach()
            if norm == "linf":
                wn = w.abs().sum(1).clamp_min(1e-12)
                dist = f.abs() / wn
                j = int(dist.argmin())
                r = (dist[j] + 1e-4) * w[j].sign()
            else:
                wn = w.norm(dim=1).clamp_min(1e-12)
                dist = f.abs() / wn
                j = int(dist.argmin())
                r = (dist[j] + 1e-4) * w[j] / wn[j]
            r_tot = r_tot + r.view_as(x)
    else:
        with torch.no_grad():
            fooled = int(fast(x + (1 + overshoot) * r_tot).argmax()) != label
    return ((1 + overshoot) * r_tot).detach(), fooled


def fit_uap_deepfool(
    clf: Classifier | FastClassifier,
    images: torch.Tensor,
    budget: Budget,
    *,
    epochs: int | None = 5,
    max_seconds: float | None = None,
    target_fooling_rate: float | None = 0.8,
    num_classes: int = 10,
    overshoot: float = 0.02,
    max_iter: int = 10,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
    labels: torch.Tensor | None = None,
) -> UAPResult:
    """The DeepFool-based universal perturbation on ``images`` ``(N, 3, H, W)`` (at the input size).

    Images are visited in a seeded random order each pass; the fooling rate on all
    of them is measured after every pass and shown on the progress bar.
    """
    from tqdm.auto import tqdm

    fast = prepare_classifier(clf)
    size = fast.input_size
    validate_fit_args(images, size, batch_size, epochs, max_seconds, target_fooling_rate)
    check_number("num_classes", num_classes, low=2, integer=True)
    check_number("overshoot", overshoot, low=0.0, high=1.0)
    check_number("max_iter", max_iter, low=1, integer=True)
    stopper = Stopper(epochs, max_seconds, target_fooling_rate)
    g = torch.Generator().manual_seed(int(seed))
    dev = fast.device
    n = images.shape[0]
    clean = fast.predict(images, batch_size=batch_size) if labels is None else labels.to(torch.long).cpu()
    v = torch.zeros((1, 3, *size), dtype=torch.float32, device=dev)
    history: list[dict[str, float]] = []
    epoch, steps, stopped, rate = 0, 0, "", 0.0
    bar = tqdm(total=(epochs or 0) * n or None, desc="fitting UAP (deepfool)", unit="img", disable=not progress, leave=False)
    try:
        while not stopped:
            for i in torch.randperm(n, generator=g).tolist():
                x = images[i : i + 1].to(dev)
                with torch.no_grad():
                    still = int(fast((x + v).clamp(0, 1)).argmax(1)) == int(clean[i])
                if still:
                    r, ok = deepfool(fast, (x + v).clamp(0, 1), norm=budget.norm, num_classes=num_classes, overshoot=overshoot, max_iter=max_iter)
                    if ok:
                        v = budget.project(v + r)
                        steps += 1
                bar.update(1)
                if stopper.out_of_time():
                    break
            epoch += 1
            rate = float((fast.predict(images, batch_size=batch_size, delta=v) != clean).float().mean())
            bar.set_postfix(epoch=epoch, fooling=f"{rate:.3f}")
            history.append({"epoch": float(epoch), "fooling_rate": rate, "seconds": stopper.elapsed(), "steps": float(steps)})
            stopped = stopper.done(epoch, rate)
    finally:
        bar.close()
    settings = {"num_classes": num_classes, "overshoot": overshoot, "max_iter": max_iter, "epochs": epochs, "max_seconds": max_seconds, "target_fooling_rate": target_fooling_rate}
    return UAPResult(v.detach().cpu(), budget, "deepfool", int(seed), None, rate, epoch, steps, stopper.elapsed(), stopped, settings, history)
