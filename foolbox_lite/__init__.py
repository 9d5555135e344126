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

from . import ops
from ._version import __version__
from .assets.io import load_image, load_mask, save_image
from .controls import control_twins
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
    "control_twins",
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
