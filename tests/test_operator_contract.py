"""Contract tests run over every registered operator (and the compositions).

For each: shape, dtype and device kept; the input is not mutated; seeded replay is
identical; item i's output does not depend on the batch it is in; the parameter
record replays; the config rebuilds an equal operator; float64 works; what declares
itself ``differentiable`` passes gradcheck.  An operator is skipped only when an
optional extra it declares (``Operator.extras``) is not installed.

The batch runs on every ``--device`` and ``--dtype`` given to pytest (default: CPU,
plus CUDA when a GPU is present; float32), so GPU paths are tested where there is one.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import types
from pathlib import Path

import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.assets.synthetic import disc_scene
from foolbox_lite.operators.registry import EXTRA_MODULES, REGISTRY, missing_extras
from foolbox_lite.pipeline import OneOf, Pipeline

OPS = {name: cls for name, cls in sorted(REGISTRY.items())}
OPS["one_of"] = OneOf
OPS["pipeline"] = Pipeline

DOCS = Path(__file__).resolve().parents[1] / "docs" / "operators.md"


def _docs_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)


def _docs_example() -> types.ModuleType:
    """The worked example of docs/operators.md (its first python block), run as a module."""
    module = types.ModuleType("docs_operators_example")
    exec(compile(_docs_blocks()[0], str(DOCS), "exec"), module.__dict__)  # noqa: S102 - our own documentation
    return module


DOCS_EXAMPLE = _docs_example()
OPS["docs_posterize"] = DOCS_EXAMPLE.Posterize  # the newcomer's operator passes every contract test


def _example(name: str) -> fl.Transform:
    cls = OPS[name]
    missing = missing_extras(cls) if issubclass(cls, fl.Operator) else []
    if missing:
        pytest.skip(f"{name} needs the {', '.join(missing)} extra (pip install 'foolbox-lite[{','.join(missing)}]')")
    return cls.example()


#: Operators whose contract tests take seconds each (a VGG encoder/decoder): run in CI, deselected locally.
SLOW_OPS = {"texture_adain"}


@pytest.fixture(params=[pytest.param(n, marks=pytest.mark.slow) if n in SLOW_OPS else n for n in sorted(OPS)])
def op(request) -> fl.Operator:
    return _example(request.param)


@pytest.fixture()
def batch(batch: fl.Stimuli, device: torch.device, dtype: torch.dtype) -> fl.Stimuli:
    """The shared masked batch on the device and dtype under test."""
    return batch.to(device=device, dtype=dtype)


def test_registry_is_not_empty():
    assert len(REGISTRY) >= 2
    assert all(cls.name == name for name, cls in REGISTRY.items())


def test_shape_dtype_device_kept(op, batch):
    out = op(batch, seed=1)
    assert out.images.shape == batch.images.shape
    assert out.images.dtype == batch.images.dtype
    assert out.images.device == batch.images.device
    assert set(batch.layers) <= set(out.layers)
    for k in batch.layers:
        assert out.layers[k].shape == batch.layers[k].shape
    assert torch.isfinite(out.images).all()
    assert out.images.min() >= 0 and out.images.max() <= 1


def test_input_not_mutated(op, batch):
    before = batch.images.clone(), {k: v.clone() for k, v in batch.layers.items()}, [it.to_dict() for it in batch.items]
    op(batch, seed=2)
    assert torch.equal(batch.images, before[0])
    assert all(torch.equal(batch.layers[k], v) for k, v in before[1].items())
    assert [it.to_dict() for it in batch.items] == before[2]


def test_seeded_replay_identical(op, batch):
    a, b = op(batch, seed=3), op(batch, seed=3)
    assert torch.equal(a.images, b.images)
    assert [it.params for it in a.items] == [it.params for it in b.items]


def test_batch_invariance(op, batch):
    full = op(batch, seed=4)
    for split in ([0], [5, 2], [1, 3, 4]):
        part = op(batch.select(split), seed=4)
        for j, i in enumerate(split):
            assert torch.equal(part.images[j], full.images[i]), f"item {i} differs in batch {split}"
            assert part.items[j].params == full.items[i].params


def test_record_replays_and_is_json(op, batch):
    out = op(batch, seed=5)
    views = [it.params for it in out.items]  # rows of the batch's columns
    plain = json.loads(json.dumps([it.plain_params() for it in out.items], allow_nan=False))  # as a manifest stores them
    assert plain == views
    for history in (views, plain):
        if isinstance(op, (Pipeline, OneOf)):
            again = op.replay(batch, history)
        else:
            again = op.replay(batch, [h[-1] for h in history])
        assert torch.equal(again.images, out.images)
        assert [it.plain_params() for it in again.items] == plain


def test_config_rebuilds_equal_operator(op, batch):
    clone = type(op)(**op.config())
    assert torch.equal(clone(batch, seed=6).images, op(batch, seed=6).images)


def test_float64_follows_input(op, batch):
    out = op(batch.to(dtype=torch.float64), seed=7)
    assert out.images.dtype == torch.float64


def test_no_global_random_state(op, batch):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    op(batch, seed=8)
    assert torch.equal(torch.rand(3), expected), "operator consumed the global torch RNG"


def _replay(op: fl.Transform, stim: fl.Stimuli, history: list) -> fl.Stimuli:
    if isinstance(op, (Pipeline, OneOf)):
        return op.replay(stim, history)
    return op.replay(stim, [h[-1] for h in history])


def _declares_differentiable(cls: type) -> bool:
    flag = inspect.getattr_static(cls, "differentiable")
    return isinstance(flag, property) or bool(flag)  # compositions: a property over their children


DIFFERENTIABLE = sorted(n for n, cls in OPS.items() if _declares_differentiable(cls))


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_declared_differentiable_passes_gradcheck(name, device, one_thread):
    """Operators that declare ``differentiable`` have correct gradients w.r.t. the images (float64, 2 x 3 x 8 x 8)."""
    op = _example(name)
    assert op.differentiable
    images, masks = disc_scene(2, 8)
    stim = fl.Stimuli.from_tensor(images, masks).to(device=device, dtype=torch.float64)
    history = [it.params for it in op(stim, seed=9).items]

    def images_out(x: torch.Tensor) -> torch.Tensor:
        return _replay(op, fl.Stimuli(x, stim.layers, stim.items), history).images

    x = stim.images.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(images_out, (x,), eps=1e-6, atol=1e-5)


def test_every_extra_is_an_install_extra():
    """Extras that operators declare exist in pyproject.toml and in EXTRA_MODULES."""
    toml = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    declared = toml.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name, cls in OPS.items():
        for extra in getattr(cls, "extras", ()):
            assert extra in declared and extra in EXTRA_MODULES, f"{name} declares unknown extra {extra!r}"


def test_texture_arguments_are_declared():
    """Recipes resolve asset names to textures exactly in the arguments an operator declares."""
    for name, cls in REGISTRY.items():
        params = inspect.signature(cls.__init__).parameters
        assert all(a in params for a in cls.texture_arguments), f"{name} declares a texture argument it does not take"
    assert REGISTRY["texture_fill"].texture_arguments == ("texture", "background_texture")
    assert REGISTRY["texture_quilt"].texture_arguments == ("texture", "background_texture")
    assert REGISTRY["colour_match"].texture_arguments == ("texture",)
    assert REGISTRY["gaussian_noise"].texture_arguments == ()


def test_differentiable_operators_are_listed():
    """The gradcheck above covers the operators and compositions that declare it, and only those."""
    assert {"pipeline", "one_of", "rotate", "texture_fill", "skipped"} <= set(DIFFERENTIABLE)
    assert not {"texture_quilt", "foreground_mask", "albumentations"} & set(DIFFERENTIABLE)


def test_large_pipeline_reuses_buffers_and_equals_its_steps(big_batch):
    """A pipeline on a batch above 1 MiB (buffers two steps back are reused) gives what its steps give one by one."""
    pipe = Pipeline.example()
    out = pipe(big_batch)
    s = big_batch
    for k, op in enumerate(pipe.ops):
        s = op(s, seed=pipe.seed, path=str(k))
    assert torch.equal(out.images, s.images)
    assert [it.params for it in out.items] == [it.params for it in s.items]
    assert torch.equal(pipe.replay(big_batch, [it.params for it in out.items]).images, out.images)


def test_docs_example_kernel_and_usage(batch):
    """The docs' operator gives its kernel's output on its records, and the usage block runs as written."""
    op = DOCS_EXAMPLE.Posterize.example()
    out = op(batch, seed=12)
    levels = [it.params[-1]["params"]["levels"] for it in out.items]
    assert torch.equal(out.images, DOCS_EXAMPLE.posterize(batch.images, levels))
    assert len(set(levels)) > 1 and all(2 <= n <= 6 for n in levels)
    assert out.images.unique().numel() <= 3 * 6 * len(batch)
    usage = {"Posterize": DOCS_EXAMPLE.Posterize, "stim": batch}
    exec(compile(_docs_blocks()[1], str(DOCS), "exec"), usage)  # noqa: S102
    assert torch.equal(usage["again"].images, usage["out"].images)
    assert usage["out"].items[0].params[0]["op"] == "posterize"


def test_config_is_recorded_from_the_constructor_call():
    """config() is what the constructor was called with (defaults filled in, p only when not 1)."""
    assert fl.ops.Invert().config() == {}
    assert fl.ops.Invert(p=0.25).config() == {"p": 0.25}
    assert fl.ops.LowPass(sigma=(1, 2)).config() == {"sigma": (1, 2)}
    noise = fl.ops.UniformNoise(width=0.1, mono=True)
    assert noise.config() == {"width": 0.1, "std": None, "snr_db": None, "mono": True, "clip": True}
    pipe = Pipeline((noise, fl.ops.Invert()), seed=3)
    assert pipe.config()["seed"] == 3 and pipe.config()["ops"] == [noise, pipe.ops[1]]
    assert OneOf([noise], weights=(2,)).config()["weights"] == [2]


def test_compositions_replay_checks_their_input(batch):
    from foolbox_lite.errors import InputError

    pipe = Pipeline.example()
    with pytest.raises(InputError, match="Stimuli"):
        pipe.replay(batch.images, [[]] * len(batch))
    with pytest.raises(InputError, match="expected one record at path '0'"):
        pipe.replay(batch, [[] for _ in batch.items])
    assert isinstance(pipe, fl.Transform) and not isinstance(pipe, fl.Operator)


def _channels_last(stim: fl.Stimuli) -> fl.Stimuli:
    """The same batch with its images and layers stored channels-last (strides ``(H*W*C, 1, W*C, C)``)."""
    cl = torch.channels_last
    return stim.replace(images=stim.images.contiguous(memory_format=cl), layers={k: v.contiguous(memory_format=cl) for k, v in stim.layers.items()})


def test_channels_last_input_gives_the_same_bytes(op, batch):
    cl = _channels_last(batch)
    assert not cl.images.is_contiguous()
    assert torch.equal(op(cl, seed=9).images, op(batch, seed=9).images)
    if getattr(op, "needs_mask", True) is False:  # without a mask too (what a warp of a batch without one hands on)
        bare = batch.replace(layers={})
        assert torch.equal(op(_channels_last(bare), seed=9).images, op(bare, seed=9).images)
