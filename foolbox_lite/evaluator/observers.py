"""Observers' trials in the model-vs-human raw-data format (Geirhos et al.).

Each CSV has the columns ``subj,session,trial,rt,object_response,category,condition,imagename``;
one subject is one observer.  The stimulus is the file named by ``imagename``, or by
its last ``_``-separated part (``0001_s5n_s01_0_bird_00_bird3-bird2.png`` is
``bird3-bird2.png``, the published layout).  We write our own trials in the same
format, plus one ``cue_<name>`` column per cue and ``followed_cue``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..assets.bounded_glob import bounded_glob
from ..errors import InputError, ParameterError
from ..files import atomic_write_text
from ..labels.mappings import get_mapping
from ..labels.space import imagenet_labels
from .cues import OTHER, Trial, followed_cue
from .decisions import NA

__all__ = ["RAW_COLUMNS", "StimulusInfo", "raw_data_name", "read_observer_csv", "read_observers", "stimulus_name", "write_raw_data", "write_trials_csv"]

RAW_COLUMNS = ("subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename")


@dataclass(frozen=True)
class StimulusInfo:
    """What the evaluator knows about a stimulus of the set (keyed by its file name)."""

    id: str
    file: str
    cues: Mapping[str, str]
    condition: str = ""
    control: str = ""
    twin: str = ""
    factors: Mapping[str, Any] = field(default_factory=dict)


def stimulus_name(imagename: str) -> str:
    """The stimulus's own file name inside a model-vs-human ``imagename`` (its last ``_`` part)."""
    return imagename.rsplit("_", 1)[-1]


def _normalise_response(value: str, label_space: str) -> str | None:
    v = value.strip()
    if v.lower() in ("na", "nan", ""):
        return NA
    if label_space == "imagenet1k":
        try:
            return imagenet_labels().wnids[imagenet_labels().index(v)]
        except ParameterError:
            return None
    return v if v in get_mapping(label_space) else None


