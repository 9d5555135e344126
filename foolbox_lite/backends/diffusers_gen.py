"""Images from prompts with diffusers' Stable Diffusion pipelines, offline and seeded.

Entry points (all return float32 ``(3, H, W)`` in [0, 1] on the CPU):

- :func:`generate_texture`: text-to-image, optionally tileable (circular padding in
  the UNet and VAE, so the texture wraps around seamlessly);
- :func:`generate_background`: text-to-image of a scene;
- :func:`inpaint_background`: repaint everything outside an object mask so the
  object sits in a generated scene (the object's pixels are kept exactly);
- :func:`restyle_object`: repaint inside the mask (masked inpainting, or img2img)
  with a texture prompt; the silhouette and the background are kept exactly.

``model`` is a local folder written by ``save_pretrained``, a hub id, or
:data:`TINY_MODEL` (random weights built in memory: noise-like pictures, for tests
and dry runs of recipes without weights).  Hub ids are looked up only in the local
cache unless ``offline=False``: we set ``HF_HUB_OFFLINE=1`` ourselves because on a
closed network a hub lookup can hang for minutes.  Each call draws from its own
``torch.Generator`` seeded with ``seed``, one image at a time, so an item's output
depends only on its seed and inputs.  diffusers and transformers are imported lazily
(extra ``foolbox-lite[diffusers]``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError, ModelError, ParameterError
from ..params import check_number
from .model_store import USED_GENERATORS, sha256_file

__all__ = [
    "TINY_MODEL",
    "OFFLINE_ENV",
    "load_pipeline",
    "build_tiny_pipeline",
    "save_tiny_pipeline",
    "model_hashes",
    "generate_texture",
    "generate_background",
    "inpaint_background",
    "restyle_object",
]

#: Model id of a tiny random-weight pipeline built in memory (no files, no download).
TINY_MODEL = "foolbox-lite/tiny-random-sd"
#: ``FOOLBOX_LITE_OFFLINE=0`` allows hub downloads by default; anything else (or unset) keeps them off.
OFFLINE_ENV = "FOOLBOX_LITE_OFFLINE"

_PIPES: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.RLock()
_KINDS = ("text2img", "img2img", "inpaint")


# ---------------------------------------------------------------------------- imports
def _import_diffusers() -> Any:
    try:
        import diffusers
        import transformers  # noqa: F401 - the SD pipelines need it
    except ImportError as exc:
        raise ModelError(
            f"generation needs diffusers and transformers ({exc.name or exc} is missing)",
            hint='pip install "foolbox-lite[diffusers]"',
        ) from None
    diffusers.utils.logging.set_verbosity_error()
    return diffusers


# ---------------------------------------------------------------------------- tiny model
def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table (the alphabet of byte-level BPE)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def _tiny_tokenizer(folder: Path) -> Any:
    """A CLIP tokenizer over single bytes (no merges): 514 tokens, written to ``folder``."""
    from transformers import CLIPTokenizer

    chars = list(_bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": 512, "<|endoftext|>": 513})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)


def build_tiny_pipeline(seed: int = 0, *, inpainting: bool = False) -> Any:
    """A Stable Diffusion pipeline with tiny random weights (2-block UNet and VAE, 2-layer CLIP).

    ``inpainting=True`` gives an inpainting checkpoint (9-channel UNet input).
    Weights come from a local generator seeded with ``seed`` (the global RNG is saved
    and restored around the constructors, which draw from it).  Outputs are noise-like;
    it exists to test code and recipes without downloading a model.
    """
    import tempfile

    d = _import_diffusers()
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.random.fork_rng(devices=[]):
        unet = d.UNet2DConditionModel(
            block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=9 if inpainting else 4, out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=16, attention_head_dim=2, norm_num_groups=4,
        )
        vae = d.AutoencoderKL(
            block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4, sample_size=16,
            down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        )
        text = CLIPTextModel(CLIPTextConfig(
            vocab_size=514, bos_token_id=512, eos_token_id=513, pad_token_id=513, hidden_size=16, intermediate_size=32,
            num_attention_heads=2, num_hidden_layers=2, max_position_embeddings=77, projection_dim=16,
        ))
    g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for module in (unet, vae, text):
            for name, p in module.named_parameters():
                if p.dim() > 1:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.1)
                else:
                    p.fill_(1.0) if name.endswith("weight") else p.zero_()
    with tempfile.TemporaryDirectory() as tmp:
        tok = _tiny_tokenizer(Path(tmp))
    sched = d.DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    cls = d.StableDiffusionInpaintPipeline if inpainting else d.StableDiffusionPipeline
    return cls(unet=unet, vae=vae, text_encoder=text, tokenizer=tok, scheduler=sched, safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def save_tiny_pipeline(folder: str | os.PathLike[str], seed: int = 0, *, inpainting: bool = False) -> Path:
    """Build :func:`build_tiny_pipeline` and ``save_pretrained`` it to ``folder`` (a loadable local model)."""
    pipe = build_tiny_pipeline(seed, inpainting=inpainting)
    out = Path(folder)
    pipe.save_pretrained(str(out), safe_serialization=True)
    return out


# ---------------------------------------------------------------------------- loading
def _offline(offline: bool | None) -> bool:
    if offline is None:
        offline = os.environ.get(OFFLINE_ENV, "1") != "0" or os.environ.get("HF_HUB_OFFLINE") == "1"
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    return offline


def _is_folder(model: str) -> bool:
    """A local folder (existing, or written like a path); a hub id is ``owner/name``."""
    return Path(model).expanduser().is_dir() or model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


def _base_pipeline(model: str, offline: bool | None) -> Any:
    if model == TINY_MODEL:
        return build_tiny_pipeline(0)
    d = _import_diffusers()
    if not isinstance(model, str) or not model:
        raise ParameterError(f"parameter 'model' must be a folder or a hub id, got {model!r}", hint="generation needs a model: a local Stable Diffusion folder, a hub id, or TINY_MODEL for tests")
    if _is_folder(model):
        folder = Path(model).expanduser()
        if not (folder / "model_index.json").is_file():
            raise ModelError(f"model folder {str(folder)!r} has no model_index.json", hint="give a folder written by save_pretrained (a diffusers Stable Diffusion model)")
        src, local_only = str(folder), True
    else:
        src, local_only = model, _offline(offline)
    try:
        pipe = d.StableDiffusionPipeline.from_pretrained(src, local_files_only=local_only, safety_checker=None, requires_safety_checker=False)
    except (OSError, ValueError) as exc:
        if local_only and not _is_folder(model):
            raise ModelError(
                f"hub model {model!r} is not in the local Hugging Face cache and downloads are off (offline mode)",
                hint=f"download it once with {OFFLINE_ENV}=0 (or `huggingface-cli download {model}`), or give a local folder (does {model!r} exist?)",
            ) from None
        raise ModelError(f"could not load the diffusers model {model!r}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return pipe


def load_pipeline(model: str, kind: str = "text2img", *, offline: bool | None = None, device: str = "cpu") -> Any:
    """The pipeline of ``kind`` (``text2img``, ``img2img``, ``inpaint``) for ``model`` on ``device``, cached; all kinds share weights."""
    if kind not in _KINDS:
        raise ParameterError(f"pipeline kind {kind!r} is not one of {list(_KINDS)}")
    if not isinstance(model, str) or not model:
        raise ParameterError(f"parameter 'model' must be a folder or a hub id, got {model!r}", hint="generation needs a model: a local Stable Diffusion folder, a hub id, or TINY_MODEL for tests")
    with _LOCK:
        base = _PIPES.get((model, device, "text2img"))
        if base is None:
            base = _base_pipeline(model, offline)
            try:
                base.to(torch.device(device))
            except (RuntimeError, ValueError, AssertionError) as exc:
                raise ParameterError(f"parameter 'device' = {device!r} cannot be used: {exc}", hint="use 'cpu', or 'cuda' on a machine with a GPU") from None
            base.set_progress_bar_config(disable=True)
            _PIPES[(model, device, "text2img")] = base
        if kind != "inpaint" and base.unet.config.in_channels != 4:
            raise ModelError(
                f"model {model!r} is an inpainting checkpoint ({base.unet.config.in_channels}-channel UNet) and cannot do {kind}",
                hint="use it for inpaint_background / restyle_object(mode='inpaint'), or give a text-to-image model",
            )
        if kind == "text2img":
            return base
        key = (model, device, kind)
        if key not in _PIPES:
            d = _import_diffusers()
            cls = d.StableDiffusionImg2ImgPipeline if kind == "img2img" else d.StableDiffusionInpaintPipeline
            pipe = cls(**base.components)
            pipe.set_progress_bar_config(disable=True)
            _PIPES[key] = pipe
        return _PIPES[key]


def model_hashes(*models: str) -> dict[str, str]:
    """``{model: "sha256:<hex>"}`` over every weight and config file of each model (or of those used so far).

    For the lock file.  The digest covers the sorted (relative path, file sha256)
    list of a local folder or of the hub snapshot in the cache.
    """
    if not models:
        return USED_GENERATORS.all()
    out = {}
    for m in models:
        out[m] = _model_digest(m)
    return out


def _model_digest(model: str) -> str:
    if (known := USED_GENERATORS.get(model)) is not None:
        return known
    if model == TINY_MODEL:
        digest = "sha256:" + hashlib.sha256(b"foolbox-lite tiny-random-sd v1 seed 0").hexdigest()
    else:
        if _is_folder(model):
            folder = Path(model).expanduser()
        else:
            try:
                from huggingface_hub import snapshot_download

                folder = Path(snapshot_download(model, local_files_only=True))
            except Exception as exc:
                raise ModelError(f"hub model {model!r} is not in the local cache, so it cannot be hashed") from exc

        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        h = hashlib.sha256()
        for p in files:
            h.update(f"{p.relative_to(folder).as_posix()}:{sha256_file(p)}\n".encode())
        digest = "sha256:" + h.hexdigest()
    USED_GENERATORS.record(model, digest)
    return digest


# ---------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _circular(pipe: Any, enabled: bool) -> Iterator[None]:
    """Circular padding in every conv of the UNet and VAE while inside (tileable outputs)."""
    if not enabled:
        yield
        return
    convs = [m for net in (pipe.unet, pipe.vae) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    old = [c.padding_mode for c in convs]
    try:
        for c in convs:
            c.padding_mode = "circular"
        yield
    finally:
        for c, mode in zip(convs, old):
            c.padding_mode = mode


def _hw(size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    for k, v in (("height", h), ("width", w)):
        check_number(f"size.{k}", v, low=8, high=4096, integer=True)
        if int(v) % 8:
            raise ParameterError(f"parameter 'size' {k} = {v} is not a multiple of 8", hint="Stable Diffusion works on multiples of 8 (e.g. 256, 512)")
    return int(h), int(w)


def _check_strength(steps: int, strength: Any) -> None:
    check_number("strength", strength, low=0.01, high=1.0)
    if int(steps * strength) < 1:
        raise ParameterError(f"steps={steps} at strength={strength} leaves no denoising step", hint="raise steps or strength so that int(steps * strength) >= 1")


def _check_common(prompt: Any, steps: Any, seed: Any, guidance: Any) -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise ParameterError(f"parameter 'prompt' must be a non-empty string, got {prompt!r}")
    check_number("steps", steps, low=1, high=1000, integer=True)
    # check_number's integer test goes through float, which rounds 63-bit seeds: check here.
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ParameterError(f"parameter 'seed' must be an integer in [0, 2**63), got {seed!r}")
    check_number("guidance", guidance, low=0.0, high=50.0)


def _image_mask(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        raise InputError(f"image must be a tensor (3, H, W), got {getattr(image, 'shape', type(image).__name__)}")
    if not isinstance(mask, torch.Tensor) or mask.dim() != 3 or mask.shape[0] != 1 or mask.shape[1:] != image.shape[1:]:
        raise InputError(f"mask must be a tensor (1, H, W) matching the image {tuple(image.shape)}, got {getattr(mask, 'shape', type(mask).__name__)}")
    if not torch.isfinite(image).all() or not torch.isfinite(mask).all():
        raise InputError("image or mask has non-finite values")
    return image.detach().to("cpu", torch.float32).clamp(0, 1), mask.detach().to("cpu", torch.float32).clamp(0, 1)


def _work_size(h: int, w: int) -> tuple[int, int]:
    return max(8, -(-h // 8) * 8), max(8, -(-w // 8) * 8)


def _resize(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == hw:
        return x
    return torch.nn.functional.interpolate(x[None], size=hw, mode="bilinear", align_corners=False, antialias=True)[0]


@contextlib.contextmanager
def _threads_for(pipe: Any) -> Iterator[None]:
    """One intra-op thread for tiny models (< 1M UNet parameters), restored after.

    Thread hand-offs dominate such models: on two busy cores a tiny UNet step was
    measured 80x slower with 2 threads than with 1.  Real models keep the setting.
    """
    small = sum(p.numel() for p in pipe.unet.parameters()) < 1_000_000
    old = torch.get_num_threads()
    if small and old != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if small and old != 1:
            torch.set_num_threads(old)


def _run(pipe: Any, model: str, **kw: Any) -> torch.Tensor:
    _model_digest(model)
    try:
        with torch.inference_mode(), _threads_for(pipe):
            out = pipe(output_type="pt", num_images_per_prompt=1, **kw).images
    except (RuntimeError, ValueError) as exc:
        raise ModelError(f"diffusers model {model!r} failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    img = out[0].to("cpu", torch.float32).clone().clamp_(0, 1)
    if not torch.isfinite(img).all():
        raise ModelError(f"diffusers model {model!r} produced non-finite pixels", hint="try float32 weights or fewer steps")
    return img


# ---------------------------------------------------------------------------- entry points
def generate_texture(
    model: str, prompt: str, size: int | tuple[int, int] = 512, steps: int = 25, seed: int = 0, *,
    tileable: bool = False, guidance: float = 7.5, negative_prompt: str | None = None, offline: bool | None = None, device: str = "cpu",
) -> torch.Tensor:
    """A texture ``(3, H, W)`` from ``prompt``; ``tileable`` makes it wrap around seamlessly."""
    _check_common(prompt, steps, seed, guidance)
    h, w = _hw(size)
    pipe = load_pipeline(model, "text2img", offline=offline, device=device)
    with _LOCK, _circular(pipe, bool(tileable)):
        return _run(pipe, model, prompt=prompt, negative_prompt=negative_prompt, height=h, width=w, num_inference_steps=int(steps),
                    guidance_scale=float(guidance), generator=torch.Generator("cpu").manual_seed(int(seed)))


def generate_background(
    model: str, prompt: str, size: int | tuple[int, int] = 512, steps: int = 25, seed: int = 0, *,
    guidance: float = 7.5, negative_prompt: str | None = None, offline: bool | None = None, device: str = "cpu",
) -> torch.Tensor:
    """A background scene ``(3, H, W)`` from ``prompt`` (text-to-image)."""
    return generate_texture(model, prompt, size, steps, seed, tileable=False, guidance=guidance, negative_prompt=negative_prompt, offline=offline, device=device)


def inpaint_background(
    model: str, image: torch.Tensor, mask: torch.Tensor, prompt: str, steps: int = 25, seed: int = 0, *,
    strength: float = 1.0, guidance: float = 7.5, negative_prompt: str | None = None, offline: bool | None = None, device: str = "cpu",
) -> torch.Tensor:
    """Repaint around the object: ``mask`` (1 = object) is kept, the rest generated from ``prompt``.

    The pipeline's inpainting mask is ``1 - mask`` (white = repaint); the object's
    pixels are composited back exactly (soft edges blend), so only the scene changes.
    """
    _check_common(prompt, steps, seed, guidance)
    _check_strength(steps, strength)
    img, m = _image_mask(image, mask)
    gen = _inpaint(model, img, 1.0 - m, prompt, steps, seed, strength, guidance, negative_prompt, offline, device)
    return img * m + gen * (1.0 - m)


def restyle_object(
    model: str, image: torch.Tensor, mask: torch.Tensor, prompt: str, steps: int = 25, seed: int = 0, *,
    mode: str = "inpaint", strength: float = 0.75, guidance: float = 7.5, negative_prompt: str | None = None, offline: bool | None = None, device: str = "cpu",
) -> torch.Tensor:
    """Repaint the object (``mask`` = 1) with ``prompt`` (a texture), keeping its silhouette and the background.

    ``mode="inpaint"``: masked inpainting of the object region; ``"img2img"``: the whole
    image is re-rendered at ``strength`` and only the object region is taken from it.
    """
    _check_common(prompt, steps, seed, guidance)
    _check_strength(steps, strength)
    if mode not in ("inpaint", "img2img"):
        raise ParameterError(f"parameter 'mode' = {mode!r} is not one of ['inpaint', 'img2img']")
    img, m = _image_mask(image, mask)
    if mode == "inpaint":
        gen = _inpaint(model, img, m, prompt, steps, seed, strength, guidance, negative_prompt, offline, device)
        return gen * m + img * (1.0 - m)
    h, w = img.shape[-2:]
    wh = _work_size(h, w)
    pipe = load_pipeline(model, "img2img", offline=offline, device=device)
    with _LOCK:
        gen = _run(pipe, model, prompt=prompt, negative_prompt=negative_prompt, image=_resize(img, wh)[None], strength=float(strength),
                   num_inference_steps=int(steps), guidance_scale=float(guidance), generator=torch.Generator("cpu").manual_seed(int(seed)))
    gen = _resize(gen, (h, w)).clamp_(0, 1)
    return gen * m + img * (1.0 - m)


def _inpaint(model: str, img: torch.Tensor, repaint: torch.Tensor, prompt: str, steps: int, seed: int, strength: float,
             guidance: float, negative_prompt: str | None, offline: bool | None, device: str) -> torch.Tensor:
    """The inpainting pipeline's full output at the image's size (``repaint``: 1 = generate)."""
    h, w = img.shape[-2:]
    wh = _work_size(h, w)
    pipe = load_pipeline(model, "inpaint", offline=offline, device=device)
    with _LOCK:
        gen = _run(pipe, model, prompt=prompt, negative_prompt=negative_prompt, image=_resize(img, wh)[None], mask_image=_resize(repaint, wh)[None],
                   height=wh[0], width=wh[1], strength=float(strength), num_inference_steps=int(steps), guidance_scale=float(guidance),
                   generator=torch.Generator("cpu").manual_seed(int(seed)))
    return _resize(gen, (h, w)).clamp_(0, 1)
