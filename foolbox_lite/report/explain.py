"""The report of an explanation run: ``report.html`` with a gallery (each stimulus, its cues and
the decision beside the overlays of every method), one panel per target (cue), the spatial
statistics, and the sanity plot (``sanity.png``: rank correlation per randomisation stage)."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..files import atomic_write_text
from .html import _CSS, _fmt, _thumb, display_label
from .plots import _plt, _save

if TYPE_CHECKING:
    from ..explain.run import ExplainResult

__all__ = ["sanity_plot", "write_explain_report"]


def sanity_plot(sanity: Mapping[str, Any], path: Path) -> Path | None:
    """Rank correlation with the original maps vs. how far down the weights are randomised, a line per model and method."""
    if not any(sanity.values()):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    ticks: list[str] = []
    for obs, methods in sanity.items():
        for m, s in methods.items():
            ys = [st["rank_corr"] for st in s["stages"]]
            ax.plot(range(len(ys)), [float("nan") if y is None else y for y in ys], marker="o", label=f"{m} ({obs})" if len(sanity) > 1 else m)
            ticks = [f"{st['down_to']}\n({st['layers']})" for st in s["stages"]]
    ax.set_xticks(range(len(ticks)), ticks, fontsize=7)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_ylim(-0.2, 1.0)
    ax.set_xlabel("randomised from the top down to layer (layers randomised)")
    ax.set_ylabel("Spearman rank correlation")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def _img(path: Path, size: int = 150) -> str:
    return f"<img loading='lazy' src='{_thumb(path, size)}'>" if path.is_file() else "–"


def _stats_table(summary: Mapping[str, Any]) -> list[str]:
    e = html.escape
    parts = ["<table><tr><th class='l'>observer</th><th class='l'>method</th><th class='l'>target</th><th>n</th>"
             "<th>evidence in object</th><th>object area</th><th>enrichment</th><th>sanity rank corr</th><th class='l'>sanity</th></tr>"]
    for obs, o in summary["observers"].items():
        for m, s in o["methods"].items():
            verdict = {True: "survives randomisation: does not show the model's evidence", False: "passes", None: "–"}[s.get("survives_randomisation")]
            for t, st in s["targets"].items():
                parts.append(f"<tr><td class='l'>{e(obs)}</td><td class='l'>{e(m)}</td><td class='l'>{e(t)}</td><td>{st['n']}</td>"
                             f"<td>{_fmt(st['evidence_in_object'])}</td><td>{_fmt(st['object_area'])}</td><td>{_fmt(st['enrichment'])}</td>"
                             f"<td>{_fmt(s.get('sanity_rank_corr'))}</td><td class='l'>{e(verdict)}</td></tr>")
    parts.append("</table>")
    return parts


def write_explain_report(result: ExplainResult, *, max_gallery: int = 60) -> Path:
    """Write ``report.html`` (and ``sanity.png``) into the result's folder."""
    e = html.escape
    out, summary = result.out, result.summary
    space = summary["set"]["label_space"]
    set_folder = result.set_folder or Path(summary["set"]["folder"])
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>evidence maps of {e(summary['set']['name'])}</title>"
             f"<style>{_CSS}.ov td{{text-align:center;font-size:11px}}.ov img{{width:150px}}</style></head><body>"]
    parts.append(f"<h1>Evidence maps of {e(summary['set']['name'])}</h1><p>Targets: {e(', '.join(summary['targets']))}. "
                 "Evidence in object: share of the positive evidence inside the object mask; enrichment: that share over the object's area "
                 "(1 = no preference, above 1 = on the object).</p>")
    parts += ["<h2>Spatial cue attribution</h2>", *_stats_table(summary)]
    plot = sanity_plot(result.sanity, out / "sanity.png")
    if plot is not None:
        parts.append("<h2>Sanity check (model-parameter randomisation)</h2><p>Maps recomputed with the classifier's layers re-initialised from the top down; "
                     f"a method whose rank correlation averaged over the cascade is above {summary.get('sanity_threshold')} shows image structure, not the model's evidence.</p>")
        parts.append(f"<img class='plot' alt='sanity' src='data:image/png;base64,{base64.b64encode(plot.read_bytes()).decode('ascii')}'>")
    by_item: dict[tuple[str, str], dict[tuple[str, str], Mapping[str, Any]]] = {}
    for r in result.rows:
        by_item.setdefault((r["observer"], r["stimulus_id"]), {})[(r["target"], r["method"])] = r
    for obs, o in summary["observers"].items():
        methods: Sequence[str] = list(o["methods"])
        for t in summary["targets"]:
            parts.append(f"<h2>{e(obs)}: evidence for {e(t)}</h2><table class='ov'><tr><th>stimulus</th>" + "".join(f"<th>{e(m)}</th>" for m in methods) + "</tr>")
            shown = [k for k in by_item if k[0] == obs][:max_gallery]
            for key in shown:
                cells = by_item[key]
                any_r = next(iter(cells.values()))
                head = (f"{_img(set_folder / any_r['file'])}<br>{e(any_r['stimulus_id'])}<br>decision: <b>{e(display_label(any_r['decision'], space))}</b>"
                        f"<br>{e(t)}: {e(display_label(cells.get((t, methods[0]), any_r)['label'], space))}")
                row = [f"<td>{head}</td>"]
                for m in methods:
                    r = cells.get((t, m))
                    if r is None or not r["overlay"]:
                        row.append("<td>–</td>")
                        continue
                    row.append(f"<td>{_img(out / r['overlay'])}<br>in object {_fmt(r['evidence_in_object'])}, enrichment {_fmt(r['enrichment'])}</td>")
                parts.append("<tr>" + "".join(row) + "</tr>")
            parts.append("</table>")
    parts.append("</body></html>\n")
    return atomic_write_text(out / "report.html", "".join(parts))
