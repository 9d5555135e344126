"""Texture transfer that re-renders the object rather than filling it: both build on :class:`TextureFill`.

- :class:`QuiltTransfer` (``texture_quilt``): the object's luminance rendered with patches of the texture
  (Efros & Freeman 2001), see :mod:`foolbox_lite.textures.quilting`;
- :class:`AdaINTransfer` (``texture_adain``): neural style transfer with user-supplied weights
  (:mod:`foolbox_lite.textures.adain`).

Texture choice, placement, background and colour work as in :class:`TextureFill`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch

from ..errors import ParameterError
from ..kernels import composite
from ..params import SpecLike, as_spec, check_number
from ..seeding import draw_seed
from ..stimuli import Stimuli
from ..textures.adain import WeightsLike, load_adain_weights, random_adain_weights, style_transfer
from ..textures.fill import check_masks, luminance
from ..textures.quilting import quilt_transfer
from .base import Operator, SampleContext
from .texture import TextureFill, TextureLike, example_textures, texture_index

__all__ = ["OPERATORS", "AdaINTransfer", "QuiltTransfer"]


class QuiltTransfer(TextureFill):
    """The object's luminance rendered with patches of the texture (image quilting, Efros & Freeman 2001).

    ``patch`` and ``overlap`` (pixels), ``alpha`` (weight of the overlap error against the
    luminance-correspondence error, in ``[0, 1]``), ``candidates`` (each patch is drawn
    uniformly among this many best matches, with the item's recorded seed), ``stride``
    (spacing of the candidate patches in the texture) and ``max_texture_side`` (textures
    are downsized to it: the cost grows with the number of candidates).  Background and
    ``colour`` as :class:`TextureFill`.  See :func:`foolbox_lite.textures.quilting.quilt_transfer`.
    """

    name = "texture_quilt"
    differentiable = False
    #: No control twins: quilting renders the object's own luminance, so shape and texture cannot be separated here.
    cue_controls: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        texture: TextureLike | Sequence[TextureLike],
        *,
        patch: int = 12,
        overlap: int = 3,
        alpha: float = 0.5,
        candidates: int = 4,
        stride: int = 2,
        max_texture_side: int = 96,
        background_texture: TextureLike | Sequence[TextureLike] | None = None,
        **kwargs: Any,
    ) -> None:
        self.patch = int(check_number("patch", patch, low=4, high=32, integer=True))
        self.overlap = int(check_number("overlap", overlap, low=1, high=self.patch // 2, integer=True))
        self.alpha = float(check_number("alpha", alpha, low=0.0, high=1.0))
        self.candidates = int(check_number("candidates", candidates, low=1, high=64, integer=True))
        self.stride = int(check_number("stride", stride, low=1, high=self.patch, integer=True))
        self.max_texture_side = int(check_number("max_texture_side", max_texture_side, low=self.patch, high=1024, integer=True))
        for k in ("scale", "angle", "offset", "seam"):
            if k in kwargs:
                raise ParameterError(f"texture_quilt takes no {k!r}: patches are copied from the texture as it is")
        super().__init__(texture, seam="none", background_texture=background_texture, **kwargs)
        self.textures = [t.limited(self.max_texture_side) for t in self.textures]
        for t in self.textures:
            if min(t.size) < self.patch:
                raise ParameterError(f"texture {t.name!r} is {t.size[1]}x{t.size[0]}, smaller than one {self.patch}x{self.patch} patch",
                                     hint="use a larger texture or a smaller patch")

    @classmethod
    def example(cls) -> Operator:
        return cls(example_textures(), patch=6, overlap=2, candidates=3, stride=1)

    def sample(self, g: torch.Generator, ctx: SampleContext) -> dict[str, Any]:
        k = self._choose_texture(g, ctx)
        params: dict[str, Any] = {"texture": k, "texture_name": self.textures[k].name, "seed": draw_seed(g)}
        if self.bg_textures:
            params.update(self._draw_texture(g, self.bg_textures, "bg_"))
        return params

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        check_masks(stim.mask, [it.id for it in stim.items], self.name)
        idx = [texture_index(p, "", self.textures, self.name) for p in params]
        lum = luminance(stim.images.detach())
        tex = torch.empty_like(stim.images)
        for k in sorted(set(idx)):
            members = [i for i, j in enumerate(idx) if j == k]
            sel = torch.tensor(members, device=stim.device)
            tex[sel] = quilt_transfer(
                self.textures[k].image.to(stim.device), lum[sel], stim.mask[sel].detach(), [int(params[i]["seed"]) for i in members],
                patch=self.patch, overlap=self.overlap, alpha=self.alpha, candidates=self.candidates, stride=self.stride,
            ).to(stim.dtype)
        tex = self._inside(stim, tex, params)
        images = composite(tex, self._outside(stim, params), stim.mask, reuse_inside=True)
        return stim.replace(images=images, items=self._label(stim, params))


class AdaINTransfer(TextureFill):
    """Neural style transfer of the texture onto the object (AdaIN, Huang & Belongie 2017), inside the mask.

    ``encoder``/``decoder``: paths to (or state dicts of) the pytorch-AdaIN ``vgg_normalised.pth``
    and ``decoder.pth``; absent weights raise :class:`~foolbox_lite.errors.ModelError` saying
    what to supply (nothing is downloaded).  ``alpha`` (spec in ``[0, 1]``): content-style
    trade-off.  The style image is the texture rendered at the stimulus size with the sampled
    scale, rotation and offset; background as :class:`TextureFill`.  Items run one at a time
    so that each output is independent of the batch.
    """

    name = "texture_adain"
    differentiable = False
    #: No control twins: style transfer mixes the object's content and the texture inseparably.
    cue_controls: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        texture: TextureLike | Sequence[TextureLike],
        *,
        encoder: WeightsLike | None = None,
        decoder: WeightsLike | None = None,
        alpha: SpecLike = 1.0,
        background_texture: TextureLike | Sequence[TextureLike] | None = None,
        **kwargs: Any,
    ) -> None:
        self._enc, self._dec = load_adain_weights(encoder, decoder)
        self.alpha = as_spec("alpha", alpha, low=0.0, high=1.0)
        super().__init__(texture, background_texture=background_texture, **kwargs)

    @classmethod
    def example(cls) -> Operator:
        enc, dec = random_adain_weights(0)
        return cls(example_textures(), encoder=enc, decoder=dec, alpha=(0.5, 1.0), scale=(0.8, 1.2))

    def sample(self, g: torch.Generator, ctx: SampleContext) -> dict[str, Any]:
        params = super().sample(g, ctx)
        params["alpha"] = float(self.alpha.sample(g))
        return params

    def _inside(self, stim: Stimuli, tex: torch.Tensor, params: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        tex = super()._inside(stim, tex, params)
        with torch.no_grad():
            outs = [style_transfer(stim.images[i:i + 1], tex[i:i + 1], self._enc, self._dec, float(params[i]["alpha"]))
                    for i in range(len(stim))]
        return torch.cat(outs)


OPERATORS: tuple[type[Operator], ...] = (QuiltTransfer, AdaINTransfer)
