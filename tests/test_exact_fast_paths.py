"""Fast paths of the build and the evaluator give exactly what the plain computation gives."""

from __future__ import annotations

import dataclasses
import gc
import json
import math
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
import torch

from foolbox_lite.classifiers import imagenet_labels
from foolbox_lite.evaluator.decisions import make_decider
from foolbox_lite.evaluator.evidence import EvidenceRecorder
from foolbox_lite.recipes import batch_out
from foolbox_lite.recipes.batch_out import BatchOutput, multiply_rounds_like_torch, rounded_u8, stack_u8, tie_probe
from foolbox_lite.stimuli import MASK, Item, Stimuli
from foolbox_lite.stimulus_set.format import OPTIONAL_FIELDS, ManifestEntry, manifest_line
from foolbox_lite.stimulus_set.layers import mask_u8
from foolbox_lite.textures import periodic, render_texture


def _wrap_reference(tile: torch.Tensor, height: int, width: int, scale, angle, offset) -> torch.Tensor:
    """render_texture as one cv2.warpAffine with BORDER_WRAP per item (the definition)."""
    th, tw = tile.shape[1:]
    src = np.ascontiguousarray(tile.permute(1, 2, 0).numpy())
    out = []
    for s, a, (ox, oy) in zip(scale, angle, offset):
        r = math.radians(a)
        c, si = math.cos(r) / s, math.sin(r) / s
        cx, cy = (width - 1) / 2, (height - 1) / 2
        m = np.array([[c, -si, 0.0], [si, c, 0.0]])
        m[0, 2] = cx - (c * cx - si * cy) + (ox % 1.0) * tw
        m[1, 2] = cy - (si * cx + c * cy) + (oy % 1.0) * th
        img = cv2.warpAffine(src, m, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_WRAP)
        out.append(torch.from_numpy(img).permute(2, 0, 1))
    return torch.stack(out)


def test_periodic_render_equals_border_wrap_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    for trial in range(120):
        th, tw = int(rng.integers(8, 300)), int(rng.integers(8, 300))
        tile = torch.rand(3, th, tw, generator=torch.Generator().manual_seed(trial))
        h, w = int(rng.integers(8, 260)), int(rng.integers(8, 260))
        k = int(rng.integers(1, 5))
        kind = trial % 4
        if kind == 0:  # cue-conflict: plain shifts
            scale, angle = [1.0] * k, [0.0] * k
        elif kind == 1:  # the flagship's texture_fill
            scale, angle = list(rng.uniform(0.4, 0.6, k)), list(rng.uniform(-20, 20, k))
        else:
            scale, angle = list(rng.uniform(0.2, 3.0, k)), list(rng.uniform(-180, 180, k))
        offset = [(float(a), float(b)) for a, b in rng.random((k, 2))]
        if trial % 8 == 0:
            offset = [(0.0, 0.0)] * k
        elif trial % 8 == 4:  # whole-pixel shifts
            offset = [(int(rng.integers(0, tw)) / tw, int(rng.integers(0, th)) / th) for _ in range(k)]
        got = render_texture(tile, h, w, scale, angle, offset)
        assert torch.equal(got, _wrap_reference(tile, h, w, scale, angle, offset)), (trial, th, tw, h, w, scale, angle, offset)


def test_periodic_cache_follows_its_tiles() -> None:
    periodic.clear_cache()
    tile = torch.rand(3, 40, 50)
    args = ([1.0], [0.0], [(0.3, 0.6)])
    first = render_texture(tile, 64, 64, *args)
    assert len(periodic._cache) == 1
    tile.mul_(0.5)  # changed in place: the cached copy is not used
    assert torch.equal(render_texture(tile, 64, 64, *args), _wrap_reference(tile, 64, 64, *args))
    assert not torch.equal(first, render_texture(tile, 64, 64, *args))
    del tile
    gc.collect()
    other = torch.rand(3, 20, 20)
    render_texture(other, 32, 32, *args)  # the next call drops the freed tile's copy
    assert all(e[0]() is not None for e in periodic._cache.values()) and len(periodic._cache) == 1


