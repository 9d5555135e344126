"""Structure removal: patch scrambling on a grid, silhouettes from masks, edge maps.

- :class:`PatchScramble` cuts each image into an ``n x n`` grid and shuffles the patches
  (BagNet-style: keeps local texture, destroys global shape).  When ``H`` or ``W`` is not
  divisible by ``n`` the patches are ``H // n`` by ``W // n`` pixels, the grid starts at
  the top-left corner, and the leftover bottom rows and right columns (fewer than ``n``)
  stay where they are (``remainder="keep"``); ``remainder="error"`` refuses such sizes.
  Masks and every other layer are shuffled the same way.
- :class:`Silhouette` draws the mask as a black object on white (Geirhos et al. 2019).
- :class:`Edges` draws a Sobel magnitude or a Canny edge map (OpenCV or kornia) black on
  white, like the Geirhos edge stimuli.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import InputError, ParameterError
from ..params import SpecLike, Uniform, as_spec, check_number
from ..seeding import BatchDraws
from ..stimuli import Stimuli
from .base import BatchContext, Operator
from .buffers import empty_output
from .color import LUMA
from .itempool import for_items, thread_buffer
from .records import Column, Params, as_params

__all__ = ["OPERATORS", "Edges", "PatchScramble", "Silhouette", "canny_edges", "patch_scramble", "silhouette", "sobel_edges", "sobel_magnitude"]


#: CPU dtypes the copy path of :func:`patch_scramble` handles (others take the indexing path).
_NUMPY_DTYPES = (torch.float32, torch.float64, torch.float16, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)


def _segment_table(perm: np.ndarray, h: int, w: int, n: int, step: int) -> np.ndarray:
    """Offset, inside one plane and in units of ``step`` elements, of the source of every ``pw``-long segment of the grid: ``(B, n * ph, n)``.

    Output row ``y``, segment ``px`` lies in patch ``k = (y // ph) * n + px`` and comes from
    patch ``perm[k]``, the same row within the patch (``step`` divides ``w`` and ``pw``).
    """
    ph, pw = h // n, w // n
    j = np.arange(n * n)
    corner = ((j // n) * ph * w + (j % n) * pw) // step  # top-left element of each patch
    rows = (np.arange(ph) * (w // step)).reshape(1, 1, ph, 1)
    return (corner[perm].reshape(-1, n, 1, n) + rows).reshape(-1, n * ph, n)


def _segments(a: np.ndarray, offset: int, shape: tuple[int, ...], strides: tuple[int, ...], length: int) -> np.ndarray:
    """A view of ``a``'s memory as ``length``-byte records at the given byte offset and strides."""
    return np.ndarray(shape, dtype=np.dtype((np.void, length)), buffer=a, offset=offset, strides=strides)


def _scramble_by_copy(tensors: Sequence[torch.Tensor], n: int, perm: np.ndarray) -> list[torch.Tensor]:
    """:func:`patch_scramble` of CPU tensors without grad (exact: a copy of ``pw``-long row segments).

    When the grid tiles the image, every plane is ``h * w / pw`` rows of ``pw`` elements and
    the whole batch is one ``index_select`` of those rows.  Otherwise each item's segments are
    gathered with ``np.take`` on a few threads and the leftover rows and columns copied.
    Both read the source in place: staging each item in a cache-resident buffer first was
    1.3-1.6x slower on a machine whose cache holds the batch (docs/performance.md).
    """
    outs = [empty_output(t) for t in tensors]
    b, _, h, w = tensors[0].shape
    ph, pw = h // n, w // n
    gh, gw = n * ph, n * pw
    step = math.gcd(w, pw)  # every segment starts at a multiple of it
    table = _segment_table(perm, h, w, n, step).reshape(b, -1)  # (B, gh * n), the same for every plane
    if (gh, gw) == (h, w):  # tiled, so step == pw
        rows = torch.from_numpy(table).view(b, 1, -1)
        for t, out in zip(tensors, outs):
            index = (torch.arange(b * t.shape[1]).view(b, -1, 1) * (h * w // pw) + rows).view(-1)
            torch.index_select(t.detach().contiguous().view(-1, pw), 0, index, out=out.view(-1, pw))
        return outs
    srcs = [t.detach().contiguous().numpy() for t in tensors]
    dsts = [o.numpy() for o in outs]

    def work(start: int, stop: int) -> None:
        for i in range(start, stop):
            for src, dst in zip(srcs, dsts):
                c, size = src.shape[1], src.itemsize
                item = src[i]
                # the item as records: plane k, one starting every `step` elements, `pw` long
                row = _segments(item, 0, (c, (h * w - pw) // step + 1), (h * w * size, step * size), pw * size)
                for k in range(c):
                    part = _segments(dst, (i * c + k) * h * w * size, (gh, n), (w * size, pw * size), pw * size)
                    row[k].take(table[i].reshape(gh, n), out=part, mode="clip")
                dst[i, :, :gh, gw:] = item[:, :gh, gw:]
                dst[i, :, gh:, :] = item[:, gh:, :]

    for_items(work, b)
    return outs


def _scramble_torch(x: torch.Tensor, n: int, perm: torch.Tensor) -> torch.Tensor:
    """:func:`patch_scramble` by advanced indexing (differentiable, any device and dtype)."""
    b, _, h, w = x.shape
    ph, pw = h // n, w // n
    gh, gw = n * ph, n * pw
    perm = perm.to(x.device)
    out = empty_output(x)
    if gh < h:
        out[:, :, gh:, :] = x[:, :, gh:, :]
    if gw < w:
        out[:, :, :gh, gw:] = x[:, :, :gh, gw:]
    src = x[:, :, :gh, :gw].unflatten(2, (n, ph)).unflatten(4, (n, pw)).permute(0, 2, 4, 1, 3, 5)  # (B, n, n, C, ph, pw)
    dst = out[:, :, :gh, :gw].unflatten(2, (n, ph)).unflatten(4, (n, pw)).permute(0, 2, 4, 1, 3, 5)
    bi = torch.arange(b, device=x.device).view(b, 1)
    k = torch.arange(n * n, device=x.device).view(1, n * n)
    dst[bi, k // n, k % n] = src[bi, perm // n, perm % n]
    return out


def patch_scramble_many(tensors: Sequence[torch.Tensor], grid: int, perms: torch.Tensor | Sequence[Sequence[int]]) -> list[torch.Tensor]:
    """:func:`patch_scramble` of several ``(B, C_k, H, W)`` tensors (an image and its layers) with the same permutations."""
    tensors = list(tensors)
    b, _, h, w = tensors[0].shape
    n = int(grid)
    if n < 1 or n > min(h, w):
        raise InputError(f"grid {n} does not fit images of {h}x{w}", hint=f"use 1 <= grid <= {min(h, w)}")
    for t in tensors:
        if t.dim() != 4 or t.shape[0] != b or t.shape[-2:] != (h, w):
            raise InputError(f"patch_scramble expects (B, C, H, W) tensors of one batch and size, got shapes {[tuple(x.shape) for x in tensors]}")
    perm = (perms.detach().cpu().numpy() if isinstance(perms, torch.Tensor) else np.asarray(perms)).astype(np.int64).reshape(b, n * n)
    bad = np.nonzero(((perm < 0) | (perm >= n * n)).any(1))[0]
    if len(bad):
        raise InputError(f"item {bad[0]}: patch permutations must hold patch numbers 0..{n * n - 1}, got {perm[bad[0]].tolist()}")
    fast = [t.device.type == "cpu" and t.dtype in _NUMPY_DTYPES and not (torch.is_grad_enabled() and t.requires_grad) for t in tensors]
    outs: list[torch.Tensor | None] = [None] * len(tensors)
    if any(fast):
        done = _scramble_by_copy([t for t, f in zip(tensors, fast) if f], n, perm)
        for k in [k for k, f in enumerate(fast) if f]:
            outs[k] = done.pop(0)
    return [o if o is not None else _scramble_torch(t, n, torch.from_numpy(perm)) for t, o in zip(tensors, outs)]


def patch_scramble(x: torch.Tensor, grid: int, perms: torch.Tensor | Sequence[Sequence[int]]) -> torch.Tensor:
    """Shuffle the ``grid x grid`` patches of every item of ``x`` ``(B, C, H, W)``.

    ``perms`` is ``(B, grid * grid)``: output patch ``k`` (row-major) is input patch
    ``perms[i][k]``.  Leftover rows/columns when the size is not divisible stay in place.
    CPU tensors without a gradient to record are gathered with numpy item by item, others
    by torch indexing; both are exact copies of input pixels (the same bytes).
    """
    return patch_scramble_many([x], grid, perms)[0]


def silhouette(masks: torch.Tensor, *, threshold: float | None = None, fg: float = 0.0, bg: float = 1.0) -> torch.Tensor:
    """``(B, 1, H, W)`` masks -> ``(B, 3, H, W)`` images ``fg * m + bg * (1 - m)`` (black object on white)."""
    m = masks if threshold is None else (masks >= threshold).to(masks.dtype)
    if m.requires_grad and torch.is_grad_enabled():
        return _grey3(bg + (fg - bg) * m)
    out = empty_output(m, (m.shape[0], 3, *m.shape[2:]))
    if fg - bg in (-1.0, 1.0):  # m * (fg - bg) is exact, so bg + (fg - bg) * m rounds once: all three planes in one pass
        m3 = m.expand(-1, 3, -1, -1)
        return torch.sub(torch.full((), bg, dtype=m.dtype, device=m.device), m3, out=out) if fg < bg else torch.add(m3, bg, out=out)
    y = out[:, 0:1]  # no temporaries: the same arithmetic into channel 0, then copied
    torch.mul(m, fg - bg, out=y).add_(bg)
    out[:, 1:3].copy_(y.expand(-1, 2, -1, -1))
    return out


#: Fixed-point scale of the derivatives handed to ``cv2.Canny`` (int16; |Sobel| <= 4 on [0, 1] images).
CANNY_SCALE = 4096.0

#: Sobel magnitudes (of the normalised kernel, [0, 1] pixel units) at or below this are float rounding, not edges.
FLAT = 1e-6


def _luma(images: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images * w).sum(dim=1, keepdim=True)


def sobel_magnitude(luma: torch.Tensor) -> torch.Tensor:
    """``(B, 1, H, W)`` -> Sobel gradient magnitude with the normalised kernel (divided by 8), replicated borders."""
    p = torch.nn.functional.pad(luma, (1, 1, 1, 1), mode="replicate")
    h, w = luma.shape[-2:]

    def at(dy: int, dx: int) -> torch.Tensor:
        return p[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    gx = (at(-1, 1) + 2 * at(0, 1) + at(1, 1) - at(-1, -1) - 2 * at(0, -1) - at(1, -1)) / 8
    gy = (at(1, -1) + 2 * at(1, 0) + at(1, 1) - at(-1, -1) - 2 * at(-1, 0) - at(-1, 1)) / 8
    return torch.hypot(gx, gy)


def _sobel_edges_cv2(images: torch.Tensor, threshold: float | None) -> torch.Tensor:
    """:func:`sobel_edges` on the CPU, image by image with OpenCV/numpy on a few threads (equal to the torch path within 1e-5)."""
    import cv2

    src = images.detach().to(torch.float32).contiguous()
    out = torch.empty(src.shape, dtype=torch.float32)
    s_np, o_np = src.numpy(), out.numpy()
    weights = [np.float32(v) for v in LUMA]

    def work(start: int, stop: int) -> None:
        h, w = s_np.shape[2:]
        y, tmp, gx, gy = (thread_buffer(f"sobel.{name}", (h, w)) for name in ("y", "tmp", "gx", "gy"))
        for i in range(start, stop):
            r, g, b = s_np[i]  # y = r * wr + g * wg + b * wb, without temporaries
            np.add(np.multiply(r, weights[0], out=y), np.multiply(g, weights[1], out=tmp), out=y)
            np.add(y, np.multiply(b, weights[2], out=tmp), out=y)
            cv2.Sobel(y, cv2.CV_32F, 1, 0, dst=gx, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
            cv2.Sobel(y, cv2.CV_32F, 0, 1, dst=gy, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
            # numpy, not cv2.magnitude, whose last bit depended on the buffers' alignment (run-to-run differences)
            mag = np.sqrt(np.add(np.multiply(gx, gx, out=gx), np.multiply(gy, gy, out=gy), out=gx), out=gx)
            cv2.threshold(mag, FLAT, 0.0, cv2.THRESH_TOZERO, dst=mag)  # magnitudes <= FLAT are 0
            peak = float(mag.max())
            if peak > 0:
                np.divide(mag, np.float32(peak), out=mag)
            if threshold is not None:
                mag = (mag >= threshold).astype(np.float32)
            o = o_np[i]
            np.subtract(np.float32(1.0), mag, out=o[0])
            np.copyto(o[1], o[0])
            np.copyto(o[2], o[0])

    for_items(work, src.shape[0])
    return out.to(images.dtype)


def sobel_edges(images: torch.Tensor, *, threshold: float | None = None) -> torch.Tensor:
    """Black-on-white Sobel edge map ``(B, 3, H, W)`` of the luminance.

    The magnitude is divided by each item's maximum (magnitudes up to ``FLAT`` count as
    flat, so a flat image gives white); with ``threshold`` the normalised magnitude is
    binarised (edge where ``>= threshold``).
    """
    if images.device.type == "cpu":
        return _sobel_edges_cv2(images, threshold)
    mag = sobel_magnitude(_luma(images))
    mag = torch.where(mag > FLAT, mag, torch.zeros_like(mag))  # rounding noise of flat areas is no edge
    peak = mag.amax(dim=(1, 2, 3), keepdim=True)
    mag = mag / torch.where(peak > 0, peak, torch.ones_like(peak))
    if threshold is not None:
        mag = (mag >= threshold).to(images.dtype)
    return _grey3(1.0 - mag)


def _grey3(y: torch.Tensor) -> torch.Tensor:
    """``(B, 1, H, W)`` -> contiguous ``(B, 3, H, W)`` copy."""
    if y.requires_grad and torch.is_grad_enabled():
        return y.expand(y.shape[0], 3, *y.shape[2:]).contiguous()
    out = empty_output(y, (y.shape[0], 3, *y.shape[2:]))
    out.copy_(y.expand_as(out))
    return out


def canny_edges(images: torch.Tensor, *, low: float = 0.1, high: float = 0.2, sigma: float = 1.0, backend: str = "opencv") -> torch.Tensor:
    """Black-on-white Canny edges ``(B, 3, H, W)`` of the luminance.

    The luminance is blurred with a Gaussian of ``sigma`` (kernel ``2 round(2 sigma) + 1``);
    ``low``/``high`` are hysteresis thresholds on the gradient magnitude of the (unnormalised)
    3x3 Sobel kernel on [0, 1] pixel values (kornia's convention: a sharp step of height
    ``d`` has magnitude ``4 d``).  ``backend="opencv"`` (default,
    about 1000x faster on a CPU) blurs and differentiates the float luminance with OpenCV and
    runs ``cv2.Canny`` on the derivatives in fixed point (1/4096 steps, L2 gradient): the same
    result on every device, nearly the same edges as kornia.
    ``backend="kornia"`` runs ``kornia.filters.canny`` on the device, in floating point.
    """
    k = 2 * int(max(1, round(2 * sigma))) + 1
    if backend == "kornia":
        from kornia.filters import canny

        _, edges = canny(_luma(images), low_threshold=low, high_threshold=high, kernel_size=k, sigma=(sigma, sigma))
        return _grey3(1.0 - edges)
    if backend != "opencv":
        raise ParameterError(f"parameter 'backend' = {backend!r} is not one of ['opencv', 'kornia']")
    x = images.detach()
    if x.device.type == "cpu" and x.dtype == torch.float32:
        return _canny_cv2(x.contiguous(), True, low, high, sigma, k)
    luma = _luma(x).to("cpu", torch.float32).contiguous()
    return _canny_cv2(luma, False, low, high, sigma, k).to(device=images.device, dtype=images.dtype)


def _canny_cv2(src: torch.Tensor, rgb: bool, low: float, high: float, sigma: float, k: int) -> torch.Tensor:
    """The OpenCV Canny of :func:`canny_edges`, item by item on a few threads, into one ``(B, 3, H, W)`` float32 output.

    ``src`` is CPU float32: ``(B, 3, H, W)`` images when ``rgb`` (the luminance is then
    computed per item with the same float32 arithmetic as :func:`_luma`), else the luminance ``(B, 1, H, W)``.
    ``cv2.Sobel`` writes the derivatives straight to int16 in units of 1/:data:`CANNY_SCALE`
    (the float derivative times a power of two, rounded to nearest even: the same integers
    as ``np.rint(d * CANNY_SCALE)``); the edge map is drawn black on white.
    """
    import cv2

    b, _, h, w = src.shape
    out = empty_output(src, (b, 3, h, w))
    s_np, o_np = src.numpy(), out.numpy()
    weights = [np.float32(v) for v in LUMA]

    def work(start: int, stop: int) -> None:
        y, tmp, blurred = (thread_buffer(f"canny.{name}", (h, w)) for name in ("y", "tmp", "blurred"))
        dx, dy = thread_buffer("canny.dx", (h, w), np.int16), thread_buffer("canny.dy", (h, w), np.int16)
        edges, white = thread_buffer("canny.edges", (h, w), np.uint8), thread_buffer("canny.white", (h, w), bool)
        for i in range(start, stop):
            if not rgb:
                y = s_np[i, 0]
            else:  # r * wr + g * wg + b * wb, in _luma's order
                np.multiply(s_np[i, 0], weights[0], out=y)
                np.add(y, np.multiply(s_np[i, 1], weights[1], out=tmp), out=y)
                np.add(y, np.multiply(s_np[i, 2], weights[2], out=tmp), out=y)
            cv2.GaussianBlur(y, (k, k), sigma, dst=blurred, borderType=cv2.BORDER_REFLECT_101)
            # kornia's borders and scale: replicated, unnormalised 3x3 Sobel
            cv2.Sobel(blurred, cv2.CV_16S, 1, 0, dst=dx, ksize=3, scale=CANNY_SCALE, borderType=cv2.BORDER_REPLICATE)
            cv2.Sobel(blurred, cv2.CV_16S, 0, 1, dst=dy, ksize=3, scale=CANNY_SCALE, borderType=cv2.BORDER_REPLICATE)
            cv2.Canny(dx, dy, low * CANNY_SCALE, high * CANNY_SCALE, edges=edges, L2gradient=True)
            np.equal(edges, 0, out=white)  # cv2.Canny marks edges 255, the rest 0
            np.copyto(o_np[i, 0], white)
            np.copyto(o_np[i, 1], o_np[i, 0])
            np.copyto(o_np[i, 2], o_np[i, 0])

    for_items(work, b)
    return out


class PatchScramble(Operator):
    """Shuffle an ``grid x grid`` grid of patches, a permutation per item (layers follow).

    ``grid`` is an integer >= 1 (fixed, ``[a, b]`` drawn uniformly among the integers, or
    ``{"choice": [...]}``).  See the module docstring for sizes not divisible by ``grid``.
    """

    name = "patch_scramble"
    differentiable = True

    def __init__(self, grid: SpecLike = 4, *, remainder: str = "keep", p: float = 1.0) -> None:
        self._grid = as_spec("grid", grid, low=1, high=64, integer=True)
        if remainder not in ("keep", "error"):
            raise ParameterError(f"parameter 'remainder' = {remainder!r} is not one of ['keep', 'error']")
        self.remainder = remainder
        super().__init__(p=p)

    def sample_batch(self, draws: BatchDraws, ctx: BatchContext) -> dict[str, Column]:
        u = draws.uniform()
        if isinstance(self._grid, Uniform):  # uniform among the integers low..high
            lo, hi = int(self._grid.low), int(self._grid.high)
            grid = torch.clamp(lo + (u * (hi - lo + 1)).floor().long(), max=hi)
        else:
            col = self._grid.column(u)
            grid = col.long() if isinstance(col, torch.Tensor) else torch.tensor(col, dtype=torch.long)
        sizes = sorted(set(grid.tolist()))
        for n in sizes:
            if n > min(ctx.height, ctx.width):
                raise InputError(f"grid {n} does not fit images of {ctx.height}x{ctx.width}", hint=f"use grid <= {min(ctx.height, ctx.width)}")
            if self.remainder == "error" and (ctx.height % n or ctx.width % n):
                raise InputError(
                    f"images of {ctx.height}x{ctx.width} are not divisible into a {n}x{n} grid",
                    hint="resize the images or use remainder='keep' (leftover rows/columns stay in place)",
                )
        top = max(sizes, default=1) ** 2
        ranks = draws.permutations(top)  # one permutation of range(top) per item
        if len(sizes) <= 1:
            return {"grid": grid, "perm": ranks}
        # several grid sizes: item i keeps the order of its first grid_i**2 ranks among themselves
        perms = [ranks[i][ranks[i] < n * n].tolist() for i, n in enumerate(grid.tolist())]
        return {"grid": grid, "perm": perms}

    def apply(self, stim: Stimuli, params: Params | Sequence[Mapping[str, Any]]) -> Stimuli:
        params = as_params(params)
        grids = params.column("grid", dtype=torch.long, what=self.name).tolist()
        groups: dict[int, list[int]] = {}
        for i, n in enumerate(grids):
            groups.setdefault(int(n), []).append(i)
        keys = list(stim.layers)
        tensors = [stim.images] + [stim.layers[k] for k in keys]
        if len(groups) == 1:
            ((n, idx),) = groups.items()
            outs = patch_scramble_many(tensors, n, params.column("perm", dtype=torch.long, what=self.name))
        else:
            outs = [torch.empty_like(t) for t in tensors]
            for n, idx in groups.items():
                sel = [torch.as_tensor(idx, device=t.device) for t in tensors]
                parts = patch_scramble_many([t.index_select(0, s) for t, s in zip(tensors, sel)], n, [params[i]["perm"] for i in idx])
                outs = [o.index_copy(0, s, part) for o, s, part in zip(outs, sel, parts)]
        return stim.replace(images=outs[0], layers=dict(zip(keys, outs[1:])))

    @classmethod
    def example(cls) -> PatchScramble:
        return cls(grid=(2, 5))


class Silhouette(Operator):
    """Replace each image by its mask drawn black on white (``fg`` on ``bg``); soft masks give grey edges.

    ``threshold`` (optional, in (0, 1]) binarises the mask first.
    """

    name = "silhouette"
    needs_mask = True

    def __init__(self, *, threshold: float | None = None, fg: float = 0.0, bg: float = 1.0, p: float = 1.0) -> None:
        self.threshold = None if threshold is None else float(check_number("threshold", threshold, low=1e-9, high=1.0))
        self.fg = float(check_number("fg", fg, low=0.0, high=1.0))
        self.bg = float(check_number("bg", bg, low=0.0, high=1.0))
        super().__init__(p=p)

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        img = silhouette(stim.mask, threshold=self.threshold, fg=self.fg, bg=self.bg).to(stim.dtype)
        return stim.replace(images=img)

    @classmethod
    def example(cls) -> Silhouette:
        return cls(threshold=0.5)


class Edges(Operator):
    """Edge map drawn black on white: ``method="sobel"`` (normalised magnitude) or ``"canny"``.

    Canny runs through OpenCV by default (``backend="opencv"``) or kornia
    (``backend="kornia"``); see :func:`canny_edges`.  ``backend`` is ignored by Sobel.
    """

    name = "edges"

    def __init__(
        self,
        method: str = "canny",
        *,
        low: float = 0.1,
        high: float = 0.2,
        sigma: float = 1.0,
        threshold: float | None = None,
        backend: str = "opencv",
        p: float = 1.0,
    ) -> None:
        if backend not in ("opencv", "kornia"):
            raise ParameterError(f"parameter 'backend' = {backend!r} is not one of ['opencv', 'kornia']")
        self.backend = backend
        if method not in ("sobel", "canny"):
            raise ParameterError(f"parameter 'method' = {method!r} is not one of ['sobel', 'canny']")
        self.method = method
        self.low = float(check_number("low", low, low=0.0, high=1.0))
        self.high = float(check_number("high", high, low=0.0, high=1.0))
        if self.low > self.high:
            raise ParameterError(f"Canny thresholds upside down: low={low} > high={high}", hint="use low <= high")
        self.sigma = float(check_number("sigma", sigma, low=0.1, high=20.0))
        self.threshold = None if threshold is None else float(check_number("threshold", threshold, low=0.0, high=1.0))
        if method == "canny" and threshold is not None:
            raise ParameterError("parameter 'threshold' is for method='sobel'; Canny uses 'low' and 'high'")
        super().__init__(p=p)

    def apply(self, stim: Stimuli, params: Sequence[Mapping[str, Any]]) -> Stimuli:
        if self.method == "sobel":
            img = sobel_edges(stim.images, threshold=self.threshold)
        else:
            img = canny_edges(stim.images, low=self.low, high=self.high, sigma=self.sigma, backend=self.backend)
        return stim.replace(images=img)

    @classmethod
    def example(cls) -> Edges:
        return cls("canny", low=0.05, high=0.15)


OPERATORS: tuple[type[Operator], ...] = (PatchScramble, Silhouette, Edges)
