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

import importlib
import os as _os
from typing import TYPE_CHECKING, Any

# OpenMP threads sleep instead of spinning while they wait for work. libgomp reads this when
# torch loads it, so it only takes effect when foolbox_lite is imported before torch (the command
# line always is); on cores shared with other processes spinning threads made simple operators
# 5x slower.  An OMP_WAIT_POLICY set by the user wins (see docs/performance.md).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Tensors of 2 MiB and more in transparent huge pages: torch reads this at its first large
# CPU allocation.  On 4 KiB pages, memory-bound operators on a (64, 3, 224, 224) batch ran at
# half speed in about half of all processes (TLB misses; docs/performance.md).  A value set
# by the user wins, and FOOLBOX_LITE_ALLOCATOR=system leaves torch's allocation as it comes.
if _os.environ.get("FOOLBOX_LITE_ALLOCATOR", "").strip().lower() != "system":
    _os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from ._version import __version__
from .errors import AssetError, FoolboxLiteError, InputError, ModelError, ParameterError

if TYPE_CHECKING:
    from . import ops
    from .assets.io import load_image, load_mask, save_image
    from .controls import control_twins
    from .operators import Operator, Transform, available_operators, build_operator, get_operator
    from .pipeline import OneOf, Pipeline
    from .stimuli import Item, Stimuli

#: names that import torch, loaded on first use so that ``foolbox-lite --version``/``--help`` stay fast
_LAZY = {
    "ops": (".ops", None),
    "load_image": (".assets.io", "load_image"),
    "load_mask": (".assets.io", "load_mask"),
    "save_image": (".assets.io", "save_image"),
    "control_twins": (".controls", "control_twins"),
    "Operator": (".operators", "Operator"),
    "Transform": (".operators", "Transform"),
    "available_operators": (".operators", "available_operators"),
    "build_operator": (".operators", "build_operator"),
    "get_operator": (".operators", "get_operator"),
    "OneOf": (".pipeline", "OneOf"),
    "Pipeline": (".pipeline", "Pipeline"),
    "Item": (".stimuli", "Item"),
    "Stimuli": (".stimuli", "Stimuli"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'foolbox_lite' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = importlib.import_module(module, __name__)
    value = value if attr is None else getattr(value, attr)
    globals()[name] = value
    return value

__all__ = [
    "__version__",
    "ops",
    "Stimuli",
    "Item",
    "Operator",
    "Transform",
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
