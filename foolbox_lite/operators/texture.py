"""Texture-onto-shape operators: the batch's "mask" layer is the shape, a :class:`Texture` fills it.

- :class:`TextureFill` (``texture_fill``): the mask filled with the texture; background kept, blank or replaced;
- :class:`ShadedTextureFill` (``texture_shaded``): the same, modulated by the object's own luminance (and edges);
- :class:`ColourMatch` (``colour_match``): the object recoloured to a texture's colour statistics (Reinhard 2001);
- quilting and AdaIN transfer build on :class:`TextureFill` in :mod:`foolbox_lite.operators.texture_transfer`.

Each item's texture (when several are given), scale, rotation and offset are sampled from its own
generator and recorded; the item's ``cues["texture"]`` becomes the texture's label (``shape`` is kept).
Kernels live in :mod:`foolbox_lite.textures`; these classes only sample, validate and assemble.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch

from ..errors import ParameterError
from ..kernels import composite
from ..params import SpecLike, as_spec, check_number
from ..stimuli import MASK, Item, Stimuli
from ..textures.colour import COLOUR_SPACES, colour_transfer, masked_stats, to_space
from ..textures.fill import check_masks, luminance, shade
from ..textures.source import Texture, render_texture
from .base import Operator, SampleContext
from .cue_controls import NEUTRAL_BACKGROUND, NEUTRAL_SURFACE

__all__ = [
    "OPERATORS",
    "ColourMatch",
    "ShadedTextureFill",
    "TextureFill",
    "example_textures",
    "resolve_textures",
    "texture_index",
]

TextureLike = Texture | str
BACKGROUNDS = ("keep", "blank", "replace")


def resolve_textures(value: TextureLike | Sequence[TextureLike], what: str, *, size: int = 256) -> list[Texture]:
    """A texture, an asset name, or a non-empty list of them -> list of :class:`Texture`."""
    items = [value] if isinstance(value, (Texture, str)) else value
    if not isinstance(items, Sequence) or len(items) == 0:
        raise ParameterError(f"parameter {what!r} must be a Texture, an asset name or a non-empty list of them, got {value!r}")
    out = []
    for k, v in enumerate(items):
        if isinstance(v, Texture):
            out.append(v)
        elif isinstance(v, str):
            out.append(Texture.from_asset(v, size=size))
        else:
            raise ParameterError(
                f"parameter {what}[{k}] must be a Texture or an asset name, got {type(v).__name__}",
                hint="build textures with fl.textures.Texture.from_file / from_region / from_tensor",
            )
    return out


def example_textures() -> list[Texture]:
    """Two small deterministic textures (no files, no RNG) for examples and contract tests."""
    ys, xs = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    stripes = torch.sin(xs * 0.9 + ys * 0.3) * 0.5 + 0.5
    a = torch.stack([stripes, stripes * 0.6 + 0.2, 1 - stripes]) * 0.9 + 0.05
    spots = torch.cos(xs * 0.7) * torch.cos(ys * 0.7) * 0.5 + 0.5
    b = torch.stack([spots * 0.8 + 0.1, spots * 0.3 + 0.4, spots * 0.5])
    return [Texture.from_tensor(a, name="stripes", label="zebra"), Texture.from_tensor(b, name="spots", label="leopard")]


def texture_index(p: Mapping[str, Any], prefix: str, textures: list[Texture], op: str) -> int:
    k = p.get(f"{prefix}texture")
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(textures):
        raise ParameterError(f"operator {op!r}: recorded {prefix}texture index {k!r} is not one of 0..{len(textures) - 1}")
    name = p.get(f"{prefix}texture_name")
    if name is not None and name != textures[k].name:
        raise ParameterError(f"operator {op!r}: the record names texture {name!r} but texture {k} is {textures[k].name!r}",
                             hint="replay with the same textures, in the same order, as the original run")
    return k


def _pick(g: torch.Generator, n: int) -> int:
    return int(torch.randint(0, n, (1,), generator=g).item()) if n > 1 else 0


class TextureFill(Operator):
    """Fill the shape's mask with a texture (scale, rotation and offset per item); background kept, blank or replaced.

    ``texture``: a :class:`Texture`, an asset name or a list (each item picks one uniformly).
    ``scale`` (magnification of the tile, 1 = one tile pixel per image pixel) and ``angle``
    (degrees, counter-clockwise) are specs (fixed, ``(low, high)``, ``{"choice": [...]}``...);
    ``offset=True`` shifts each item's tile by a random fraction of it.  ``background``:
    ``keep`` the image, ``blank`` (``fill``: a grey level or RGB) or ``replace`` with
    ``background_texture``.  ``colour="object"`` first matches the texture's Lab mean/std
    inside the mask to the object's own (then the colour cue agrees with the shape).
    ``seam`` (``crossfade``, ``mirror``, ``none``) makes tiles periodic.  ``choose="cue"``
    gives each item the texture its ``cues["texture"]`` names (a crossed design sets it)
    instead of drawing one.
    """

    name = "texture_fill"
    differentiable = True
    needs_mask = True
    texture_arguments = ("texture", "background_texture")
    cue_controls: ClassVar[Mapping[str, str]] = {
        "shape": "the silhouette filled with a plain light-grey surface (shaded where the operator shades), "
                 "outside it the operator's blank fill, or a neutral grey when it keeps or replaces the background",
        "texture": "the texture as placed (same scale, angle, offset, colour matching) over the full frame; the mask becomes the full frame",
        "background": "only what the operator puts outside the silhouette (the image as it was, the blank fill or the background texture) over the full frame",
    }
    #: The cue this instance keeps when it makes a control twin ("" for the conflict item itself).
    _keep: str = ""

    def __init__(
        self,
        texture: TextureLike | Sequence[TextureLike],
        *,
        scale: SpecLike = 1.0,
        angle: SpecLike = 0.0,
        offset: bool = True,
        background: str = "keep",
        fill: float | Sequence[float] = 1.0,
        background_texture: TextureLike | Sequence[TextureLike] | None = None,
        colour: str = "texture",
        seam: str = "crossfade",
        choose: str = "random",
        p: float = 1.0,
    ) -> None:
        self.textures = [t.seamless(seam) for t in resolve_textures(texture, "texture")]  # type: ignore[arg-type]
        self.scale = as_spec("scale", scale, low=0.05, high=20.0)
        self.angle = as_spec("angle", angle, low=-360.0, high=360.0)
        if not isinstance(offset, bool):
            raise ParameterError(f"parameter 'offset' must be True or False, got {offset!r}")
        self.offset = offset
        if background not in BACKGROUNDS:
            raise ParameterError(f"parameter 'background' must be one of {', '.join(BACKGROUNDS)}, got {background!r}")
        self.background = background
        fills = [fill] if isinstance(fill, (int, float)) else list(fill)
        if len(fills) not in (1, 3):
            raise ParameterError(f"parameter 'fill' must be a grey level or an RGB triple in [0, 1], got {fill!r}")
        self.fill = [float(check_number(f"fill[{i}]", v, low=0.0, high=1.0)) for i, v in enumerate(fills)]
        self.bg_textures: list[Texture] = []
        if background == "replace":
            if background_texture is None:
                raise ParameterError("background='replace' needs background_texture (a Texture, an asset name or a list)")
            self.bg_textures = [t.seamless(seam) for t in resolve_textures(background_texture, "background_texture")]  # type: ignore[arg-type]
        elif background_texture is not None:
            raise ParameterError(f"background_texture is only used with background='replace', not {background!r}")
        if colour not in ("texture", "object"):
            raise ParameterError(f"parameter 'colour' must be 'texture' (its own colours) or 'object' (matched to the object's), got {colour!r}")
        self.colour = colour
        if choose not in ("random", "cue"):
            raise ParameterError(f"parameter 'choose' must be 'random' or 'cue' (the item's cues['texture'] names its texture), got {choose!r}")
        self.choose = choose
        super().__init__(p=p)

    @classmethod
    def example(cls) -> Operator:
        return cls(example_textures(), scale=(0.7, 1.5), angle=(-30.0, 30.0), background="keep")

    # ------------------------------------------------------------------ sampling
    def _choose_texture(self, g: torch.Generator, ctx: SampleContext) -> int:
        """The item's texture: drawn uniformly, or (``choose="cue"``) the one its ``cues["texture"]`` names."""
        if self.choose == "random":
            return _pick(g, len(self.textures))
        want = ctx.item.cues.get("texture")
        for k, t in enumerate(self.textures):
            if want in (t.label, t.name):
                return k
        raise ParameterError(
            f"operator {self.name!r}: item {ctx.item.id!r} has cues['texture'] = {want!r}, which names none of the textures "
            f"({', '.join(t.label for t in self.textures)})",
            hint="set each item's texture cue to one of the textures' labels, or use choose='random'",
        )

    def _draw_texture(self, g: torch.Generator, textures: list[Texture], prefix: str, k: int | None = None) -> dict[str, Any]:
        k = _pick(g, len(textures)) if k is None else k
        out: dict[str, Any] = {f"{prefix}texture": k, f"{prefix}texture_name": textures[k].name}
        out[f"{prefix}scale"] = float(self.scale.sample(g))
        out[f"{prefix}angle"] = float(self.angle.sample(g))
        if self.offset:
            out[f"{prefix}offset"] = [float(v) for v in torch.rand(2, generator=g, dtype=torch.float64).tolist()]
        else:
            out[f"{prefix}offset"] = [0.0, 0.0]
        return out

    def sample(self, g: torch.Generator, ctx: SampleContext) -> dict[str, Any]:
        params = self._draw_texture(g, self.textures, "", self._choose_texture(g, ctx))
        if self.bg_textures:
            params.update(self._draw_texture(g, self.bg_textures, "bg_"))
        return params

    # ------------------------------------------------------------------ applying
    def _render(self, stim: Stimuli, params: Sequence[Mapping[str, Any]], textures: list[Texture], prefix: str) -> torch.Tensor:
        """Each item's texture at the stimulus size ``(B, 3, H, W)``, one render call per distinct texture."""
        h, w = stim.size
        idx = [texture_index(p, prefix, textures, self.name) for p in params]
        out = None
        for k in sorted(set(idx)):
            members = [i for i, j in enumerate(idx) if j == k]
            imgs = render_texture(
                textures[k].image, h, w,
                [float(params[i][f"{prefix}scale"]) for i in members],
                [float(params[i][f"{prefix}angle"]) for i in members],
                [(float(params[i][f"{prefix}offset"][0]), float(params[i][f"{prefix}offset"][1])) for i in members],
                device=stim.device, dtype=stim.dtype,
            )
            if len(members) == len(idx):
                return imgs
            if out is None:
                out = torch.empty_like(stim.images)
            out[torch.tensor(members, device=stim.device)] = imgs
        assert out is not None
        return out

    def _outside(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        if self.background == "keep":
            return stim.images
        if self.background == "blank":
            f = torch.tensor(self.fill, dtype=stim.dtype, device=stim.device).view(1, -1, 1, 1)
            return f.expand_as(stim.images)
        return self._render(stim, params, self.bg_textures, "bg_")

    def _inside(self, stim: Stimuli, tex: torch.Tensor, params: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        """The texture as it will appear inside the mask (subclasses add shading, transfer...)."""
        if self.colour == "object":
            m = stim.mask.to(stim.dtype)
            mean, std = masked_stats(to_space(stim.images, "lab"), m)
            tex, _ = colour_transfer(tex, mean, std, mask=m, space="lab")
        return tex

    def control(self, keep: str) -> TextureFill:
        """This operator in the mode that keeps only ``keep`` (see ``cue_controls``); it replays the same records."""
        twin = copy.copy(self)
        twin._keep = keep
        return twin

    def _neutral_surface(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        """What replaces the texture inside the silhouette in a shape twin: a plain light grey."""
        return torch.full_like(stim.images, NEUTRAL_SURFACE)

    def _apply_control(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        items = self._label(stim, params)
        if self._keep == "texture":
            tex = TextureFill._inside(self, stim, self._render(stim, params, self.textures, ""), params)
            return stim.replace(images=tex, layers={**stim.layers, MASK: torch.ones_like(stim.mask)}, items=items)
        if self._keep == "background":
            return stim.replace(images=self._outside(stim, params).contiguous(), items=items)
        if self.background == "blank":
            outside = self._outside(stim, params)
        else:
            outside = torch.full_like(stim.images, NEUTRAL_BACKGROUND)
        images = composite(self._neutral_surface(stim, params), outside, stim.mask, reuse_inside=True)
        return stim.replace(images=images, items=items)

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        check_masks(stim.mask, [it.id for it in stim.items], self.name)
        if self._keep:
            return self._apply_control(stim, params)
        tex = self._inside(stim, self._render(stim, params, self.textures, ""), params)
        images = composite(tex, self._outside(stim, params), stim.mask, reuse_inside=True)  # tex is always a fresh tensor
        return stim.replace(images=images, items=self._label(stim, params))

    def _label(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> list[Item]:
        items = [it.copy() for it in stim.items]
        for it, p in zip(items, params):
            tex = self.textures[texture_index(p, "", self.textures, self.name)]
            it.cues["texture"] = tex.label
            it.sources.update(tex.sources())
            if self.bg_textures:
                bg = self.bg_textures[texture_index(p, "bg_", self.bg_textures, self.name)]
                it.cues["background"] = bg.label
                it.sources.update(bg.sources("background"))
        return items


class ShadedTextureFill(TextureFill):
    """Like :class:`TextureFill`, with the texture modulated by the object's own luminance (and edges).

    ``strength`` (spec in ``[0, 1]``) scales the shading: 0 is a flat fill; at 1 a pixel two
    standard deviations of the object's luminance darker than its mean darkens the texture
    by 76% towards black (lighter: towards white); ``edges`` (spec in
    ``[0, 1]``) darkens the texture along the object's own edges so its 3D form stays
    visible.  See :func:`foolbox_lite.textures.fill.shade`.
    """

    name = "texture_shaded"

    def __init__(
        self,
        texture: TextureLike | Sequence[TextureLike],
        *,
        strength: SpecLike = 0.8,
        edges: SpecLike = 0.0,
        background_texture: TextureLike | Sequence[TextureLike] | None = None,
        **kwargs: Any,
    ) -> None:
        self.strength = as_spec("strength", strength, low=0.0, high=1.0)
        self.edges = as_spec("edges", edges, low=0.0, high=1.0)
        super().__init__(texture, background_texture=background_texture, **kwargs)

    @classmethod
    def example(cls) -> Operator:
        return cls(example_textures(), strength=(0.5, 1.0), edges=(0.0, 0.6), scale=(0.8, 1.2), angle=(-20.0, 20.0))

    def sample(self, g: torch.Generator, ctx: SampleContext) -> dict[str, Any]:
        params = super().sample(g, ctx)
        params["strength"] = float(self.strength.sample(g))
        params["edges"] = float(self.edges.sample(g))
        return params

    def _inside(self, stim: Stimuli, tex: torch.Tensor, params: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        return self._shade(stim, super()._inside(stim, tex, params), params)

    def _neutral_surface(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        return self._shade(stim, super()._neutral_surface(stim, params), params)

    def _shade(self, stim: Stimuli, tex: torch.Tensor, params: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        strength = torch.tensor([float(p["strength"]) for p in params], dtype=stim.dtype, device=stim.device).view(-1, 1, 1, 1)
        edges = torch.tensor([float(p["edges"]) for p in params], dtype=stim.dtype, device=stim.device).view(-1, 1, 1, 1)
        return shade(tex, luminance(stim.images), stim.mask, strength, edges)


class ColourMatch(Operator):
    """Recolour the object (inside the mask) to a texture's colour statistics (Reinhard et al. 2001).

    The object's per-channel mean/std in ``space`` (``lab`` or ``lalphabeta``) inside the
    mask move towards the texture's by ``strength`` (spec in ``[0, 1]``); the background is
    kept.  Sets ``cues["colour"]`` to the texture's label.  Out-of-gamut colours are clipped
    to ``[0, 1]`` (see :func:`foolbox_lite.textures.colour.colour_transfer`).  On the CPU in
    float32 without autograd, Lab conversions use OpenCV (fast path); otherwise kornia.
    """

    name = "colour_match"
    differentiable = True
    needs_mask = True
    texture_arguments = ("texture",)

    def __init__(self, texture: TextureLike | Sequence[TextureLike], *, space: str = "lab", strength: SpecLike = 1.0, p: float = 1.0) -> None:
        self.textures = resolve_textures(texture, "texture")
        if space not in COLOUR_SPACES:
            raise ParameterError(f"parameter 'space' must be one of {', '.join(COLOUR_SPACES)}, got {space!r}")
        self.space = space
        self.strength = as_spec("strength", strength, low=0.0, high=1.0)
        self._stats = [masked_stats(to_space(t.image[None].double(), space), None) for t in self.textures]  # type: ignore[arg-type]
        super().__init__(p=p)

    @classmethod
    def example(cls) -> Operator:
        return cls(example_textures(), strength=(0.5, 1.0))

    def sample(self, g: torch.Generator, ctx: SampleContext) -> dict[str, Any]:
        k = _pick(g, len(self.textures))
        return {"texture": k, "texture_name": self.textures[k].name, "strength": float(self.strength.sample(g))}

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        check_masks(stim.mask, [it.id for it in stim.items], self.name)
        idx = [texture_index(p, "", self.textures, self.name) for p in params]
        mean = torch.cat([self._stats[k][0] for k in idx]).to(stim.device, stim.dtype)
        std = torch.cat([self._stats[k][1] for k in idx]).to(stim.device, stim.dtype)
        s = torch.tensor([float(p["strength"]) for p in params], dtype=stim.dtype, device=stim.device).view(-1, 1, 1, 1)
        m = stim.mask.to(stim.dtype)
        rgb, _ = colour_transfer(stim.images, mean, std, mask=m, space=self.space, strength=s, fast=True)  # type: ignore[arg-type]
        items = [it.copy() for it in stim.items]
        for it, k in zip(items, idx):
            it.cues["colour"] = self.textures[k].label
            it.sources.update(self.textures[k].sources("colour"))
        return stim.replace(images=composite(rgb, stim.images, m), items=items)


OPERATORS: tuple[type[Operator], ...] = (TextureFill, ShadedTextureFill, ColourMatch)
