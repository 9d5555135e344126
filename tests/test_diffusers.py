"""Generation with diffusers on a tiny random-weight Stable Diffusion pipeline saved to a temp folder.

The pipeline (2-block UNet, tiny VAE, 2-layer CLIP text encoder, byte-level tokenizer)
is built from configs, saved with ``save_pretrained`` and loaded back with
``local_files_only=True``; runs are 64x64 with a few steps, on one thread.
"""

from __future__ import annotations

import time

import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import foolbox_lite as fl
from foolbox_lite.backends import diffusers_gen as dg
from foolbox_lite.errors import InputError, ModelError, ParameterError
from foolbox_lite.operators.generation import InpaintBackground, RestyleObject


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # on 2 busy cores a tiny UNet step was 80x slower with 2 threads
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    folder = dg.save_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny-sd")
    assert (folder / "model_index.json").is_file() and (folder / "unet").is_dir()
    return str(folder)


@pytest.fixture(scope="module")
def scene() -> tuple[torch.Tensor, torch.Tensor]:
    from foolbox_lite.assets.synthetic import disc_scene

    images, masks = disc_scene(1, 64)
    return images[0], (masks[0] > 0.5).float()


def test_local_folder_loads_offline(tiny):
    pipe = dg.load_pipeline(tiny, "text2img")
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    assert dg.load_pipeline(tiny, "inpaint").unet is pipe.unet, "all kinds share the weights"


def test_texture_is_seeded_and_shaped(tiny):
    a = dg.generate_texture(tiny, "zebra skin fabric", 64, steps=3, seed=5)
    b = dg.generate_texture(tiny, "zebra skin fabric", 64, steps=3, seed=5)
    c = dg.generate_texture(tiny, "zebra skin fabric", 64, steps=3, seed=6)
    d = dg.generate_texture(tiny, "zebra skin fabric", (64, 32), steps=3, seed=5)
    assert a.shape == (3, 64, 64) and a.dtype == torch.float32 and d.shape == (3, 64, 32)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert 0 <= float(a.min()) and float(a.max()) <= 1 and float(a.std()) > 0.01


def test_tileable_uses_circular_padding_and_restores_it(tiny):
    pipe = dg.load_pipeline(tiny, "text2img")
    modes = {m.padding_mode for m in pipe.unet.modules() if isinstance(m, torch.nn.Conv2d)}
    plain = dg.generate_texture(tiny, "brick wall", 64, steps=2, seed=1)
    tiled = dg.generate_texture(tiny, "brick wall", 64, steps=2, seed=1, tileable=True)
    assert not torch.equal(plain, tiled)
    assert torch.equal(tiled, dg.generate_texture(tiny, "brick wall", 64, steps=2, seed=1, tileable=True))
    assert {m.padding_mode for m in pipe.unet.modules() if isinstance(m, torch.nn.Conv2d)} == modes == {"zeros"}


def test_background_generation(tiny):
    bg = dg.generate_background(tiny, "a sunny beach", 64, steps=2, seed=3)
    assert bg.shape == (3, 64, 64)
    assert torch.equal(bg, dg.generate_texture(tiny, "a sunny beach", 64, steps=2, seed=3))


def test_inpaint_background_keeps_the_object(tiny, scene):
    img, mask = scene
    out = dg.inpaint_background(tiny, img, mask, "a forest", steps=3, seed=2)
    assert out.shape == img.shape
    obj = mask[0] > 0.5
    assert torch.equal(out[:, obj], img[:, obj]), "object pixels are kept exactly"
    assert (out[:, ~obj] - img[:, ~obj]).abs().mean() > 0.05, "the scene was repainted"
    assert torch.equal(out, dg.inpaint_background(tiny, img, mask, "a forest", steps=3, seed=2))


@pytest.mark.parametrize("mode", ["inpaint", "img2img"])
def test_restyle_keeps_silhouette_and_background(tiny, scene, mode):
    img, mask = scene
    out = dg.restyle_object(tiny, img[:, :60, :52], mask[:, :60, :52], "zebra skin", steps=4, seed=1, mode=mode, strength=0.5)
    assert out.shape == (3, 60, 52), "sizes that are not multiples of 8 work"
    bg = mask[0, :60, :52] < 0.5
    assert torch.equal(out[:, bg], img[:, :60, :52][:, bg])
    assert (out[:, ~bg] - img[:, :60, :52][:, ~bg]).abs().mean() > 0.02


