"""Procedural generators, all in one table (:data:`GENERATORS`): textures, background scenes, plain patterns.

Textures and scenes are seeded, resolution-free generators written in vectorised torch.

``generate("zebra", 224, seed=3)`` renders a ``(3, 224, 224)`` float32 image in
``[0, 1]``.  The pattern lives in continuous coordinates (the shorter side spans
one unit), so ``generate(name, 448, seed=s)`` is the same picture, sharper.
All randomness comes from a ``torch.Generator`` seeded with ``seed``; nothing
global is read or changed.

Each entry has a ``kind``: ``texture`` (the bank's ``procedural:NAME`` assets),
``background`` (``background:NAME``) or ``pattern`` (a recipe's ``procedural: NAME``, see
:mod:`.patterns`, drawn on the pixel grid with parameters).

Bump a generator's ``version`` whenever its output changes: it is part of the
asset's hash recorded in manifests.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch

from ...errors import AssetError, ParameterError
from ._field import Canvas, canvas
from .animal import cheetah, giraffe, leopard, tiger, zebra
from .backgrounds import alp, lakeside, savanna, seashore, valley
from .patterns import checkerboard, disc, stripes, value_noise
from .structure import brick, chain_mail, honeycomb, scales, wood_grain

__all__ = ["GENERATORS", "Generator", "GeneratorKind", "generate", "list_generators", "lookup", "render"]

#: ``(generator, canvas) -> (3, H, W)`` in ``[0, 1]``.
PatternFn = Callable[[torch.Generator, Canvas], torch.Tensor]
GeneratorKind = Literal["texture", "background", "pattern"]


@dataclass(frozen=True)
class Generator:
    """A procedural generator: its function, output version, one-line description and kind.

    ``fn`` is a :data:`PatternFn` for textures and backgrounds (see :func:`render`) and
    ``fn(size, **params) -> (image, mask or None)`` for patterns.
    """

    name: str
    fn: Callable[..., Any]
    version: int
    description: str
    kind: GeneratorKind = "texture"


def _reg(*gens: Generator) -> dict[str, Generator]:
    return {gen.name: gen for gen in gens}


#: Every procedural generator by name, of every kind.
GENERATORS: dict[str, Generator] = _reg(
    Generator("zebra", zebra, 1, "black wavy, branching stripes on off-white fur"),
    Generator("tiger", tiger, 1, "narrow tapered black stripes on orange fur"),
    Generator("leopard", leopard, 1, "broken black rosettes with darker centres on golden fur"),
    Generator("cheetah", cheetah, 1, "dense solid round black spots on tawny fur"),
    Generator("giraffe", giraffe, 1, "brown polygonal patches in a network of cream lines"),
    Generator("honeycomb", honeycomb, 1, "hexagonal wax cells, honey-filled, empty or capped"),
    Generator("brick", brick, 1, "running-bond red-brown brick wall with grey mortar"),
    Generator("chain_mail", chain_mail, 1, "interlinked shaded steel rings (European 4-in-1)"),
    Generator("scales", scales, 1, "overlapping keeled green reptile scales"),
    Generator("wood_grain", wood_grain, 1, "plank wood with growth rings and fibres"),
    Generator("savanna", savanna, 1, "golden grassland, wide sky with clouds, tree line and acacias", "background"),
    Generator("lakeside", lakeside, 1, "calm lake mirroring forested hills and sky, grassy shore", "background"),
    Generator("seashore", seashore, 1, "sea to the horizon, surf and foam, wet and dry sand", "background"),
    Generator("valley", valley, 1, "green valley floor between forested slopes, blue mountains behind", "background"),
    Generator("alp", alp, 1, "snow-capped jagged peaks, rocky slopes, alpine meadow", "background"),
    Generator("checkerboard", checkerboard, 1, "black and white squares (parameter: squares)", "pattern"),
    Generator("stripes", stripes, 1, "black and white stripes (parameters: period, angle)", "pattern"),
    Generator("disc", disc, 1, "a soft-edged disc with its mask (parameter: radius)", "pattern"),
    Generator("value_noise", value_noise, 1, "smooth colour noise (parameters: scale, seed)", "pattern"),
)


def list_generators(kind: GeneratorKind = "texture") -> list[str]:
    """Names of the procedural generators of ``kind`` (by default the textures)."""
    return sorted(name for name, gen in GENERATORS.items() if gen.kind == kind)


def lookup(name: str, kind: GeneratorKind = "texture") -> Generator:
    """The generator of ``kind`` called ``name``; an :class:`AssetError` naming the nearest names otherwise."""
    table = {n: g for n, g in GENERATORS.items() if g.kind == kind}
    try:
        return table[name]
    except KeyError:
        near = difflib.get_close_matches(name, list(table), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(near)}?" if near else f"known: {', '.join(sorted(table))}"
        raise AssetError(f"unknown procedural generator {name!r}", hint=hint) from None


def render(gen: Generator, size: int | tuple[int, int], seed: int = 0, device: torch.device | str = "cpu") -> torch.Tensor:
    """Render ``gen`` (a texture or background) at ``size`` (int or ``(H, W)``) with ``seed``: float32 ``(3, H, W)`` in ``[0, 1]``."""
    if gen.kind == "pattern":
        raise ParameterError(f"{gen.name!r} is a pattern: call GENERATORS[{gen.name!r}].fn(size, **params)")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ParameterError(f"seed must be an int in [0, 2**63), got {seed!r}")
    cv = canvas(size, device)
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    with torch.no_grad():
        img = gen.fn(g, cv)
    if img.shape != (3, *cv.shape) or img.dtype != torch.float32:
        raise RuntimeError(f"generator {gen.name!r} returned {tuple(img.shape)} {img.dtype}, expected (3, {cv.shape[0]}, {cv.shape[1]}) float32")
    return img.contiguous()


def generate(name: str, size: int | tuple[int, int], seed: int = 0, device: torch.device | str = "cpu") -> torch.Tensor:
    """Render the texture ``name`` at ``size`` with ``seed``: float32 ``(3, H, W)`` in ``[0, 1]``."""
    return render(lookup(name), size, seed, device)
