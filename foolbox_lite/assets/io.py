"""Reading and writing images and masks: the one loader every entry point uses.

Images are float tensors ``(3, H, W)`` in ``[0, 1]``; masks are ``(1, H, W)`` in
``[0, 1]`` (1 = object).  PNG output is lossless and deterministic, so the same
tensor always gives the same file bytes.

One rule for every reader (``Stimuli.from_files``, recipe assets, image folders, the
bank, the evaluator): EXIF orientation applied, 16-bit greys scaled to 8 bits,
transparency (an alpha band or a palette's transparent index) is the object mask,
images are resampled bicubically and masks bilinearly (:func:`fit_image_u8`,
:func:`fit_mask_u8`, :func:`load_image_and_mask`).  The evaluator's full-size decode
(:func:`decode_rgb_u8`) takes a faster OpenCV path for the 8-bit RGB PNGs builds write.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import AssetError, InputError
from ..files import atomic_open
from ..stimulus_set.safe_paths import not_a_file

__all__ = [
    "Fit",
    "MaskMode",
    "MAX_PIXELS",
    "OwnMask",
    "decode_rgb_hwc",
    "decode_rgb_u8",
    "fit_image_u8",
    "fit_mask_u8",
    "has_alpha",
    "load_image_and_mask",
    "read_image_and_mask",
    "fit_image_and_mask",
    "read_pil",
    "load_image",
    "load_mask",
    "mask_from_pil",
    "pil_to_tensor",
    "tensor_to_pil",
    "to_uint8",
    "save_image",
    "fit_pil",
]

PathLike = Union[str, os.PathLike]
Fit = Literal["resize", "crop", "pad"]
MaskMode = Literal["auto", "alpha", "dark", "light", "gray"]
#: Where an image without a mask file gets its mask: ``alpha`` only from its transparency,
#: ``always`` from its pixels by the mask mode (a silhouette), ``never`` none.
OwnMask = Literal["alpha", "always", "never"]

#: Images larger than this many pixels are refused before decoding (PIL's own bomb guard stays on too).
MAX_PIXELS = 64_000_000


def read_pil(path: PathLike) -> Image.Image:
    """Open and fully decode an image file, with a clear error for missing, unreadable or truncated files."""
    p = Path(path)
    if not p.is_file():
        raise AssetError(f"image file {str(p)!r} {not_a_file(p)}", hint="check the path (relative paths are resolved from the current folder or the recipe's folder)")
    try:
        with Image.open(p) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise InputError(
                    f"image {str(p)!r} is {w}x{h} = {w * h} pixels, over the limit of {MAX_PIXELS}",
                    hint="downscale it first; the limit protects memory",
                )
            im.load()
            return _upright_8bit(im)
    except InputError:
        raise
    except Image.DecompressionBombError as exc:
        raise AssetError(f"image file {str(p)!r} is too large to decode safely: {exc}", hint="downscale it first; the limit protects memory") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise AssetError(f"image file {str(p)!r} cannot be read: {exc}", hint="is it a complete PNG or JPEG?") from exc


#: PIL modes of 16-bit (and 32-bit integer) greyscale images, which ``convert("L")`` would clip at 255.
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _upright_8bit(im: Image.Image) -> Image.Image:
    """A decoded image as the viewer sees it: EXIF orientation applied, 16-bit greys scaled (not clipped) to 8 bits."""
    from PIL import ImageOps

    # ``im`` is loaded: leaving ``with Image.open`` closes only its file, so it is returned as it is (no copy)
    out = ImageOps.exif_transpose(im) if im.getexif().get(0x0112, 1) != 1 else im
    if out.mode in _WIDE_MODES:
        arr = np.asarray(out, dtype=np.float64)
        top = 65535.0 if out.mode.startswith("I;16") or arr.max(initial=0) <= 65535 else float(2**31 - 1)
        out = Image.fromarray(np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8), mode="L")
    return out


def pil_to_tensor(im: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float32 ``(3, H, W)`` in ``[0, 1]``."""
    arr = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    return torch.from_numpy(arr).permute(2, 0, 1).float().div_(255.0)


def to_uint8(t: torch.Tensor) -> torch.Tensor:
    """Float ``[0, 1]`` -> uint8 by rounding half to even (``round``), clamped; the same on every machine."""
    if not torch.isfinite(t).all():
        raise InputError("image has non-finite values (NaN or inf); cannot be saved")
    return t.detach().to("cpu", torch.float32).clamp(0, 1).mul(255.0).round_().to(torch.uint8)


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """``(3, H, W)`` or ``(1, H, W)`` or ``(H, W)`` float in ``[0, 1]`` -> PIL image (RGB or L)."""
    if t.dim() == 2:
        t = t.unsqueeze(0)
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise InputError(f"expected an image of shape (3, H, W), (1, H, W) or (H, W), got {tuple(t.shape)}")
    arr = to_uint8(t).permute(1, 2, 0).numpy()
    if arr.shape[2] == 1:
        return Image.fromarray(arr[:, :, 0], mode="L")
    return Image.fromarray(np.ascontiguousarray(arr), mode="RGB")


