"""What ``run`` and ``evaluate`` print about control twins: how often each observer recognised each
cue alone, what it answered on the conflict items, on the valid ones, and where (per numeric factor)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["claim_lines", "print_claims"]


def _name(label: str | None, cue: str, label_space: str) -> str:
    if label is None:
        return f"its {cue} label"
    from ..report.html import display_label

    return display_label(label, label_space)


def _frac(v: float | None, n: int | None = None) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" + (f" ({round(v * n)}/{n})" if n else "")


def claim_lines(summary: Mapping[str, Any]) -> list[str]:
    """Plain-text lines; empty for a set without control twins."""
    controls = summary.get("controls")
    if not controls:
        return []
    space = (summary.get("set") or {}).get("label_space", "imagenet1k")
    labels = summary.get("cue_labels") or {}
    cues = [c for c in summary["cues"] if c != "other"]
    main = [c for c in ("shape", "texture") if c in cues] or cues[:2]
    named = {c: _name(labels.get(c), c, space) for c in cues}
    lines = []
    for obs, o in summary["observers"].items():
        n = o["n"]
        lines.append(f"{obs}, {n} conflict items:")
        for c, ctl in (o.get("controls") or {}).items():
            lines.append(f"  {c}-only twin named {named[c]}: {_frac(ctl['accuracy'], ctl['n'])}")
        if not o.get("controls"):
            lines.append("  no trials on control twins")
        lines.append("  conflict item named " + ", ".join(f"{named[c]}: {_frac(o['cue_fractions'].get(c), n)}" for c in main))
        v = o.get("valid")
        if v:
            fr = v.get("cue_fractions") or {}
            lines.append(f"  valid items (every twin recognised): {v['n']} of {n}" + ("; named " + ", ".join(f"{named[c]}: {_frac(fr.get(c), v['n'])}" for c in main) if v["n"] else ""))
        for f, table in (o.get("by_factor") or {}).items():
            if len(table) < 2 or not all(_is_number(k) for k in table):
                continue
            lines.append(f"  by {f}:".ljust(34) + "  ".join(f"{k:>5}" for k in table))
            for c in controls:
                vals = [((row.get("controls") or {}).get(c) or {}).get("accuracy") for row in table.values()]
                lines.append(f"    {c} twin = {named[c]}".ljust(34) + "  ".join(f"{_frac(x):>5}" for x in vals))
            for c in main:
                vals = [(row.get("cue_fractions") or {}).get(c) for row in table.values()]
                lines.append(f"    conflict = {named[c]}".ljust(34) + "  ".join(f"{_frac(x):>5}" for x in vals))
    return lines


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def print_claims(summary: Mapping[str, Any]) -> None:
    """Print :func:`claim_lines` (nothing for a set without control twins)."""
    import typer

    for line in claim_lines(summary):
        typer.echo(line)