LAYOUTS = [torch.contiguous_format, torch.channels_last]  # planar, and what a warp of a channels-last batch without a mask returns


@pytest.fixture(params=["opencv", "torch"])
def conversion(request, monkeypatch) -> str:
    """Both 8-bit conversions: one cv2.multiply (OpenCV 5) and torch's arithmetic (an OpenCV that rounds otherwise)."""
    if request.param == "opencv":
        if not multiply_rounds_like_torch():
            pytest.skip(f"OpenCV {cv2.__version__} does not round like torch: the build converts with torch's arithmetic")
    else:
        monkeypatch.setattr(batch_out, "multiply_rounds_like_torch", lambda: False)
    return request.param


def test_opencv_5_converts_to_8_bits_in_one_pass() -> None:
    if int(cv2.__version__.split(".")[0]) >= 5:
        assert multiply_rounds_like_torch()  # the one-pass path this project's CI measures
    v = torch.from_numpy(tie_probe())
    assert torch.equal(rounded_u8(v), v.clamp(0, 1).mul(255.0).round_().to(torch.uint8))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_batch_output_stores_the_rounded_images(layout: torch.memory_format, conversion: str) -> None:
    torch.manual_seed(0)
    x = torch.rand(5, 3, 20, 30) * 1.4 - 0.2  # outside [0, 1] too
    x[0, 0, 0, :4] = torch.tensor([0.5 / 255, 1.5 / 255, 2.5 / 255, 254.5 / 255])  # ties round to even
    x = x.contiguous(memory_format=layout)
    items = [Item(id=str(i), index=i) for i in range(5)]
    mask = torch.rand(5, 1, 20, 30)
    out = BatchOutput(10, (20, 30), sidecars=True, has_mask=[False] * 10, stim_has_mask=False)
    slots = [9, 0, 4, 2, 7]
    out.store(Stimuli(x, {MASK: mask}, items), slots)
    ref = x.clamp(0, 1).mul(255.0).round_().to(torch.uint8).permute(0, 2, 3, 1)
    assert torch.equal(out.u8[slots], ref)
    assert torch.equal(out.f32[slots], x)
    assert [out.has_mask[k] for k in slots] == [True] * 5 and out.masks()[1] is None
    with pytest.raises(Exception, match="non-finite"):
        out.store(Stimuli(x.clone().index_fill_(0, torch.tensor([1]), float("nan")), {}, items), slots)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_batch_output_rounds_like_torch_next_to_every_tie(layout: torch.memory_format, conversion: str) -> None:
    """float32 values within 300 ulps of each (k + 0.5) / 255, and beyond [0, 1]: the same bytes as torch's expression."""
    v = np.resize(tie_probe(), 3 * 40 * 651)
    x = torch.from_numpy(v.reshape(1, 3, 40, 651)).contiguous(memory_format=layout)
    out = BatchOutput(1, (40, 651), sidecars=False, has_mask=[False], stim_has_mask=False)
    out.store(Stimuli(x, {MASK: x[:, 1:2]}, [Item(id="0", index=0)]), [0])
    assert torch.equal(out.u8[0], x[0].clamp(0, 1).mul(255.0).round_().to(torch.uint8).permute(1, 2, 0))
    assert torch.equal(out.mask[0], mask_u8(x[:, 1:2])[0]) and out.has_mask[0]


def test_stack_u8_equals_per_item_conversion() -> None:
    imgs = [torch.randint(0, 256, (3, 9, 7), dtype=torch.uint8) for _ in range(4)]
    ref = torch.stack([t.float().div_(255.0) for t in imgs])
    assert torch.equal(stack_u8(imgs, "cpu"), ref)
    masks = stack_u8([None, imgs[0][:1], None], "cpu")
    assert torch.equal(masks[0], torch.ones(1, 9, 7)) and torch.equal(masks[1], imgs[0][:1].float() / 255)
    assert torch.equal(stack_u8([None, None], "cpu", (1, 9, 7)), torch.ones(2, 1, 9, 7))