def save_image(t: torch.Tensor, path: PathLike) -> Path:
    """Save an image tensor as PNG (or JPEG by suffix), atomically: a temp file renamed into place."""
    p = Path(path)
    im = tensor_to_pil(t)
    fmt = "JPEG" if p.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    with atomic_open(p) as fh:
        if fmt == "PNG":
            im.save(fh, format="PNG", compress_level=6)
        else:
            im.save(fh, format="JPEG", quality=95)
    return p


def fit_pil(im: Image.Image, size: int | tuple[int, int], fit: Fit, *, resample: int = Image.BICUBIC, fill: int | tuple[int, ...] = 0) -> Image.Image:
    """Bring an image to ``size`` (an int for square, or ``(H, W)``).

    ``resize`` stretches; ``crop`` scales the short side and centre-crops; ``pad``
    scales the long side and pads with ``fill`` (letterbox).
    """
    h, w = (size, size) if isinstance(size, int) else size
    if h <= 0 or w <= 0:
        raise InputError(f"size must be positive, got {size!r}")
    iw, ih = im.size
    if fit == "resize":
        return im.resize((w, h), resample)
    if fit == "crop":
        s = max(w / iw, h / ih)
        nw, nh = max(w, round(iw * s)), max(h, round(ih * s))
        im = im.resize((nw, nh), resample)
        left, top = (nw - w) // 2, (nh - h) // 2
        return im.crop((left, top, left + w, top + h))
    if fit == "pad":
        s = min(w / iw, h / ih)
        nw, nh = max(1, round(iw * s)), max(1, round(ih * s))
        im = im.resize((nw, nh), resample)
        canvas = Image.new(im.mode, (w, h), fill)
        canvas.paste(im, ((w - nw) // 2, (h - nh) // 2))
        return canvas
    raise InputError(f"fit must be one of 'resize', 'crop', 'pad', got {fit!r}")


def has_alpha(im: Image.Image) -> bool:
    """Whether the image carries transparency: an alpha band or a palette's transparent index."""
    return "A" in im.getbands() or (im.mode == "P" and "transparency" in im.info)


def mask_from_pil(im: Image.Image, mode: MaskMode = "auto") -> Image.Image:
    """The object mask of an image as an ``L`` image (255 = object).

    ``alpha``: the alpha channel; ``dark``: dark pixels are the object (a black
    silhouette on white); ``light``: light pixels are the object; ``gray``: the
    grey levels as they are; ``auto``: alpha if present, else ``dark`` when the
    border is mostly light, else ``gray``.
    """
    gray: Image.Image | None = None
    if mode == "auto":
        if has_alpha(im):
            mode = "alpha"
        else:
            gray = im.convert("L")
            g = np.asarray(gray, dtype=np.float32)
            border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
            mode = "dark" if border.mean() > 127 else "gray"
    if mode == "alpha":
        rgba = im.convert("RGBA")
        return rgba.getchannel("A")
    gray = im.convert("L") if gray is None else gray
    if mode == "dark":
        from PIL import ImageChops

        return ImageChops.invert(gray)  # 255 - v
    if mode in ("light", "gray"):
        return gray
    raise InputError(f"mask mode must be one of auto, alpha, dark, light, gray, got {mode!r}")


def _pil_u8(im: Image.Image) -> torch.Tensor:
    arr = np.asarray(im, dtype=np.uint8)  # a read-only view of the image's bytes
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(np.array(arr.transpose(2, 0, 1), order="C"))  # one writable copy, (C, H, W)


def fit_image_u8(im: Image.Image, size: int | tuple[int, int] | None = None, fit: Fit = "resize") -> torch.Tensor:
    """uint8 ``(3, H, W)`` of an image brought to ``size`` (bicubic; ``None`` keeps its size)."""
    rgb = im if im.mode == "RGB" else im.convert("RGB")
    return _pil_u8(rgb if size is None else fit_pil(rgb, size, fit))


def fit_mask_u8(mask: Image.Image, size: int | tuple[int, int] | None = None, fit: Fit = "resize") -> torch.Tensor:
    """uint8 ``(1, H, W)`` of an ``L`` mask brought to ``size`` (bilinear, so soft edges stay soft and in range)."""
    return _pil_u8(mask if size is None else fit_pil(mask, size, fit, resample=Image.BILINEAR))


def read_image_and_mask(path: PathLike, mask_path: PathLike | None = None) -> tuple[Image.Image, Image.Image | None]:
    """Decode an image and its mask file (if any), refusing a mask whose size differs from the image's."""
    im = read_pil(path)
    mim = None if mask_path is None else read_pil(mask_path)
    if mim is not None and mim.size != im.size:
        raise AssetError(
            f"mask {str(mask_path)!r} is {mim.size[0]}x{mim.size[1]} but image {str(path)!r} is {im.size[0]}x{im.size[1]}",
            hint="a mask must have the size of its image",
        )
    return im, mim


def fit_image_and_mask(
    im: Image.Image, mask_im: Image.Image | None, size: int | tuple[int, int] | None = None, fit: Fit = "resize", mask_mode: MaskMode = "auto", own_mask: OwnMask = "alpha"
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(image uint8 (3, H, W), mask uint8 (1, H, W) or None)`` of decoded images (see :func:`load_image_and_mask`)."""
    m: Image.Image | None
    if mask_im is not None:
        m = mask_from_pil(mask_im, mask_mode)
    elif own_mask == "always" or (own_mask == "alpha" and has_alpha(im)):
        m = mask_from_pil(im, mask_mode)
    elif own_mask in ("alpha", "never"):
        m = None
    else:
        raise InputError(f"own_mask must be one of 'alpha', 'always', 'never', got {own_mask!r}")
    return fit_image_u8(im, size, fit), None if m is None else fit_mask_u8(m, size, fit)


def load_image_and_mask(
    path: PathLike, mask_path: PathLike | None = None, size: int | tuple[int, int] | None = None, fit: Fit = "resize", mask_mode: MaskMode = "auto", own_mask: OwnMask = "alpha"
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The one image + mask loader: ``(image uint8 (3, H, W), mask uint8 (1, H, W) or None)`` at ``size``.

    The mask comes from ``mask_path`` read by ``mask_mode`` (see :func:`mask_from_pil`);
    without one, from the image itself as ``own_mask`` says (by default only when it is
    transparent).  Images are resampled bicubically, masks bilinearly.
    """
    im, mim = read_image_and_mask(path, mask_path)
    return fit_image_and_mask(im, mim, size, fit, mask_mode, own_mask)


def load_image(path: PathLike, size: int | tuple[int, int] | None = None, fit: Fit = "resize") -> torch.Tensor:
    """Load an image file as float32 ``(3, H, W)`` in ``[0, 1]``, optionally brought to ``size``."""
    return fit_image_u8(read_pil(path), size, fit).float().div_(255.0)


def load_mask(path: PathLike, size: int | tuple[int, int] | None = None, fit: Fit = "resize", mode: MaskMode = "auto") -> torch.Tensor:
    """Load a mask file as float32 ``(1, H, W)`` in ``[0, 1]`` (see :func:`mask_from_pil` for ``mode``)."""
    return fit_mask_u8(mask_from_pil(read_pil(path), mode), size, fit).float().div_(255.0)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _decode_rgb8_png(path: Path) -> np.ndarray | None:
    """``(H, W, 3)`` RGB of an 8-bit RGB PNG (what builds write) decoded by OpenCV, else ``None``.

    PNG is lossless, so these are PIL's pixels exactly; OpenCV decodes them 1.3-1.5x faster.
    Other files and PNG types (grey, palette, alpha, 16-bit) are left to PIL.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return _decode_rgb8_png_bytes(data)


def _decode_rgb8_png_bytes(data: bytes) -> np.ndarray | None:
    import cv2

    if len(data) < 33 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR" or data[24] != 8 or data[25] != 2:
        return None
    if int.from_bytes(data[16:20], "big") * int.from_bytes(data[20:24], "big") > MAX_PIXELS:
        return None  # PIL's reader gives the clear error
    if hasattr(cv2, "IMREAD_COLOR_RGB"):  # OpenCV >= 4.10 writes RGB directly: no second pass over the pixels
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def decode_rgb_hwc(path: PathLike) -> np.ndarray:
    """uint8 ``(H, W, 3)`` RGB of an image file at its own size (writable): the fast path of :func:`fit_image_u8` (same pixels)."""
    arr = _decode_rgb8_png(Path(path))
    if arr is None:
        arr = np.array(read_pil(path).convert("RGB"), dtype=np.uint8)  # a writable copy
    return arr


def decode_rgb_hwc_bytes(data: bytes, path: PathLike) -> np.ndarray:
    """:func:`decode_rgb_hwc` of a file's bytes already read (``path`` names it in errors)."""
    arr = _decode_rgb8_png_bytes(data)
    return arr if arr is not None else decode_rgb_hwc(path)  # not an 8-bit RGB PNG (builds write only those): PIL, from the file


def decode_rgb_u8(path: PathLike) -> torch.Tensor:
    """uint8 ``(3, H, W)`` of an image file at its own size (a view of :func:`decode_rgb_hwc`)."""
    return torch.from_numpy(decode_rgb_hwc(path)).permute(2, 0, 1)


def _as_list(x: PathLike | Sequence[PathLike]) -> list[PathLike]:
    return [x] if isinstance(x, (str, os.PathLike)) else list(x)
