"""Procedural textures: seeded, resolution-free generators written in vectorised torch.

``generate("zebra", 224, seed=3)`` renders a ``(3, 224, 224)`` float32 image in
``[0, 1]``.  The pattern lives in continuous coordinates (the shorter side spans
one unit), so ``generate(name, 448, seed=s)`` is the same picture, sharper.
All randomness comes from a ``torch.Generator`` seeded with ``seed``; nothing
global is read or changed.

Bump a generator's ``version`` whenever its output changes: it is part of the
asset's hash recorded in manifests.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ...errors import AssetError, ParameterError
from ._field import Canvas, canvas
from .animal import cheetah, giraffe, leopard, tiger, zebra
from .structure import brick, chain_mail, honeycomb, scales, wood_grain

__all__ = ["GENERATORS", "Generator", "generate", "list_generators"]

#: ``(generator, canvas) -> (3, H, W)`` in ``[0, 1]``.
PatternFn = Callable[[torch.Generator, Canvas], torch.Tensor]


@dataclass(frozen=True)
class Generator:
    """A registered procedural generator: its function, output version and one-line description."""

    name: str
    fn: PatternFn
    version: int
    description: str


def _reg(*gens: Generator) -> dict[str, Generator]:
    return {gen.name: gen for gen in gens}


#: Every texture generator by name.  Backgrounds register theirs in :mod:`foolbox_lite.assets.backgrounds`.
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
)


def list_generators() -> list[str]:
    """Names of the procedural texture generators."""
    return sorted(GENERATORS)


def lookup(name: str, table: dict[str, Generator] | None = None) -> Generator:
    """The generator called ``name``; an :class:`AssetError` naming the nearest names otherwise."""
    table = GENERATORS if table is None else table
    try:
        return table[name]
    except KeyError:
        near = difflib.get_close_matches(name, list(table), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(near)}?" if near else f"known: {', '.join(sorted(table))}"
        raise AssetError(f"unknown procedural generator {name!r}", hint=hint) from None


def render(gen: Generator, size: int | tuple[int, int], seed: int = 0, device: torch.device | str = "cpu") -> torch.Tensor:
    """Render ``gen`` at ``size`` (int or ``(H, W)``) with ``seed``: float32 ``(3, H, W)`` in ``[0, 1]``."""
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
