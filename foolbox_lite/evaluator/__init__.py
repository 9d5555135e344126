"""The evaluator: run classifiers (and read human observers) over a stimulus set and
measure which cue each followed.

``mappings`` (label mappings, incl. ``geirhos16``) -> ``decisions`` (logits -> label) ->
``cues`` (decision -> followed cue) -> ``metrics`` (fractions, shape bias, accuracy,
error consistency); ``observers`` reads/writes model-vs-human CSVs; ``run`` does the
batched inference.
"""

from __future__ import annotations

from ..labels.mappings import GEIRHOS16, LabelMapping, available_mappings, get_mapping, register_mapping
from .cues import OTHER, Trial, followed_cue
from .decisions import NA, Decider, make_decider
from .metrics import ErrorConsistency, accuracy, cue_fractions, error_consistency, shape_bias, summarize
from .observers import RAW_COLUMNS, read_observer_csv, read_observers, write_trials_csv
from .run import DEFAULT_BATCH_SIZE, Evaluation, evaluate_set, load_stimulus_set, resolve_device

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "GEIRHOS16",
    "NA",
    "OTHER",
    "RAW_COLUMNS",
    "Decider",
    "ErrorConsistency",
    "Evaluation",
    "LabelMapping",
    "Trial",
    "accuracy",
    "available_mappings",
    "cue_fractions",
    "error_consistency",
    "evaluate_set",
    "followed_cue",
    "get_mapping",
    "load_stimulus_set",
    "make_decider",
    "read_observer_csv",
    "read_observers",
    "register_mapping",
    "resolve_device",
    "shape_bias",
    "summarize",
    "write_trials_csv",
]
