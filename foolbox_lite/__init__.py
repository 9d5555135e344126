"""foolbox-lite: reproducible cue-conflict and adversarial stimuli, and which cue a classifier followed.

Data flow, one subpackage each: ``assets`` -> ``operators`` -> ``pipeline`` ->
stimulus sets on disk -> evaluator -> report.

    import foolbox_lite as fl
    stim = fl.Stimuli.from_files(["cat.png"], masks=["cat_mask.png"], size=224)
    pipe = fl.Pipeline([fl.ops.Tilt(pitch=(40, 70)), fl.ops.GaussianNoise(std=0.08)], seed=7)
    out = pipe(stim)
    fl.save_image(out.images[0], "x.png")
"""

from __future__ import annotations

import os as _os

# OpenMP threads sleep instead of spinning while they wait for work. libgomp reads this when
# torch loads it, so it only takes effect when foolbox_lite is imported before torch (the command
# line always is); on cores shared with other processes spinning threads made simple operators
# 5x slower.  An OMP_WAIT_POLICY set by the user wins (see docs/performance.md).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import ops
from ._version import __version__
from .assets.io import load_image, load_mask, save_image
from .errors import AssetError, FoolboxLiteError, InputError, ModelError, ParameterError
from .operators import Operator, available_operators, build_operator, get_operator
from .pipeline import OneOf, Pipeline
from .stimuli import Item, Stimuli

__all__ = [
    "__version__",
    "ops",
    "Stimuli",
    "Item",
    "Operator",
    "Pipeline",
    "OneOf",
    "load_image",
    "load_mask",
    "save_image",
    "available_operators",
    "get_operator",
    "build_operator",
    "FoolboxLiteError",
    "InputError",
    "ParameterError",
    "AssetError",
    "ModelError",
]