@dataclass
class _Rec:
    name: str
    values: tuple[float, ...]


def test_manifest_lines_equal_the_asdict_serialisation() -> None:
    e = ManifestEntry(id="000003", file="images/000003.png", sha256="ab" * 32, seed=7, index=3, cues={"texture": "b", "shape": "a"},
                      sources={"shape": "file:x.png"}, params=[{"op": "rotate", "p": {"angle": 12.5, "xy": (1, 2)}, "rec": _Rec("r", (0.5,))}],
                      layers={"mask": {"file": "masks/000003.png", "sha256": "cd" * 32}}, twin="", control="")
    d = dataclasses.asdict(e)
    for k in OPTIONAL_FIELDS:
        if not d[k]:
            del d[k]
    assert manifest_line(e) == json.dumps(d, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"
    with pytest.raises(ValueError):
        manifest_line(dataclasses.replace(e, params=[{"x": float("nan")}]))


def _evidence_reference(rec: EvidenceRecorder, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One label at a time (the definition)."""
    d = rec.decider
    scores = d.scores(logits).float()
    if d.allowed is not None:
        scores = scores.masked_fill(~d.allowed.to(scores.device), float("-inf"))
    if d.mapping is not None:
        cat = d.mapping.probabilities(logits) if d.class_to_label is not None else d.scores(logits).float()
        probs = [cat[:, d.mapping.names.index(c)] for c in rec.labels]
    else:
        soft = logits.float().softmax(dim=1)
        probs = [soft[:, rec._members[c][0]] for c in rec.labels]
    ranks = [1 + (scores > scores[:, rec._members[c]].amax(dim=1, keepdim=True)).sum(dim=1) for c in rec.labels]
    return torch.stack(ranks, dim=1), torch.stack(probs, dim=1)


@pytest.mark.parametrize(("space", "rule"), [("imagenet1k", "top1"), ("imagenet1k", "restricted"), ("geirhos16", "top1"), ("geirhos16", "mapping")])
def test_evidence_of_all_labels_at_once_equals_one_at_a_time(space: str, rule: str) -> None:
    lab = imagenet_labels()
    cues = lab.wnids[::9][:70] if space == "imagenet1k" else ["airplane", "bear", "bicycle", "bird", "boat", "cat", "dog", "truck"]
    rec = EvidenceRecorder(make_decider(lab, space, rule, cue_labels=cues), cues)
    torch.manual_seed(1)
    for b in (1, 16, 40):
        logits = torch.randn(b, 1000) * 3
        logits[0, 10] = logits[0, 11]  # a tie
        got, want = rec._evidence(logits), _evidence_reference(rec, logits)
        assert torch.equal(got[0], want[0]) and got[0].dtype == want[0].dtype
        assert torch.equal(got[1], want[1]) and got[1].dtype == want[1].dtype


def test_windows_and_groups_do_not_change_a_byte(tmp_path, monkeypatch) -> None:
    """Items are computed in windows of up to 8 batches, each group in chunks of at most a batch: any split gives the same set."""
    from test_build import RECIPE, _files, _write

    import foolbox_lite.recipes.build as rb

    text = RECIPE.replace("  cross:", "  random:").replace("  repeat: 2\n", "  n: 30\n")
    r = _write(tmp_path, text)
    a = rb.build_recipe(r, tmp_path / "a", batch_size=4, workers=2, progress=False)  # windows of 30 items, chunks of 4
    monkeypatch.setattr(rb, "WINDOW_BYTES", 1)  # windows of one batch
    b = rb.build_recipe(r, tmp_path / "b", batch_size=3, workers=0, progress=False)
    c = rb.build_recipe(r, tmp_path / "c", batch_size=64, workers=1, progress=False)
    assert _files(a) == _files(b) == _files(c)
