"""Human observers' response files as observers of a stimulus set.

``import_responses(files, SET, OUT)`` reads CSVs in model-vs-human's raw-data columns
(our jsPsych experiment's downloads, or model-vs-human's own raw data, whose
``imagename`` ends in the stimulus file name), checks every row against the set
(stimulus known, response in the label space, category = the set's reference label,
no stimulus answered twice by a subject), and writes one clean raw-data CSV per
subject and session to ``OUT/raw-data/<set>/<set>_<subject>_session-<s>.csv``, which
``evaluate --observers 'OUT/raw-data/<set>/*.csv'`` reads.

``write_export_raw_data(trials, SET, EXPORT)`` goes the other way: observers' trials
about a set (an evaluation's ``trials.csv``) as model-vs-human raw-data files beside a
model-vs-human export of it, naming the exported image files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from .cues import Trial
from .observers import read_observer_csv, read_observers, write_raw_data

__all__ = ["import_responses", "write_export_raw_data"]


def import_responses(files: Sequence[str | os.PathLike[str]], stimulus_set: str | os.PathLike[str], out: str | os.PathLike[str], *, force: bool = False) -> list[Path]:
    """Check response CSVs against ``stimulus_set`` and write them as raw-data observers under ``out``; returns the files written."""
    from ..stimulus_set.export.common import prepare_out, safe_name
    from .run import load_stimulus_set

    if not files:
        raise InputError("no response files given", hint="foolbox-lite import responses FILE.csv... --set SET -o DIR")
    loaded = load_stimulus_set(stimulus_set)
    stimuli = loaded.by_name()
    merged: dict[str, list[Trial]] = {}
    for f in files:
        if not Path(f).is_file():
            raise InputError(f"response file {str(f)!r} does not exist")
        found = read_observer_csv(f, stimuli, label_space=loaded.info.label_space, reference_cue=loaded.info.reference_cue, cue_order=loaded.cues)
        for subj, trials in found.items():
            have = {(t.session, t.stimulus) for t in merged.get(subj, [])}
            dup = next((t.stimulus for t in trials if (t.session, t.stimulus) in have), None)
            if dup:
                raise InputError(f"subject {subj!r} answered stimulus {dup!r} in two files (second: {str(f)!r})", hint="import each participant's file once")
            merged.setdefault(subj, []).extend(trials)
    dataset = safe_name(loaded.info.name)
    root = prepare_out(Path(out), force=force, same_as=Path(stimulus_set))
    return write_raw_data(merged, root / "raw-data" / dataset, dataset)


def write_export_raw_data(pattern: str, stimulus_set: str | os.PathLike[str], export: str | os.PathLike[str]) -> list[Path]:
    """Trials about ``stimulus_set`` (a glob of ``trials.csv`` / raw-data CSVs) as
    ``EXPORT/raw-data/<name>/<name>_<subject>_session-<s>.csv`` of its model-vs-human export."""
    from ..stimulus_set.format import read_manifest, read_set_info
    from .run import load_stimulus_set

    export = Path(export)
    if read_set_info(export).extra.get("exported_as") != "model-vs-human":
        raise InputError(f"{str(export)!r} is not a model-vs-human export", hint="export the set with --format model-vs-human first")
    exported = {e.id: e.file for e in read_manifest(export)}  # datasets/<name>/<category>/<file>
    loaded = load_stimulus_set(stimulus_set)
    renamed = {Path(e.file).name: Path(exported[e.id]).name for e in loaded.entries if e.id in exported}
    if len(renamed) != len(loaded.entries):
        raise InputError(f"{str(export)!r} is not an export of {str(stimulus_set)!r}: their items differ")
    name = Path(next(iter(exported.values()))).parts[1]
    found = read_observers(pattern, loaded.by_name(), label_space=loaded.info.label_space, reference_cue=loaded.info.reference_cue, cue_order=loaded.cues)
    return write_raw_data({subj: [replace(t, stimulus=renamed[t.stimulus]) for t in ts] for subj, ts in found.items()}, export / "raw-data" / name, name)
