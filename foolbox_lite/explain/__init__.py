"""Evidence maps: where in the image each decision came from.

``explain_set(SET, models, methods, targets=...)`` writes per-item maps (float16 ``.npy``),
overlays, the spatial cue attribution of each trial (share of positive evidence on the object
mask, object area, enrichment), a summary per observer, method and design factor, and with
``sanity=True`` the model-parameter randomisation test of each method.  ``attribute`` is the
batch-level API.  Methods: ``occlusion`` and ``patch-evidence`` (no extra dependencies),
``integrated-gradients``, ``guided-backprop`` and ``grad-cam`` (captum, extra ``explain``).
"""

from __future__ import annotations

from .methods import CAPTUM_METHODS, METHODS, MethodOptions, attribute
from .run import ExplainResult, explain_set
from .sanity import cascade_stages, randomised, spearman
from .scores import ScoreModel, resolve_targets
from .spatial import aggregate, spatial_stats

__all__ = [
    "CAPTUM_METHODS",
    "METHODS",
    "ExplainResult",
    "MethodOptions",
    "ScoreModel",
    "aggregate",
    "attribute",
    "cascade_stages",
    "explain_set",
    "randomised",
    "resolve_targets",
    "spatial_stats",
    "spearman",
]
