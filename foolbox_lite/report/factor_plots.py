"""Plots of cue following against each numeric design factor (pitch, angle, noise level...).

For every numeric factor of ``summary["observers"][*]["by_factor"]``: one panel per
observer, the fraction of conflict items whose decision followed each cue (solid
lines) and each control twin's accuracy (dashed), against the factor's level, with
Wilson 95% intervals.  This is the plot that says *where* a cue carries the decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..evaluator.cues import OTHER
from .plots import _plt, _save, cue_colour

__all__ = ["factor_plot", "numeric_factors", "wilson"]

#: z for a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson(k: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` trials (``(0, 1)`` when ``n`` is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def numeric_factors(summary: Mapping[str, Any]) -> list[str]:
    """Factors whose levels are all numbers and that have at least two levels (in the first observer's order)."""
    observers = summary.get("observers") or {}
    first = next(iter(observers.values()), {})
    out = []
    for f, table in (first.get("by_factor") or {}).items():
        if len(table) >= 2 and all(_number(k) is not None for k in table):
            out.append(f)
    return out


def factor_plot(summary: Mapping[str, Any], factor: str, path: str | Path) -> Path:
    """Cue fractions and control accuracies against ``factor``'s levels, one panel per observer."""
    plt = _plt()
    observers: Mapping[str, Any] = summary["observers"]
    names = list(observers)
    cues = [c for c in summary["cues"] if c != OTHER]
    fig, axes = plt.subplots(1, len(names), figsize=(6.2 * len(names), 4.2), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        table: Mapping[str, Any] = observers[name]["by_factor"][factor]
        levels = list(table)
        xs = [_number(k) for k in levels]
        for i, cue in enumerate(cues):
            pts = [(x, row["cue_fractions"][cue], row["n"]) for x, row in zip(xs, table.values()) if row["n"] and row["cue_fractions"]]
            _line(ax, pts, cue_colour(cue, i), f"{cue} (conflict)", "-", "o")
        controls = list(dict.fromkeys(c for row in table.values() for c in (row.get("controls") or {})))
        for i, cue in enumerate(controls):
            pts = [(x, row["controls"][cue]["accuracy"], row["controls"][cue]["n"]) for x, row in zip(xs, table.values()) if (row.get("controls") or {}).get(cue)]
            _line(ax, pts, cue_colour(cue, i), f"{cue} twin recognised", "--", "s")
        ax.set_xticks([x for x in xs if x is not None], [f"{k}\nn={row['n']}" for k, row in table.items()], fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(factor)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0][0].set_ylabel("fraction of images (95% Wilson interval)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(4, len(labels)) or 1, fontsize=8, frameon=False)
    fig.suptitle(f"Cue followed and control twins recognised, by {factor}", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def _line(ax: Any, pts: list[tuple[float | None, float, int]], colour: str, label: str, style: str, marker: str) -> None:
    pts = [p for p in pts if p[0] is not None]
    if not pts:
        return
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    lo, hi = zip(*(wilson(round(y * n), n) for _, y, n in pts))
    ax.plot(xs, ys, style, color=colour, marker=marker, markersize=4, label=label)
    ax.fill_between(xs, lo, hi, color=colour, alpha=0.12, linewidth=0)