def read_observer_csv(
    path: str | Path,
    stimuli: Mapping[str, StimulusInfo],
    *,
    label_space: str = "imagenet1k",
    reference_cue: str = "shape",
    cue_order: Sequence[str] = ("shape", "texture"),
) -> dict[str, list[Trial]]:
    """Trials per subject of one raw-data CSV; every row must name a stimulus of the set and a known response."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"observer file {str(p)!r} cannot be read: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    cols = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in RAW_COLUMNS if c not in cols]
    if missing:
        raise InputError(
            f"observer file {str(p)!r} lacks the column(s) {', '.join(missing)}",
            hint=f"model-vs-human raw data has the columns {','.join(RAW_COLUMNS)}",
        )
    reader.fieldnames = cols
    out: dict[str, list[Trial]] = {}
    seen: set[tuple[str, str]] = set()
    for line, row in enumerate(reader, 2):
        where = f"observer file {str(p)!r} line {line}"
        name = (row["imagename"] or "").strip()
        info = stimuli.get(name) or stimuli.get(stimulus_name(name))
        if info is None:
            raise InputError(
                f"{where}: stimulus {stimulus_name(name)!r} (imagename {name!r}) is not in the stimulus set",
                hint="evaluate the observers against the set they saw",
            )
        subj = (row["subj"] or "").strip()
        if not subj:
            raise InputError(f"{where}: empty 'subj'")
        response = _normalise_response(row["object_response"] or "", label_space)
        if response is None:
            raise InputError(f"{where}: object_response {row['object_response']!r} is not a label of the set's label space {label_space!r} (nor 'na')")
        ref = info.cues.get(reference_cue, "")
        category = (row["category"] or "").strip()
        if ref and category and _normalise_response(category, label_space) != ref:
            raise InputError(f"{where}: category {category!r} disagrees with the set's {reference_cue} label {ref!r} for {info.file!r}", hint="is this the right set?")
        key = (subj, info.file)
        if key in seen:
            raise InputError(f"{where}: subject {subj!r} answered stimulus {info.file!r} twice")
        seen.add(key)
        try:
            rt = float(row["rt"]) if (row["rt"] or "").strip() else math.nan
            session = int(float(row["session"])) if (row["session"] or "").strip() else 1
            trial_no = int(float(row["trial"])) if (row["trial"] or "").strip() else 0
        except ValueError as exc:
            raise InputError(f"{where}: rt, session and trial must be numbers ({exc})") from exc
        out.setdefault(subj, []).append(
            Trial(
                observer=subj,
                stimulus=Path(info.file).name,
                response=response,
                followed=OTHER if response == NA else followed_cue(response, info.cues, cue_order),
                cues=dict(info.cues),
                condition=info.condition,
                reference=ref,
                trial=trial_no,
                session=session,
                rt=rt,
                stimulus_id=info.id,
                control=info.control,
                twin=info.twin,
                factors=dict(info.factors),
            )
        )
    if not out:
        raise InputError(f"observer file {str(p)!r} has no trials")
    return out


def read_observers(
    pattern: str,
    stimuli: Mapping[str, StimulusInfo],
    **kwargs: object,
) -> dict[str, list[Trial]]:
    """Trials per subject from every CSV matching the glob ``pattern`` (subjects merged across files)."""
    files = bounded_glob(str(pattern))  # a pattern such as /**/*.csv must not walk the whole disk
    if not files:
        raise InputError(f"no observer files match {pattern!r}", hint="quote the glob, e.g. --observers 'raw-data/*.csv'")
    out: dict[str, list[Trial]] = {}
    for f in files:
        for subj, trials in read_observer_csv(f, stimuli, **kwargs).items():  # type: ignore[arg-type]
            have = {t.stimulus for t in out.get(subj, [])}
            dup = next((t.stimulus for t in trials if t.stimulus in have), None)
            if dup:
                raise InputError(f"subject {subj!r} answered stimulus {dup!r} in two files (second: {f!r})")
            out.setdefault(subj, []).extend(trials)
    return out


def _fmt(v: float) -> str:
    return "NaN" if math.isnan(v) else repr(v)


def _opt(v: object) -> str:
    return "" if v is None else (repr(v) if isinstance(v, float) else str(v))


def trials_csv_text(trials: Sequence[Trial], cues: Sequence[str]) -> str:
    """The text of a trials CSV: model-vs-human columns, then ``cue_<name>`` per cue, ``followed_cue``,
    ``control``/``twin`` (control twins), ``valid`` (1/0, empty when unknown), ``rank_<cue>``/``prob_<cue>``
    (graded evidence; only when some trial has it, i.e. a model was evaluated) and ``factor_<name>`` per design factor."""
    cue_names = [c for c in cues if c != OTHER]
    factors = list(dict.fromkeys(f for t in trials for f in t.factors))
    graded = cue_names if any(t.ranks for t in trials) else []
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*RAW_COLUMNS, *(f"cue_{c}" for c in cue_names), "followed_cue", "control", "twin", "valid",
                *(f"rank_{c}" for c in graded), *(f"prob_{c}" for c in graded), *(f"factor_{f}" for f in factors)])
    for t in trials:
        valid = "" if t.valid is None else int(t.valid)
        w.writerow([t.observer, t.session, t.trial, _fmt(t.rt), t.response, t.reference, t.condition, t.stimulus, *(t.cues.get(c, "") for c in cue_names), t.followed,
                    t.control, t.twin, valid, *(_opt(t.ranks.get(c)) for c in graded), *(_opt(t.probs.get(c)) for c in graded),
                    *(_opt(t.factors.get(f)) for f in factors)])
    return buf.getvalue()


def write_trials_csv(path: str | Path, trials: Sequence[Trial], cues: Sequence[str]) -> Path:
    """Write trials atomically as CSV (readable by model-vs-human and by :func:`read_observer_csv`)."""
    return atomic_write_text(path, trials_csv_text(trials, cues))


def raw_data_name(dataset: str, subject: str, session: int = 1) -> str:
    """model-vs-human's raw-data file name: ``<dataset>_<subject>_session-<s>.csv`` (names made file-safe)."""
    from ..stimulus_set.export.common import safe_name

    return f"{safe_name(dataset)}_{safe_name(subject)}_session-{int(session)}.csv"


def write_raw_data(trials: Mapping[str, Sequence[Trial]], folder: str | Path, dataset: str) -> list[Path]:
    """One model-vs-human raw-data CSV per subject and session in ``folder`` (only the 8 raw-data columns;
    ``imagename`` is each trial's stimulus file name); returns the files written."""
    folder = Path(folder)
    by_file: dict[str, list[Trial]] = {}
    for subj, ts in trials.items():
        for t in ts:
            by_file.setdefault(raw_data_name(dataset, subj, t.session), []).append(t)
    written = []
    for name, ts in sorted(by_file.items()):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(RAW_COLUMNS)
        for t in sorted(ts, key=lambda t: t.trial):
            w.writerow([t.observer, t.session, t.trial, _fmt(t.rt), t.response, t.reference, t.condition, t.stimulus])
        written.append(atomic_write_text(folder / name, buf.getvalue()))
    return written
