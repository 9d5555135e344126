"""Spatial cue attribution: how much of a map's positive evidence lies on the object.

For a map ``a`` (``(H, W)``, positive = evidence for the target) and the item's foreground
mask ``m`` in ``[0, 1]``:

- ``evidence_in_object`` = ``sum(max(a, 0) * m) / sum(max(a, 0))`` (NaN when the map has no
  positive evidence);
- ``object_area`` = ``mean(m)``, the share of the image the object covers;
- ``enrichment`` = ``evidence_in_object / object_area``: 1 when evidence is spread like the
  pixels, above 1 when it concentrates on the object, below 1 when it lies in the scene.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["STAT_NAMES", "aggregate", "by_factor", "spatial_stats"]

STAT_NAMES = ("evidence_in_object", "object_area", "enrichment")


def spatial_stats(maps: torch.Tensor, masks: torch.Tensor) -> dict[str, list[float]]:
    """Per item of ``maps`` and ``masks`` (both ``(B, H, W)``): the three statistics (NaN where undefined)."""
    e = maps.double().clamp(min=0)
    m = masks.double()
    total = e.sum(dim=(1, 2))
    inside = (e * m).sum(dim=(1, 2))
    eio = torch.where(total > 0, inside / total.clamp(min=1e-300), torch.full_like(total, math.nan))
    area = m.mean(dim=(1, 2))
    enr = torch.where(area > 0, eio / area.clamp(min=1e-300), torch.full_like(area, math.nan))
    return {"evidence_in_object": eio.tolist(), "object_area": area.tolist(), "enrichment": enr.tolist()}


def _mean(values: Iterable[float]) -> tuple[int, float | None]:
    arr = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    return len(arr), (float(arr.mean()) if len(arr) else None)


def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"n", "evidence_in_object", "object_area", "enrichment"}``: means over rows with a defined value.

    ``n`` counts rows whose evidence_in_object is defined (maps with some positive evidence).
    """
    n, eio = _mean(r["evidence_in_object"] for r in rows)
    _, area = _mean(r["object_area"] for r in rows if r["evidence_in_object"] is not None and math.isfinite(r["evidence_in_object"]))
    _, enr = _mean(r["enrichment"] for r in rows)
    return {"n": n, "evidence_in_object": eio, "object_area": area, "enrichment": enr}


def by_factor(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`aggregate` per design factor and level (``{factor: {level: stats}}``), levels as strings."""
    levels: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for r in rows:
        for f, lv in (r.get("factors") or {}).items():
            levels.setdefault(f, {}).setdefault(str(lv), []).append(r)
    return {f: {lv: aggregate(rs) for lv, rs in lvs.items()} for f, lvs in levels.items()}
