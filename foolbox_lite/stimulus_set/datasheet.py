"""``DATASHEET.md``: a human-readable description of a stimulus set.

What the set is, how it was built, counts per condition and per cue label, the
assets used with their licences, and how to cite it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["FOOLBOX_LITE_CITATION", "render_datasheet"]

FOOLBOX_LITE_CITATION = "foolbox-lite: reproducible cue-conflict and adversarial stimuli for image classifiers (version {version})."
MAX_ROWS = 60


def _label_name(label: str, label_space: str) -> str:
    if label_space == "imagenet1k":
        try:
            from ..labels.space import imagenet_labels

            labels = imagenet_labels()
            return f"{labels.names[labels.index(label)]} ({label})"
        except Exception:  # noqa: BLE001 - a label the table does not know is shown as is
            return label
    return label


def _table(counter: Counter[str], header: str) -> list[str]:
    rows = [f"| {header} | images |", "| --- | ---: |"]
    items = sorted(counter.items())
    for k, v in items[:MAX_ROWS]:
        rows.append(f"| {k} | {v} |")
    if len(items) > MAX_ROWS:
        rows.append(f"| ... {len(items) - MAX_ROWS} more | {sum(v for _, v in items[MAX_ROWS:])} |")
    return rows


def render_datasheet(
    *,
    name: str,
    description: str,
    n: int,
    label_space: str,
    reference_cue: str,
    conditions: Counter[str],
    cue_counts: Mapping[str, Counter[str]],
    assets: Iterable[Mapping[str, Any]],
    citations: Iterable[str],
    versions: Mapping[str, str],
    device: Mapping[str, Any],
    recipe_name: str,
    reproducibility: str,
    controls: Counter[str] | None = None,
) -> str:
    """The datasheet text (deterministic: no dates, sorted tables); ``controls``: control twins per kept cue."""
    out = [f"# {name}", ""]
    out += [description.strip() or "(no description given in the recipe)", ""]
    out += ["## Composition", ""]
    out += [f"- images: {n} (PNG, lossless, in `images/`; one line each in `manifest.jsonl`)"]
    if controls:
        twins = sum(controls.values())
        per_cue = ", ".join(f"{c}-only {k}" for c, k in controls.items())
        out += [(f"- of these, {n - twins} cue-conflict items and {twins} single-cue control twins ({per_cue}): a twin's manifest line "
                 "has `control` (the cue it keeps) and `twin` (its conflict item's id); the tables below count the conflict items")]
    out += [f"- label space: `{label_space}`; cues: {', '.join(f'`{c}`' for c in cue_counts) or 'none'}; reference cue: `{reference_cue}`"]
    out += [f"- built from `{recipe_name}` with `foolbox-lite build` (resolved recipe and versions in `recipe.lock.yaml`)", ""]
    out += ["### Images per condition", ""] + _table(conditions, "condition") + [""]
    for cue, counter in cue_counts.items():
        named = Counter({_label_name(k, label_space): v for k, v in counter.items()})
        out += [f"### Cue `{cue}`", ""] + _table(named, "label") + [""]
    out += ["## Assets and licences", ""]
    by_licence: dict[str, list[str]] = {}
    for a in assets:
        by_licence.setdefault(str(a.get("licence") or "unknown"), []).append(str(a["id"]))
    for lic, ids in sorted(by_licence.items()):
        shown = ", ".join(f"`{i}`" for i in ids[:12]) + (f" and {len(ids) - 12} more" if len(ids) > 12 else "")
        out.append(f"- **{lic}**: {shown}")
    out += ["", "The images inherit the licences of the assets they are made from.", ""]
    out += ["## How to cite", ""]
    cites = [c for c in dict.fromkeys(citations) if c]
    for c in cites:
        out.append(f"- {c}")
    out.append(f"- {FOOLBOX_LITE_CITATION.format(version=versions.get('foolbox-lite', '?'))}")
    out += ["", "## Reproducibility", "", reproducibility, ""]
    out += ["| package | version |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in sorted(versions.items())]
    out += ["", f"Device: {', '.join(f'{k}={v}' for k, v in device.items())}", ""]
    return "\n".join(out)


def read_licences_and_citations(text: str) -> tuple[list[str], list[str]]:
    """The licences (``## Assets and licences``) and citations (``## How to cite``) a datasheet lists."""
    import re

    licences: list[str] = []
    cites: list[str] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip().lower()
        elif line.startswith("- ") and section == "assets and licences":
            m = re.match(r"- \*\*(.+?)\*\*", line)
            if m:
                licences.append(m.group(1))
        elif line.startswith("- ") and section == "how to cite":
            cites.append(line[2:].strip())
    return licences, cites
