"""Mask clean-up: threshold, keep the largest component, fill holes, feather.

Raw masks from a segmenter have speckles, holes (a teapot's handle, a seat's
opening) and hard or noisy edges.  :class:`Cleanup` lists the steps and
:func:`clean_mask` runs them on one ``(H, W)`` float32 array in ``[0, 1]``.
Every result is quantised to multiples of 1/255, so a mask read back from the
PNG cache is bit-identical to a freshly computed one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Union

import numpy as np

from ..errors import AssetError, ParameterError
from ..params import check_number

__all__ = ["Cleanup", "CleanupLike", "as_cleanup", "clean_mask", "quantise", "check_not_empty", "largest_component", "fill_holes", "feather"]


@dataclass(frozen=True)
class Cleanup:
    """Clean-up steps, in order.

    ``threshold``: binarise at this level (``None`` keeps a soft mask and skips the
    binary steps); ``largest``: keep only the largest connected component;
    ``holes``: fill holes enclosed by the object; ``feather``: Gaussian blur of the
    edge with this sigma in pixels (0 = hard edge); ``min_area``: the fraction of the
    image the object must cover, below which the mask counts as empty.
    """

    threshold: float | None = 0.5
    largest: bool = True
    holes: bool = True
    feather: float = 0.0
    min_area: float = 0.001

    def __post_init__(self) -> None:
        if self.threshold is not None:
            check_number("cleanup.threshold", self.threshold, low=0.0, high=1.0)
        check_number("cleanup.feather", self.feather, low=0.0, high=100.0)
        check_number("cleanup.min_area", self.min_area, low=0.0, high=1.0)
        for k in ("largest", "holes"):
            if not isinstance(getattr(self, k), bool):
                raise ParameterError(f"parameter 'cleanup.{k}' must be true or false, got {getattr(self, k)!r}")
        if self.threshold is None and (self.largest or self.holes):
            raise ParameterError("cleanup: 'largest' and 'holes' need a binary mask", hint="set a threshold, or largest=False and holes=False")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CleanupLike = Union[Cleanup, bool, None, Mapping[str, Any]]

#: No clean-up at all (the raw soft mask, quantised).
RAW = Cleanup(threshold=None, largest=False, holes=False, feather=0.0, min_area=0.001)


def as_cleanup(value: CleanupLike) -> Cleanup:
    """``True``/``None`` -> defaults, ``False`` -> raw mask, a dict -> those fields."""
    if isinstance(value, Cleanup):
        return value
    if value is None or value is True:
        return Cleanup()
    if value is False:
        return RAW
    if isinstance(value, Mapping):
        unknown = set(value) - set(Cleanup.__dataclass_fields__)
        if unknown:
            raise ParameterError(f"cleanup: unknown field(s) {sorted(unknown)}", hint=f"fields are {sorted(Cleanup.__dataclass_fields__)}")
        return Cleanup(**dict(value))
    raise ParameterError(f"cleanup must be true, false or a mapping of fields, got {value!r}")


def quantise(mask: np.ndarray) -> np.ndarray:
    """Round to multiples of 1/255 (float32), the precision of the PNG cache."""
    return (np.rint(np.clip(mask, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def largest_component(binary: np.ndarray) -> np.ndarray:
    """Keep the largest 8-connected component of a uint8 {0, 1} mask."""
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 2:
        return binary
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == best).astype(np.uint8)


def fill_holes(binary: np.ndarray) -> np.ndarray:
    """Fill the background regions that do not touch the image border."""
    import cv2

    inv = (1 - binary).astype(np.uint8)
    n, labels = cv2.connectedComponents(inv, connectivity=4)
    if n <= 1:
        return binary
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outside = np.isin(labels, border[border > 0])
    return np.where(outside, 0, 1).astype(np.uint8)


def feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with ``sigma`` pixels (kernel 6 sigma + 1), border replicated."""
    import cv2

    if sigma <= 0:
        return mask.astype(np.float32)
    k = int(2 * round(3 * sigma) + 1)
    return cv2.GaussianBlur(mask.astype(np.float32), (k, k), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)


def clean_mask(mask: np.ndarray, cleanup: CleanupLike = True) -> np.ndarray:
    """Apply :class:`Cleanup` to an ``(H, W)`` float mask in ``[0, 1]``; float32, quantised."""
    c = as_cleanup(cleanup)
    if mask.ndim != 2:
        raise ParameterError(f"clean_mask takes an (H, W) mask, got shape {mask.shape}")
    m = np.asarray(mask, dtype=np.float32)
    if c.threshold is not None:
        b = (m >= c.threshold).astype(np.uint8) if c.threshold > 0 else (m > 0).astype(np.uint8)
        if c.largest and b.any():
            b = largest_component(b)
        if c.holes and b.any():
            b = fill_holes(b)
        m = b.astype(np.float32)
    if c.feather > 0:
        m = feather(m, c.feather)
    return quantise(m)


def check_not_empty(mask: np.ndarray, what: str, min_area: float = 0.001) -> None:
    """Raise :class:`AssetError` naming ``what`` when the object covers less than ``min_area`` of the image."""
    area = float(mask.mean()) if mask.size else 0.0
    if area < min_area or float(mask.max(initial=0.0)) < 0.5:
        raise AssetError(
            f"the foreground mask of {what} is empty (object covers {area:.4%} of the image)",
            hint="the segmenter found no object: try another method or model, a box for grabcut, or a lower threshold",
        )
