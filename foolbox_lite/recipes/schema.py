"""The recipe schema (version 1), validated with pydantic.

A recipe describes a whole stimulus set: its seed and image size, the named
assets it draws from, the factors of the design, the pipeline of operators,
the cue labels every item carries and the models ``run`` evaluates with::

    schema: 1
    name: zebra-toilet-seat
    seed: 7
    size: 224
    assets:
      seat: {builtin: toilet_seat}
      zebra: {builtin: zebra}
    design:
      cross: {shape: {assets: seat}, texture: {assets: zebra}, angle: [0, 90]}
    pipeline:
      - texture: {texture: {factor: texture}}
      - rotate: {angle: {factor: angle}}
    cues:
      shape: {factor: shape}
      texture: {factor: texture}

Unknown keys are errors (the loader names the nearest valid key); the pipeline's
operator parameters are checked against the registered operators by the builder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, field_validator, model_validator

__all__ = [
    "MAX_SIZE",
    "RECIPE_SCHEMA",
    "AssetSpec",
    "CueSpec",
    "Design",
    "FactorSpec",
    "Recipe",
]

#: The recipe schema version this package reads.
RECIPE_SCHEMA = 1
#: Largest image side accepted (refused rather than exhausting memory).
MAX_SIZE = 2048

Scalar = Union[StrictInt, float, str, bool]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssetSpec(_Strict):
    """One named asset or group of assets; exactly one source key is given.

    - ``builtin``: names from the built-in asset bank (a name, a list, or ``"kind:*"``);
    - ``files``: paths or globs relative to the recipe file (``..`` allowed, shown in the lock file);
    - ``skimage``: a photo shipped with scikit-image (``astronaut``, ``chelsea``, ``coffee``...);
    - ``procedural``: a generator of this package (``checkerboard``, ``stripes``, ``value_noise``, ``disc``);
    - ``source``: a segmentation or generation backend, one of ``rembg``, ``grabcut``, ``threshold``,
      ``diffusers`` with its fields, e.g. ``source: {rembg: {model: u2netp, image: cat.jpg}}``
      (``image`` relative to the recipe file; model hashes go into the lock file).
    """

    builtin: str | list[str] | None = None
    files: str | list[str] | None = None
    skimage: str | None = None
    procedural: str | None = None
    source: dict[str, dict[str, Any]] | None = None
    masks: str | list[str] | None = Field(None, description="mask files matching `files` one to one (sorted)")
    kind: Literal["shape", "texture", "background", "photo"] | None = None
    mask: Literal["auto", "alpha", "dark", "light", "gray", "none"] = "auto"
    fit: Literal["resize", "crop", "pad"] = "resize"
    label: str | None = None
    label_from: Literal["parent", "stem", "stem_prefix", "stem_letters"] | None = None
    licence: str | None = None
    provenance: str | None = None
    citation: str | None = None
    params: dict[str, Scalar] = Field(default_factory=dict)
    #: cut a texture out of a photo (files, skimage): a box ``[x0, y0, x1, y1]`` in its pixels
    #: (end exclusive), or ``mask``: the largest rectangle inside the object's mask
    region: tuple[StrictInt, StrictInt, StrictInt, StrictInt] | Literal["mask"] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> AssetSpec:
        given = [k for k in ("builtin", "files", "skimage", "procedural", "source") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of builtin, files, skimage, procedural, source (got {', '.join(given) or 'none'})")
        if self.source is not None and len(self.source) != 1:
            raise ValueError(f"source names exactly one backend (rembg, grabcut, threshold, diffusers), got {sorted(self.source)}")
        if self.masks is not None and self.files is None:
            raise ValueError("masks goes with files")
        if self.label is not None and self.label_from is not None:
            raise ValueError("give label or label_from, not both")
        if self.region is not None:
            if self.files is None and self.skimage is None:
                raise ValueError("region cuts a texture out of photos: it goes with files or skimage")
            if self.region != "mask":
                x0, y0, x1, y1 = self.region
                if min(x0, y0) < 0 or x1 <= x0 or y1 <= y0:
                    raise ValueError(f"region must be [x0, y0, x1, y1] with 0 <= x0 < x1 and 0 <= y0 < y1 (pixels, end exclusive), got {list(self.region)}")
        return self


class FactorSpec(_Strict):
    """The levels of one factor: plain values (``[0, 90]``) or assets (``{assets: zebra}``)."""

    values: list[Scalar] | None = None
    assets: str | list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        if isinstance(data, list):
            return {"values": data}
        return data

    @model_validator(mode="after")
    def _one(self) -> FactorSpec:
        if (self.values is None) == (self.assets is None):
            raise ValueError("a factor is a list of values or {assets: NAME or [NAMES]}")
        if self.values is not None and not self.values:
            raise ValueError("a factor needs at least one level")
        if isinstance(self.assets, list) and not self.assets:
            raise ValueError("a factor needs at least one asset")
        return self

    def asset_names(self) -> list[str]:
        if self.assets is None:
            return []
        return [self.assets] if isinstance(self.assets, str) else list(self.assets)


class Design(_Strict):
    """Which items the set holds: a full crossing of factors, or ``n`` random draws of them.

    Items are numbered 0..N-1 in a fixed order (crossing: the first factor varies
    slowest; ``repeat`` copies each cell, each copy with its own random draws).
    ``base`` names the factor whose asset gives each item's image and mask.
    """

    cross: dict[str, FactorSpec] | None = None
    random: dict[str, FactorSpec] | None = None
    n: StrictInt | None = Field(None, ge=1, le=10_000_000)
    repeat: StrictInt = Field(1, ge=1, le=100_000)
    base: str = "shape"

    @model_validator(mode="after")
    def _one(self) -> Design:
        if (self.cross is None) == (self.random is None):
            raise ValueError("give cross (a full crossing) or random with n (random draws)")
        if self.random is not None and self.n is None:
            raise ValueError("random draws need n, the number of items")
        if self.cross is not None and self.n is not None:
            raise ValueError("n goes with random; a crossing has one item per cell (times repeat)")
        factors = self.factors
        if not factors:
            raise ValueError("the design has no factors")
        if self.base not in factors:
            raise ValueError(f"base factor {self.base!r} is not a factor of the design ({', '.join(factors)})")
        if not factors[self.base].asset_names():
            raise ValueError(f"base factor {self.base!r} must list assets (images), e.g. {{assets: shapes}}")
        return self

    @property
    def factors(self) -> dict[str, FactorSpec]:
        return dict(self.cross if self.cross is not None else self.random or {})


class CueSpec(_Strict):
    """Where a cue label comes from: a literal label, a factor's asset, or an operator that sets it."""

    label: str | None = None
    factor: str | None = None
    op: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"label": data}
        return data

    @model_validator(mode="after")
    def _one(self) -> CueSpec:
        if sum(x is not None for x in (self.label, self.factor, self.op)) != 1:
            raise ValueError("a cue is a label, {factor: NAME} or {op: OPERATOR}")
        return self


