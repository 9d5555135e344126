"""Texture sources and texture-onto-shape kernels (issue 3).

- :mod:`.source`: :class:`Texture` (from a file, a photo region, the asset bank or a
  tensor), seamless tiling and rendering with scale, rotation and offset;
- :mod:`.colour`: colour-statistics matching (Reinhard et al. 2001) in Lab or lαβ;
- :mod:`.fill`: masked and shading-preserving fills;
- :mod:`.quilting`: patch-based texture transfer (Efros & Freeman 2001);
- :mod:`.adain`: optional neural style transfer with user-supplied AdaIN weights.

The operators built on them are in :mod:`foolbox_lite.operators.texture`.
"""

from __future__ import annotations

from .source import MIN_TEXTURE_SIDE, Texture, inscribed_box, make_seamless, render_texture

__all__ = ["MIN_TEXTURE_SIDE", "Texture", "inscribed_box", "make_seamless", "render_texture"]
