"""HTML sections of the report for the analyses beyond cue fractions: controls and validity,
what was excluded and why, graded cue evidence, and the per-factor plots."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["analysis_sections"]


def _fmt(v: Any) -> str:
    return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else html.escape(str(v)))


def analysis_sections(summary: Mapping[str, Any], factor_plots: Mapping[str, Path], embed: Callable[[Path], str]) -> list[str]:
    """The sections as HTML fragments (``embed`` turns a PNG path into a ``src`` value)."""
    e = html.escape
    observers: Mapping[str, Any] = summary["observers"]
    cues = [c for c in summary["cues"] if c != "other"]
    parts: list[str] = []
    controls = summary.get("controls")
    if controls:
        head = "".join(f"<th>{e(c)} twin recognised (n)</th>" for c in controls)
        parts.append("<h2>Control twins and valid items</h2><p>Each conflict item has a twin per cue in which only that cue remains. "
                     "An item is <b>valid</b> for an observer that recognised all of its twins; the valid columns use those items only.</p>")
        parts.append(f"<table><tr><th class='l'>observer</th>{head}<th>valid n</th>"
                     + "".join(f"<th>{e(c)} (valid)</th>" for c in cues) + "<th>other (valid)</th><th>shape bias (valid)</th></tr>")
        for name, o in observers.items():
            ctl = o.get("controls") or {}
            cells = "".join(f"<td>{_fmt((ctl.get(c) or {}).get('accuracy'))} ({(ctl.get(c) or {}).get('n', 0)})</td>" for c in controls)
            v = o.get("valid") or {}
            fr = v.get("cue_fractions") or {}
            parts.append(f"<tr><td class='l'>{e(name)}</td>{cells}<td>{_fmt(v.get('n'))}</td>"
                         + "".join(f"<td>{_fmt(fr.get(c))}</td>" for c in cues) + f"<td>{_fmt(fr.get('other'))}</td><td>{_fmt(v.get('shape_bias'))}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>What the figures leave out</h2><ul>")
    for name, o in observers.items():
        ex = o.get("exclusions") or {}
        parts.append(f"<li><b>{e(name)}</b>: {e(str(ex.get('explanation', '')))}</li>")
    parts.append("</ul>")
    if any(o.get("evidence") for o in observers.values()):
        parts.append("<h2>Graded cue evidence</h2><p>Rank of each cue's label among the classes of the decision space (1 = the decision) "
                     "and its probability, over conflict items; the last column is the fraction of items whose shape label outranks the texture label.</p>")
        head = "".join(f"<th>{e(c)} median rank</th><th>{e(c)} mean prob.</th>" for c in cues)
        parts.append(f"<table><tr><th class='l'>observer</th>{head}<th>shape outranks texture (n)</th></tr>")
        for name, o in observers.items():
            ev = o.get("evidence")
            if not ev:
                continue
            cells = "".join(f"<td>{_fmt((ev['cues'].get(c) or {}).get('median_rank'))}</td><td>{_fmt((ev['cues'].get(c) or {}).get('mean_probability'))}</td>" for c in cues)
            sot = ev["shape_over_texture"]
            parts.append(f"<tr><td class='l'>{e(name)}</td>{cells}<td>{_fmt(sot['fraction'])} ({sot['n']})</td></tr>")
        parts.append("</table>")
    for factor, path in factor_plots.items():
        parts.append(f"<h2>By {e(factor)}</h2><img class='plot' alt='cue fractions by {e(factor)}' src='{embed(path)}'>")
    return parts