class ExperimentSpec(_Strict):
    """Timing of the human experiment (``export --format jspsych``); options given to the export win."""

    stimulus_ms: StrictInt = Field(200, ge=1, le=60_000)
    mask_ms: StrictInt = Field(200, ge=0, le=60_000)
    fixation_ms: StrictInt = Field(500, ge=0, le=60_000)
    practice: StrictInt = Field(4, ge=0)
    break_every: StrictInt = Field(80, ge=0)


class ExplainSpec(_Strict):
    """``explain: {method: occlusion, every: 10}``: evidence maps that ``foolbox-lite run`` adds for a sample of the set."""

    method: str | list[str] = "occlusion"
    target: str | list[str] = "decision"
    every: StrictInt = Field(1, ge=1)
    sanity: bool = False

    @field_validator("method")
    @classmethod
    def _known(cls, v: str | list[str]) -> str | list[str]:
        from ..explain.methods import METHODS

        for m in [v] if isinstance(v, str) else v:
            if m not in METHODS:
                raise ValueError(f"unknown explanation method {m!r}; valid methods: {', '.join(METHODS)}")
        return v

    @property
    def methods(self) -> list[str]:
        return [self.method] if isinstance(self.method, str) else list(self.method)

    @property
    def targets(self) -> list[str]:
        return [self.target] if isinstance(self.target, str) else list(self.target)


class Recipe(_Strict):
    """A whole recipe file, after YAML parsing."""

    schema_: Literal[1] = Field(alias="schema")
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    seed: StrictInt = Field(ge=0, le=2**63 - 1)
    size: StrictInt | tuple[StrictInt, StrictInt] = 224
    label_space: str = "imagenet1k"
    reference_cue: str = "shape"
    models: list[str] = Field(default_factory=lambda: ["efficientnet_lite0"])
    requires: list[Literal["shared"]] = Field(default_factory=list)
    #: also write each image as float32 ``.npy`` before 8-bit rounding (for perturbations below 1/255)
    sidecars: bool = False
    #: zlib level of the images' PNGs: 0 (stored, the fastest to write and read), 1 (fast, 40-60% smaller), up to 9
    png_compression: StrictInt = Field(0, ge=0, le=9)
    citation: str = ""
    assets: dict[str, AssetSpec] = Field(default_factory=dict)
    design: Design
    pipeline: list[dict[str, Any]] = Field(default_factory=list)
    cues: dict[str, CueSpec] = Field(default_factory=dict)
    #: cues that get a single-cue control twin per item (see foolbox_lite.controls and docs/recipes.md)
    controls: list[str] = Field(default_factory=list)
    #: timing of the human experiment that ``export --format jspsych`` writes
    experiment: ExperimentSpec | None = None
    #: evidence maps ``foolbox-lite run`` adds after the evaluation (not part of the stimuli)
    explain: ExplainSpec | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    #: The recipe file it was loaded from and its text (set by the loader).
    _path: Path | None = PrivateAttr(None)
    _text: str = PrivateAttr("")
    _locator: Any = PrivateAttr(None)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def folder(self) -> Path:
        """The folder relative paths are resolved from (the recipe's, or the current one)."""
        return self._path.parent if self._path is not None else Path.cwd()

    @field_validator("size", mode="before")
    @classmethod
    def _size_shape(cls, v: Any) -> Any:
        ok = (isinstance(v, int) and not isinstance(v, bool)) or (
            isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(s, int) and not isinstance(s, bool) for s in v)
        )
        if not ok:
            raise ValueError(f"size must be an integer (square) or [height, width] in pixels, got {v!r}")
        return v

    @field_validator("size")
    @classmethod
    def _size(cls, v: Any) -> Any:
        sides = (v, v) if isinstance(v, int) else v
        for s in sides:
            if s < 8:
                raise ValueError(f"image sides must be at least 8 pixels, got {s}")
            if s > MAX_SIZE:
                raise ValueError(f"image side {s} is over the limit of {MAX_SIZE} pixels (refused to protect memory)")
        return v

    @field_validator("label_space")
    @classmethod
    def _space(cls, v: str) -> str:
        from ..labels import known_label_spaces  # label spaces: imagenet1k or a registered category mapping

        if v not in known_label_spaces():
            raise ValueError(f"unknown label space {v!r}; known: {', '.join(known_label_spaces())}")
        return v

    @property
    def height_width(self) -> tuple[int, int]:
        return (self.size, self.size) if isinstance(self.size, int) else (self.size[0], self.size[1])
