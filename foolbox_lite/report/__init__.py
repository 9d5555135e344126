"""Reports of an evaluation: ``trials.csv``, ``summary.json``, PNG plots and one self-contained ``report.html``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from ..evaluator.observers import write_trials_csv
from ..evaluator.run import Evaluation
from ..files import atomic_write_text
from .factor_plots import factor_plot, numeric_factors
from .html import display_label, render_report
from .plots import cue_fraction_plot, kappa_matrix_plot, shape_bias_plot

__all__ = [
    "OUTPUT_FILES", "cue_fraction_plot", "display_label", "evaluation_folder", "factor_plot", "kappa_matrix_plot", "render_report",
    "shape_bias_plot", "write_evaluation",
]


#: Every file :func:`write_evaluation` may write, besides one ``by_<factor>.png`` per numeric factor
#: (all removed before a new evaluation, so stale results never look current).
OUTPUT_FILES = ("trials.csv", "summary.json", "cue_fractions.png", "shape_bias.png", "error_consistency.png", "report.html")


@contextlib.contextmanager
def evaluation_folder(out: str | Path) -> Iterator[Path]:
    """Hold the evaluation folder for one evaluation: locked, checked writable before any inference,
    earlier results removed (an interrupted run never leaves old results looking current), and
    on a failure whatever this evaluation wrote removed again."""
    from ..stimulus_set.folder_lock import lock_folder
    from ..stimulus_set.outputs import removed_on_failure

    folder = Path(out)
    with lock_folder(folder) as held:
        for name in OUTPUT_FILES:
            (folder / name).unlink(missing_ok=True)
        for plot in folder.glob("by_*.png"):
            plot.unlink(missing_ok=True)
        with removed_on_failure(folder, held.created):
            yield folder


def write_evaluation(ev: Evaluation, out: str | Path, *, report: bool = True, max_gallery: int = 300, accuracy_cue: str | None = None) -> dict[str, Path]:
    """Write ``trials.csv`` and ``summary.json`` (and, with ``report``, the plots and ``report.html``) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = ev.summary(accuracy_cue)
    summary["set"] = {"name": ev.set.info.name, "folder": str(ev.set.folder), "label_space": ev.set.info.label_space, "n": len(ev.set.entries), "problems": ev.set.problems}
    rows = [t for ts in ev.trials.values() for t in ts]
    paths = {
        "trials": write_trials_csv(out / "trials.csv", rows, ev.cues),
        "summary": atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n"),
    }
    if not report:
        return paths
    plots: dict[str, Path] = {"cue_fractions": cue_fraction_plot(summary, out / "cue_fractions.png")}
    sb = shape_bias_plot(ev.trials, out / "shape_bias.png", label_name=lambda label: display_label(label, ev.set.info.label_space))
    if sb is not None:
        plots["shape_bias"] = sb
    km = kappa_matrix_plot(summary, out / "error_consistency.png")
    if km is not None:
        plots["error_consistency"] = km
    by_factor = {f: factor_plot(summary, f, out / f"by_{f}.png") for f in numeric_factors(summary)}
    paths.update(plots)
    paths.update({f"by_{f}": p for f, p in by_factor.items()})
    paths["report"] = render_report(
        summary,
        ev.trials,
        set_folder=ev.set.folder,
        files=[e.file for e in ev.set.entries],
        label_space=ev.set.info.label_space,
        title=f"foolbox-lite evaluation of {ev.set.info.name}",
        plots=plots,
        out=out / "report.html",
        max_gallery=max_gallery,
        problems=ev.set.problems,
        factor_plots=by_factor,
    )
    return paths
