"""Plots of an evaluation (matplotlib, Agg backend; PNG files written atomically).

- :func:`shape_bias_plot`: per shape category, each observer's fraction of texture
  (bottom axis) / shape (top axis) decisions on cue-conflict stimuli, with a vertical
  line at the observer's overall value, in the style of Geirhos et al. (ICLR 2019);
- :func:`cue_fraction_plot`: stacked bars of the cue each observer followed;
- :func:`kappa_matrix_plot`: error consistency (Cohen's kappa) of every pair of observers.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..evaluator.cues import OTHER, Trial
from ..evaluator.metrics import shape_bias
from ..files import atomic_write_bytes

__all__ = ["cue_fraction_plot", "kappa_matrix_plot", "observer_styles", "shape_bias_plot"]

_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "<", ">", "h")
_CUE_COLOURS = {"shape": "#4477aa", "texture": "#ee6677", "background": "#228833", "colour": "#ccbb44", OTHER: "#bbbbbb"}
_EXTRA_COLOURS = ("#66ccee", "#aa3377", "#994f00", "#332288", "#117733")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def observer_styles(names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """A stable (colour, marker) per observer: models coloured, human subjects red-ish."""
    plt = _plt()
    cmap = plt.get_cmap("tab10")
    out = {}
    for i, n in enumerate(names):
        out[n] = (cmap(i % 10), _MARKERS[i % len(_MARKERS)])
    return out


def cue_colour(cue: str, i: int = 0) -> str:
    return _CUE_COLOURS.get(cue, _EXTRA_COLOURS[i % len(_EXTRA_COLOURS)])


def shape_bias_plot(
    trials: Mapping[str, Sequence[Trial]],
    path: str | Path,
    *,
    shape: str = "shape",
    texture: str = "texture",
    label_name: Callable[[str], str] | None = None,
) -> Path | None:
    """Per-category shape-bias plot over conflict items (control twins left out); ``None`` (nothing written)
    when no stimulus has conflicting shape and texture labels.  ``label_name`` turns a label (a wnid) into
    the name shown; each category shows its number of conflict stimuli."""
    trials = {name: [t for t in ts if not t.control] for name, ts in trials.items()}
    conflict = {(t.stimulus, t.cues[shape]) for ts in trials.values() for t in ts if t.cues.get(shape) and t.cues.get(texture) and t.cues[shape] != t.cues[texture]}
    cats = sorted({c for _, c in conflict})
    if not cats:
        return None
    per_cat = Counter(c for _, c in conflict)
    shown = label_name or str
    plt = _plt()
    names = list(trials)
    styles = observer_styles(names)
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(cats) + 2.2))
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, len(cats) - 0.5)
    ax.set_yticks(range(len(cats)), [f"{shown(c)} (n={per_cat[c]})" for c in cats])
    ax.set_ylabel("Shape categories")
    ax.set_xlabel("Fraction of 'texture' decisions")
    top = ax.secondary_xaxis("top", functions=(lambda x: 1 - x, lambda x: 1 - x))
    top.set_xlabel("Fraction of 'shape' decisions")
    for i in range(len(cats) - 1):
        ax.axhline(i + 0.5, color="grey", linestyle=":", alpha=0.4, linewidth=0.8)
    for name in names:
        colour, marker = styles[name]
        overall = shape_bias(trials[name], shape, texture)
        if overall is None:
            continue
        ax.axvline(1 - overall, color=colour, linewidth=1.2, alpha=0.8)
        xs, ys = [], []
        for j, cat in enumerate(cats):
            sb = shape_bias([t for t in trials[name] if t.cues.get(shape) == cat], shape, texture)
            if sb is not None:
                xs.append(1 - sb)
                ys.append(j)
        decided = sum(t.response in (t.cues.get(shape), t.cues.get(texture)) for t in trials[name] if (t.stimulus, t.cues.get(shape)) in conflict)
        ax.scatter(xs, ys, color=colour, marker=marker, s=70, label=f"{name}: shape bias {overall:.2f}\n(n = {decided} shape or texture decisions)",
                   zorder=3, edgecolors=(0.3, 0.3, 0.3, 0.3), clip_on=False)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    return _save(fig, path)


def cue_fraction_plot(summary: Mapping[str, Any], path: str | Path) -> Path:
    """Stacked horizontal bars: per observer, the fraction of decisions that followed each cue."""
    plt = _plt()
    observers: Mapping[str, Any] = summary["observers"]
    names = list(observers)
    cues = list(summary.get("cues") or next(iter(observers.values()))["cue_fractions"])
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(names) + 1.6))
    left = [0.0] * len(names)
    extra = 0
    for cue in cues:
        vals = [observers[n]["cue_fractions"].get(cue, 0.0) for n in names]
        colour = cue_colour(cue, extra)
        extra += cue not in _CUE_COLOURS
        bars = ax.barh(range(len(names)), vals, left=left, color=colour, label=cue, edgecolor="white")
        for b, v in zip(bars, vals):
            if v >= 0.06:
                ax.text(b.get_x() + b.get_width() / 2, b.get_y() + b.get_height() / 2, f"{v:.2f}", ha="center", va="center", fontsize=8, color="black")
        left = [a + b for a, b in zip(left, vals)]
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("Fraction of decisions")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(6, len(cues)), fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _save(fig, path)


def kappa_matrix_plot(summary: Mapping[str, Any], path: str | Path) -> Path | None:
    """Matrix of error consistency (kappa) between observers; ``None`` with fewer than two observers."""
    names = list(summary["observers"])
    if len(names) < 2:
        return None
    plt = _plt()
    import numpy as np

    pos = {n: i for i, n in enumerate(names)}
    m = np.full((len(names), len(names)), np.nan)
    np.fill_diagonal(m, 1.0)
    for e in summary["error_consistency"]:
        if e["kappa"] is not None:
            m[pos[e["a"]], pos[e["b"]]] = m[pos[e["b"]], pos[e["a"]]] = e["kappa"]
    size = 1.0 + 0.55 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    im = ax.imshow(np.ma.masked_invalid(m), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    if len(names) <= 14:
        for i in range(len(names)):
            for j in range(len(names)):
                txt = "n/a" if np.isnan(m[i, j]) else f"{m[i, j]:.2f}"
                ax.text(j, i, txt, ha="center", va="center", fontsize=8, color="white" if abs(np.nan_to_num(m[i, j])) > 0.6 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="error consistency (kappa)")
    ax.set_title(f"Error consistency (right = {summary.get('reference_cue', 'shape')} label)", fontsize=10)
    return _save(fig, path)
