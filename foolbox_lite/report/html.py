"""One self-contained ``report.html``: summary tables, embedded plots, and a per-stimulus
gallery of what each observer answered (thumbnails embedded as base64 JPEG)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..assets.io import read_pil
from ..errors import FoolboxLiteError
from ..evaluator.cues import OTHER, Trial
from ..files import atomic_write_text
from .analysis_html import analysis_sections
from .plots import cue_colour

__all__ = ["display_label", "render_report"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1300px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.gal{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;padding:4px;width:170px;font-size:11px}
.card img{width:160px;height:auto;display:block}.card.tw{width:350px}.twins{display:flex;gap:4px;margin-top:3px}
.twins div{width:112px}.twins img{width:112px}.lv{color:#555}.ans{display:block;margin:1px 0;padding:1px 3px;border-radius:3px}
img.plot{max-width:100%;border:1px solid #eee;margin:.5em 0}
"""


def display_label(label: str, label_space: str) -> str:
    """A readable label: the class name of an ImageNet wnid, else the label itself."""
    if label_space == "imagenet1k" and label.startswith("n") and label[1:].isdigit():
        from ..labels.space import imagenet_labels

        space = imagenet_labels()
        try:
            return space.names[space.index(label)]
        except FoolboxLiteError:
            return label
    return label


def _b64_png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _thumb(path: Path, size: int = 160) -> str:
    try:
        im = read_pil(path).convert("RGB")
    except FoolboxLiteError:
        return ""
    im.thumbnail((size, size))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _fmt(v: Any) -> str:
    return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else html.escape(str(v)))


def render_report(
    summary: Mapping[str, Any],
    trials: Mapping[str, Sequence[Trial]],
    *,
    set_folder: Path,
    files: Sequence[str],
    label_space: str,
    title: str,
    plots: Mapping[str, Path],
    out: Path,
    max_gallery: int = 300,
    problems: Sequence[str] = (),
    factor_plots: Mapping[str, Path] | None = None,
) -> Path:
    """Write ``out`` (report.html); the gallery shows the first ``max_gallery`` conflict stimuli in manifest order,
    each with its design factors and its control twins (and every observer's answer to them)."""
    e = html.escape
    cues = list(summary["cues"])
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>{_CSS}</style></head><body>"]
    parts.append(f"<h1>{e(title)}</h1><p>Label space <b>{e(label_space)}</b>; reference cue <b>{e(str(summary.get('reference_cue')))}</b>; "
                 f"{len(files)} stimuli; observers: {e(', '.join(summary['observers']))}.</p>")
    if problems:
        parts.append("<p><b>Problems with the set:</b></p><ul>" + "".join(f"<li>{e(p)}</li>" for p in problems[:50]) + "</ul>")
    head = "".join(f"<th>{e(c)}</th>" for c in cues)
    parts.append(f"<h2>Cues followed</h2><table><tr><th class='l'>observer</th><th>n</th>{head}<th>shape bias</th><th>accuracy</th></tr>")
    for name, o in summary["observers"].items():
        row = "".join(f"<td>{_fmt(o['cue_fractions'].get(c))}</td>" for c in cues)
        parts.append(f"<tr><td class='l'>{e(name)}</td><td>{o['n']}</td>{row}<td>{_fmt(o['shape_bias'])}</td><td>{_fmt(o['accuracy']['overall'])}</td></tr>")
    parts.append("</table>")
    for key, caption in (("cue_fractions", "Cue fractions"), ("shape_bias", "Shape bias per category"), ("error_consistency", "Error consistency")):
        if key in plots:
            parts.append(f"<h2>{caption}</h2><img class='plot' alt='{e(caption)}' src='{_b64_png(plots[key])}'>")
    parts += analysis_sections(summary, factor_plots or {}, _b64_png)
    if summary["error_consistency"]:
        parts.append("<table><tr><th class='l'>a</th><th class='l'>b</th><th>n</th><th>kappa</th><th>observed</th><th>expected</th></tr>")
        for p in summary["error_consistency"]:
            parts.append(f"<tr><td class='l'>{e(p['a'])}</td><td class='l'>{e(p['b'])}</td><td>{p['n']}</td><td>{_fmt(p['kappa'])}</td><td>{_fmt(p['observed'])}</td><td>{_fmt(p['expected'])}</td></tr>")
        parts.append("</table>")
    by_obs = {n: {t.stimulus: t for t in ts} for n, ts in trials.items()}
    twin_files: dict[str, list[str]] = {}  # conflict id -> its twins' file names
    twin_names: set[str] = set()
    for ts in trials.values():
        for t in ts:
            if t.control and t.stimulus not in twin_names:
                twin_names.add(t.stimulus)
                twin_files.setdefault(t.twin, []).append(t.stimulus)
    folder_of = {Path(f).name: f for f in files}
    conflict_files = [f for f in files if Path(f).name not in twin_names]
    shown = list(conflict_files[:max_gallery])
    parts.append(f"<h2>Stimuli</h2><p>{len(shown)} of {len(conflict_files)} conflict stimuli in manifest order"
                 + (", each with its control twins" if twin_names else "") + "; each answer is coloured by the cue it followed "
                 + " ".join(f"<span class='ans' style='display:inline;background:{cue_colour(c, i)}'>{e(c)}</span>" for i, c in enumerate(cues)) + "</p><div class='gal'>")

    def answers(name: str, twin_cue: str = "") -> list[str]:
        out = []
        for obs, d in by_obs.items():
            t = d.get(name)
            if t is None:
                continue
            if twin_cue:
                colour = cue_colour(twin_cue, cues.index(twin_cue) if twin_cue in cues else 0) if t.response == t.cues.get(twin_cue) else cue_colour(OTHER)
            else:
                colour = cue_colour(t.followed, cues.index(t.followed) if t.followed in cues else 0) if t.followed != OTHER else cue_colour(OTHER)
            out.append(f"<span class='ans' style='background:{colour}'>{e(obs)}: {e(display_label(t.response, label_space))}</span>")
        return out

    for f in shown:
        name = Path(f).name
        any_t = next((d[name] for d in by_obs.values() if name in d), None)
        cue_txt = ", ".join(f"{k}: {display_label(v, label_space)}" for k, v in (any_t.cues.items() if any_t else []))
        lv_txt = ", ".join(f"{k}={v}" for k, v in (any_t.factors.items() if any_t else []))
        twins = twin_files.get(any_t.stimulus_id, []) if any_t else []
        parts.append(f"<div class='card{' tw' if twins else ''}'><div class='twins'><div><img loading='lazy' alt='{e(name)}' src='{_thumb(set_folder / f)}'>"
                     f"<b>{e(name)}</b><br>{e(cue_txt)}" + (f"<br><span class='lv'>{e(lv_txt)}</span>" if lv_txt else ""))
        parts += answers(name)
        parts.append("</div>")
        for tw in twins:
            t0 = next(d[tw] for d in by_obs.values() if tw in d)
            parts.append(f"<div><img loading='lazy' alt='{e(tw)}' src='{_thumb(set_folder / folder_of.get(tw, tw))}'><b>{e(t0.control)} only</b>")
            parts += answers(tw, t0.control)
            parts.append("</div>")
        parts.append("</div></div>")
    parts.append("</div></body></html>\n")
    return atomic_write_text(out, "".join(parts))