def test_model_hashes_cover_the_folder(tiny):
    h = dg.model_hashes(tiny)[tiny]
    assert h.startswith("sha256:") and len(h) == 71
    assert dg.model_hashes()[tiny] == h


def test_operators_run_replay_and_set_cues(tiny, scene):
    img, mask = scene
    stim = fl.Stimuli.from_tensor(torch.stack([img, img.flip(-1)]), torch.stack([mask, mask.flip(-1)]))
    op = InpaintBackground(tiny, {"choice": ["forest", "beach"]}, steps=2)
    out = op(stim, seed=4)
    recs = [it.params[-1] for it in out.items]
    assert all(r["params"]["prompt"] in ("forest", "beach") and isinstance(r["params"]["seed"], int) for r in recs)
    assert [it.cues["background"] for it in out.items] == [r["params"]["prompt"] for r in recs]
    assert torch.equal(op.replay(stim, recs).images, out.images)
    single = op(stim.select([1]), seed=4)
    assert torch.equal(single.images[0], out.images[1])
    rs = RestyleObject(tiny, "zebra skin", labels="zebra", mode="img2img", steps=2, strength=0.5)(stim, seed=1)
    assert [it.cues["texture"] for it in rs.items] == ["zebra", "zebra"]
    assert torch.equal(rs.images * (1 - stim.mask), stim.images * (1 - stim.mask))


def test_bad_input(tiny, scene, tmp_path):
    img, mask = scene
    with pytest.raises(ParameterError, match="'model'"):
        dg.generate_texture("", "zebra", 64, 2)
    with pytest.raises(ParameterError, match="'model'"):
        InpaintBackground(None, "forest")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'prompt'"):
        dg.generate_texture(tiny, "  ", 64, 2)
    with pytest.raises(ParameterError, match="'prompt'"):
        RestyleObject(tiny, [])
    with pytest.raises(ParameterError, match="multiple of 8"):
        dg.generate_texture(tiny, "zebra", 60, 2)
    with pytest.raises(ParameterError, match="'steps'"):
        dg.generate_texture(tiny, "zebra", 64, 0)
    with pytest.raises(ParameterError, match="'seed'"):
        dg.generate_texture(tiny, "zebra", 64, 2, seed=-1)
    with pytest.raises(ParameterError, match="no denoising step"):
        dg.restyle_object(tiny, img, mask, "zebra", steps=2, strength=0.3)
    with pytest.raises(InputError, match="mask must be"):
        dg.inpaint_background(tiny, img, mask[:, :32], "forest", 2)
    with pytest.raises(ParameterError, match="'device'"):
        dg.generate_texture(tiny, "zebra", 64, 2, device="abacus")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no model_index.json"):
        dg.generate_texture(str(tmp_path / "empty"), "zebra", 64, 2)


def test_uncached_hub_id_fails_fast_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("FOOLBOX_LITE_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the library sets it; restored after the test
    t = time.perf_counter()
    with pytest.raises(ModelError, match="not in the local Hugging Face cache") as exc:
        dg.load_pipeline("someone/not-a-cached-model")
    assert time.perf_counter() - t < 30
    assert "FOOLBOX_LITE_OFFLINE=0" in str(exc.value)


def test_diffusers_recipe_source(tiny):
    from foolbox_lite.backends.sources import build_source

    res = build_source("diffusers", {"model": tiny, "prompt": "zebra skin fabric", "size": 64, "steps": 2, "seed": 9, "tileable": True})
    assert res.mask is None and res.image.shape == (3, 64, 64)
    assert res.model_hashes == dg.model_hashes(tiny)
    assert torch.equal(res.image, dg.generate_texture(tiny, "zebra skin fabric", 64, 2, 9, tileable=True))


def test_inpainting_checkpoint(tmp_path, scene):
    folder = str(dg.save_tiny_pipeline(tmp_path / "tiny-inpaint", inpainting=True))
    img, mask = scene
    out = dg.inpaint_background(folder, img, mask, "a forest", steps=2, seed=1)
    assert torch.equal(out[:, mask[0] > 0.5], img[:, mask[0] > 0.5])
    with pytest.raises(ModelError, match="inpainting checkpoint"):
        dg.generate_texture(folder, "zebra", 64, 2)
