"""The per-item OpenCV/numpy fast paths: equal (or boundedly close) to the torch paths, independent of threads."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
import torch

import foolbox_lite as fl
from foolbox_lite.assets.synthetic import disc_scene
from foolbox_lite.errors import InputError, ParameterError
from foolbox_lite.operators import cvplanes, itempool
from foolbox_lite.operators.color import LUMA, grayscale
from foolbox_lite.operators.filters import contrast
from foolbox_lite.operators.homography import about_centre, check_warps, object_frames, rotation_matrix, tilt_matrix
from foolbox_lite.operators.structure import (
    CANNY_SCALE,
    _luma,
    _scramble_by_copy,
    _scramble_torch,
    canny_edges,
    patch_scramble,
    patch_scramble_many,
    silhouette,
)
from foolbox_lite.operators.warp_checks import _area, _clearly_fine, _clip_polygon, _star_fractions, _visible_fractions


@pytest.fixture()
def threads():
    """Set torch's thread count (and so the item pool's width) for one test."""
    n = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(n)


# ----------------------------------------------------------------------------- item pool
@pytest.mark.parametrize("n,chunk", [(0, 4), (1, 4), (7, 1), (64, 4), (65, 8)])
def test_for_items_covers_every_item_once(threads, n, chunk):
    threads(2)
    seen: list[int] = []
    lock = threading.Lock()

    def work(a: int, b: int) -> None:
        with lock:
            seen.extend(range(a, b))

    itempool.for_items(work, n, chunk=chunk)
    assert sorted(seen) == list(range(n))


def test_for_items_is_serial_with_one_thread_and_inside_a_worker(threads):
    threads(1)
    callers: set[int] = set()
    itempool.for_items(lambda a, b: callers.add(threading.get_ident()), 16, chunk=2)
    assert callers == {threading.get_ident()}
    threads(2)
    inner: list[tuple[int, int]] = []
    itempool.for_items(lambda a, b: itempool.for_items(lambda c, d: inner.append((c, d)), 3), 8, chunk=1)
    assert inner == [(0, 3)] * 8  # nested calls run whole, in their own thread


def test_for_items_reraises_a_worker_error(threads):
    threads(2)

    def work(a: int, b: int) -> None:
        if a >= 8:
            raise ValueError(f"item {a}")

    with pytest.raises(ValueError, match="item"):
        itempool.for_items(work, 16, chunk=4)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_for_items_runs_alongside_on_the_calling_thread_once(threads, n_threads):
    threads(n_threads)
    calls: list[int] = []
    seen: list[int] = []
    lock = threading.Lock()

    def work(a: int, b: int) -> None:
        with lock:
            seen.extend(range(a, b))

    itempool.for_items(work, 16, chunk=2, alongside=lambda: calls.append(threading.get_ident()))
    assert calls == [threading.get_ident()] and sorted(seen) == list(range(16))
    itempool.for_items(work, 0, alongside=lambda: calls.append(0))
    assert calls[-1] == 0  # runs even when there are no items


def test_a_failing_alongside_stops_the_items_and_is_reraised(threads):
    threads(2)
    started = threading.Event()
    done: list[int] = []

    def work(a: int, b: int) -> None:
        started.set()
        time.sleep(0.002)
        done.append(a)

    def refuse() -> None:
        started.wait(5)  # the other thread is on the items
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        itempool.for_items(work, 4000, chunk=1, alongside=refuse)
    assert 0 < len(done) < 4000  # the running range finished, no new ones were handed out


def test_a_refused_warp_raises_its_check_error_not_the_matrix_error():
    stim = fl.Stimuli.from_tensor(torch.rand(2, 3, 16, 16))
    op = fl.ops.ScaleTranslate(scale=1.0)
    singular = [{"scale": 1.0, "tx": 0.0, "ty": 0.0, "matrix": [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]}] * 2
    with pytest.raises(fl.ParameterError, match="flattens the object"):
        op.replay(stim, [{"op": op.name, "path": op.name, "params": p} for p in singular])


def test_thread_buffers_are_reused_per_thread_tag_shape_and_dtype():
    a = itempool.thread_buffer("test.a", (4, 5))
    assert itempool.thread_buffer("test.a", (4, 5)) is a and a.dtype == np.float32
    assert itempool.thread_buffer("test.b", (4, 5)) is not a
    assert itempool.thread_buffer("test.a", (4, 5), np.int16) is not a
    other: list[np.ndarray] = []
    t = threading.Thread(target=lambda: other.append(itempool.thread_buffer("test.a", (4, 5))))
    t.start()
    t.join()
    assert other[0] is not a
    big = (itempool.KEEP_BYTES // 4 + 1,)
    assert itempool.thread_buffer("test.big", big) is not itempool.thread_buffer("test.big", big)
    unaligned = itempool.thread_buffer("test.u", (8, 8, 4), make=cvplanes.scratch)
    assert unaligned.ctypes.data % 16 == 4 and itempool.thread_buffer("test.u", (8, 8, 4), make=cvplanes.scratch) is unaligned


# ----------------------------------------------------------------------------- interleaving
def test_scratch_is_never_simd_aligned_and_round_trips():
    for shape in [(5, 7, 4), (224, 224, 3), (3,)]:
        s = cvplanes.scratch(shape)
        assert s.shape == shape and s.flags.c_contiguous and s.ctypes.data % 16 == 4
    planes = [np.random.default_rng(k).random((9, 11), dtype=np.float32) for k in range(4)]
    image = cvplanes.interleave(planes, cvplanes.scratch((9, 11, 4)))
    assert np.array_equal(image, np.stack(planes, -1))
    out = np.zeros((4, 9, 11), np.float32)
    cvplanes.deinterleave(image, list(out))
    assert np.array_equal(out, np.stack(planes))


def test_deinterleave_copies_when_opencv_allocates(monkeypatch):
    image = np.random.default_rng(0).random((6, 5, 2), dtype=np.float32)
    monkeypatch.setattr(cv2, "split", lambda m, mv=None: tuple(np.ascontiguousarray(m[..., k]) for k in range(m.shape[2])))
    out = np.zeros((2, 6, 5), np.float32)
    cvplanes.deinterleave(image, list(out))
    assert np.array_equal(out, np.moveaxis(image, -1, 0))


# ----------------------------------------------------------------------------- warps
def _ops() -> dict[str, fl.Operator]:
    return {
        "rotate": fl.ops.Rotate(angle=(-60, 60), border="reflect"),
        "tilt": fl.ops.Tilt.example(),
        "scale_translate": fl.ops.ScaleTranslate.example(),
        "patch_scramble": fl.ops.PatchScramble.example(),
        "canny": fl.ops.Edges("canny"),
        "sobel": fl.ops.Edges("sobel"),
        "flip": fl.ops.Flip(horizontal=0.5, vertical=0.5),
        "grayscale": fl.ops.Grayscale(),
        "contrast": fl.ops.Contrast(c=(0.1, 0.9)),
    }


@pytest.mark.parametrize("name", list(_ops()))
def test_results_do_not_depend_on_the_thread_count(threads, name):
    images, masks = disc_scene(9, 48)
    stim = fl.Stimuli.from_tensor(images, masks)
    outs = []
    for n in (1, 2, 3):
        threads(n)
        with torch.inference_mode():
            out = _ops()[name](stim, seed=4)
        outs.append((out.images.clone(), {k: v.clone() for k, v in out.layers.items()}))
    for images_n, layers_n in outs[1:]:
        assert torch.equal(images_n, outs[0][0])
        assert all(torch.equal(layers_n[k], outs[0][1][k]) for k in layers_n)


def test_object_frames_equal_one_batched_reduction(threads):
    threads(2)
    _, masks = disc_scene(11, 40)
    masks[3] = 0  # an empty mask falls back to the image
    centres, boxes = object_frames(masks, 40, 40, 11)
    m = masks[:, 0].numpy()
    rows, cols = m.sum(axis=2).astype(np.float64), m.sum(axis=1).astype(np.float64)
    total = rows.sum(1)
    ok = total > 0.5
    safe = np.where(ok, total, 1.0)
    want = np.stack([(cols * np.arange(40)).sum(1) / safe, (rows * np.arange(40)).sum(1) / safe], 1)
    assert np.array_equal(centres.numpy()[ok], want[ok])
    assert np.array_equal(centres.numpy()[3], [19.5, 19.5]) and np.array_equal(boxes.numpy()[3], [0, 0, 39, 39])


def test_vectorised_warp_checks_only_accept_what_the_exact_check_accepts():
    g = torch.Generator().manual_seed(0)
    mats, boxes = [], []
    for _ in range(400):
        p, y, r = ((torch.rand(3, generator=g, dtype=torch.float64) - 0.5) * torch.tensor([178.0, 178.0, 360.0])).tolist()
        f = float(10 + 200 * torch.rand((), generator=g))
        m = torch.tensor(tilt_matrix(p, y, r, f), dtype=torch.float64)
        m[:2, :2] *= float(0.3 + 2 * torch.rand((), generator=g))  # some flattened or outsized
        m[:2, 2] += (torch.rand(2, generator=g, dtype=torch.float64) - 0.5) * 80
        mats.append(m)
        x0, y0 = (torch.rand(2, generator=g) * 30).tolist()
        boxes.append([x0, y0, x0 + 5 + 25 * float(torch.rand((), generator=g)), y0 + 5 + 25 * float(torch.rand((), generator=g))])
    full = about_centre(torch.stack(mats), torch.tensor([[32.0, 32.0]] * 400, dtype=torch.float64))
    boxes_t = torch.tensor(boxes, dtype=torch.float64)
    clear = _clearly_fine(full, boxes_t, 64, 64)
    assert 0 < clear.sum() < 400
    for i in range(400):
        if clear[i]:  # exact scalar check of that one item (min_visible=1: it must lie fully inside)
            check_warps(full[i : i + 1], boxes_t[i : i + 1], 64, 64, 1.0, str)
    refused = 0
    for i in np.nonzero(~clear)[0][:60]:
        try:
            check_warps(full[i : i + 1], boxes_t[i : i + 1], 64, 64, 0.5, lambda j, i=i: f"#{i}")
        except ParameterError as e:
            assert f"item #{i}:" in str(e)
            refused += 1
    assert refused > 0


def test_vectorised_flattening_check_matches_the_singular_values():
    """The vectorised check compares |det| / |J|^2 with k / (1 + k^2) instead of running an SVD:
    it must accept exactly the items whose singular-value ratio clears MIN_ANISOTROPY by its margin."""
    from foolbox_lite.operators.warp_checks import MIN_ANISOTROPY

    rng = np.random.default_rng(1)
    n = 2000
    ratio = MIN_ANISOTROPY * np.exp(rng.uniform(-0.01, 0.01, n))  # around the threshold, both sides
    ratio[:20] = MIN_ANISOTROPY * (1 + 1e-6) * (1 + np.linspace(-1e-9, 1e-9, 20) * 1e3)  # at the margin itself
    turn = rng.uniform(0, 2 * np.pi, (n, 2))
    scale = rng.uniform(0.5, 1.5, n)

    def rot(a: np.ndarray) -> np.ndarray:
        return np.stack([np.stack([np.cos(a), -np.sin(a)], -1), np.stack([np.sin(a), np.cos(a)], -1)], -2)

    lin = rot(turn[:, 0]) @ (np.eye(2) * np.stack([scale, scale * ratio], -1)[:, None, :]) @ rot(turn[:, 1])
    mats = np.tile(np.eye(3), (n, 1, 1))
    mats[:, :2, :2] = lin
    mats = about_centre(torch.from_numpy(mats), torch.tensor([[32.0, 32.0]] * n, dtype=torch.float64))
    boxes = torch.tensor([[28.0, 28.0, 36.0, 36.0]] * n, dtype=torch.float64)  # small: stays inside the frame
    sv = np.linalg.svd(lin, compute_uv=False)
    want = sv[:, 1] >= MIN_ANISOTROPY * (1 + 1e-6) * sv[:, 0]
    clear = _clearly_fine(mats, boxes, 64, 64)
    near = np.abs(sv[:, 1] / sv[:, 0] / (MIN_ANISOTROPY * (1 + 1e-6)) - 1) < 1e-12  # within rounding of the margin
    assert 0.3 < want.mean() < 0.7
    assert np.array_equal(clear[~near], want[~near])
    for i in np.flatnonzero(~clear)[:50]:  # what the vectorised check leaves, the exact check decides
        if sv[i, 1] / sv[i, 0] >= MIN_ANISOTROPY:
            check_warps(mats[i : i + 1], boxes[i : i + 1], 64, 64, 1.0, str)
        else:
            with pytest.raises(ParameterError, match="flattens the object"):
                check_warps(mats[i : i + 1], boxes[i : i + 1], 64, 64, 1.0, str)


def _random_convex_quad(rng: np.random.Generator, low: float, high: float) -> np.ndarray | None:
    """A random quad ``(4, 2)`` of either orientation centred in ``[low, high]^2``, or ``None`` when it is not convex
    (warps of a box in front of the camera are convex)."""
    c, r = rng.uniform(low, high, 2), rng.uniform(5, 120)
    ang = np.sort(rng.uniform(0, 2 * np.pi, 4))[:: 1 if rng.random() < 0.5 else -1]
    q = np.stack([c[0] + r * np.cos(ang) * rng.uniform(0.5, 1.5, 4), c[1] + r * np.sin(ang)], 1)
    d = np.roll(q, -1, 0) - q
    turns = d[:, 0] * np.roll(d, -1, 0)[:, 1] - d[:, 1] * np.roll(d, -1, 0)[:, 0]
    return q if (turns > 0).all() or (turns < 0).all() else None


def test_vectorised_visible_fraction_equals_polygon_clipping():
    """Random convex quads (either orientation, inside, across and around the frame) against
    the scalar Sutherland-Hodgman clip; quads with a corner on a frame line are left to it."""
    rng = np.random.default_rng(0)
    h, w = 64, 80
    quads, want = [], []
    while len(quads) < 3000:
        q = _random_convex_quad(rng, -40, 120)
        if q is None:
            continue
        quad = [(float(x), float(y)) for x, y in q]
        quads.append(q)
        want.append(_area(_clip_polygon(quad, -0.5, -0.5, w - 0.5, h - 0.5)) / _area(quad))
    got = _visible_fractions(np.stack(quads), h, w)
    want = np.array(want)
    assert 0.05 < (want == 0).mean() < 0.5 and (want == 1).mean() > 0.01 and ((want > 0) & (want < 1)).mean() > 0.3
    assert np.abs(got - want).max() < 1e-9
    frame = [[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]]
    around = [[-100.0, -100.0], [200.0, -100.0], [200.0, 200.0], [-100.0, 200.0]]
    edge = [[-0.5, 10.0], [30.0, 10.0], [30.0, 20.0], [-0.5, 20.0]]  # an edge along the border: left to the exact check
    got = _visible_fractions(np.array([frame, around, edge]), h, w)
    assert np.isnan(got[0]) and abs(got[1] - w * h / 300**2) < 1e-12 and np.isnan(got[2])


def test_star_bound_never_exceeds_the_visible_fraction():
    """The cheap bound (corners pulled along rays from a centre to the frame) is a lower bound
    of the clipped area for any centre inside quad and frame, and 0 for a centre outside either."""
    rng = np.random.default_rng(2)
    h, w = 64, 80
    quads, centres = [], []
    while len(quads) < 3000:
        q = _random_convex_quad(rng, -20, 100)
        if q is None:
            continue
        quads.append(q)
        mix = rng.dirichlet(np.ones(4))
        centres.append(mix @ q if rng.random() < 0.8 else rng.uniform(-50, 130, 2))  # mostly inside the quad
    q, c = np.stack(quads), np.stack(centres)
    bound = _star_fractions(q[..., 0].T, q[..., 1].T, c[:, 0], c[:, 1], h, w)
    exact = np.array([_area(_clip_polygon([tuple(p) for p in quad], -0.5, -0.5, w - 0.5, h - 0.5)) / _area([tuple(p) for p in quad]) for quad in q])
    assert (bound <= exact + 1e-12).all()
    in_frame = (c[:, 0] > -0.5) & (c[:, 0] < w - 0.5) & (c[:, 1] > -0.5) & (c[:, 1] < h - 0.5)
    assert (bound[~in_frame] == 0).all() and (bound[in_frame] > 0).mean() > 0.6
    useful = bound[in_frame & (bound > 0)] / exact[in_frame & (bound > 0)]
    assert np.median(useful) > 0.5  # close enough to decide many items (centres here are anywhere in the quad)


def test_rotated_full_frame_items_are_accepted_without_the_scalar_check(monkeypatch):
    """A photo rotated in its frame loses its corners: the vectorised check accepts it when
    min_visible holds, and accepts nothing the exact check refuses."""
    n = 64
    angles = np.linspace(-40, 40, n)
    mats = about_centre(torch.tensor([rotation_matrix(float(a)) for a in angles], dtype=torch.float64), torch.tensor([[31.5, 31.5]] * n, dtype=torch.float64))
    boxes = torch.tensor([[0.0, 0.0, 63.0, 63.0]] * n, dtype=torch.float64)
    assert not _clearly_fine(mats, boxes, 64, 64).any()  # min_visible=1: none lies fully inside
    assert _clearly_fine(mats, boxes, 64, 64, 0.5).all()
    clear = _clearly_fine(mats, boxes, 64, 64, 0.9)
    assert 0 < clear.sum() < n
    for i in range(n):
        try:
            check_warps(mats[i : i + 1], boxes[i : i + 1], 64, 64, 0.9, str)
        except ParameterError:
            assert not clear[i]
    monkeypatch.setattr("foolbox_lite.operators.warp_checks._clip_polygon", None)  # the scalar clip is never reached
    check_warps(mats, boxes, 64, 64, 0.5, str)
    monkeypatch.setattr("foolbox_lite.operators.warp_checks._visible_fractions", None)  # nor the vectorised clip: the bound decides
    assert _clearly_fine(mats, boxes, 64, 64, 0.5).all()
    tilts = torch.tensor([tilt_matrix(float(p), float(y), 0.0, 64.0) for p, y in zip(np.linspace(-40, 40, n), np.linspace(30, -30, n))], dtype=torch.float64)
    assert _clearly_fine(about_centre(tilts, torch.tensor([[31.5, 31.5]] * n, dtype=torch.float64)), boxes, 64, 64, 0.5).all()


def test_bad_matrix_in_params_still_names_the_item():
    images, masks = disc_scene(3, 24)
    stim = fl.Stimuli.from_tensor(images, masks)
    op = fl.ops.Rotate(angle=10)
    params = [{"angle": 10.0, "matrix": rotation_matrix(10)} for _ in range(3)]
    params[1] = {"angle": 10.0, "matrix": [[1.0, 0.0], [0.0, 1.0]]}
    with pytest.raises(InputError, match="item 1: params 'matrix' must be a finite 3x3 list"):
        op.apply(stim, params)
    params[1] = {"angle": 10.0, "matrix": [[float("nan")] * 3] * 3}
    with pytest.raises(InputError, match="item 1"):
        op.apply(stim, params)


# ----------------------------------------------------------------------------- patch scramble
@pytest.mark.parametrize(
    "h,w,n,c,dtype",
    [(224, 224, 4, 3, torch.float32), (30, 47, 5, 1, torch.float32), (31, 40, 4, 2, torch.float64), (17, 16, 4, 1, torch.uint8),
     (9, 9, 3, 3, torch.int64), (5, 7, 1, 3, torch.float32), (7, 5, 5, 1, torch.bool), (12, 13, 2, 4, torch.float16)],
)
def test_copy_scramble_equals_the_indexing_path(threads, h, w, n, c, dtype):
    threads(2)
    g = torch.Generator().manual_seed(h * w)
    x = (torch.rand(6, c, h, w, generator=g) * 200).to(dtype)
    perm = torch.stack([torch.randperm(n * n, generator=g) for _ in range(6)])
    assert torch.equal(_scramble_by_copy([x], n, perm.numpy())[0], _scramble_torch(x, n, perm))


def test_scramble_many_moves_layers_like_the_image_and_checks_its_inputs():
    images, masks = disc_scene(4, 33)
    perms = [torch.randperm(9, generator=torch.Generator().manual_seed(k)).tolist() for k in range(4)]
    out_i, out_m = patch_scramble_many([images, masks], 3, perms)
    assert torch.equal(out_i, patch_scramble(images, 3, perms)) and torch.equal(out_m, patch_scramble(masks, 3, perms))
    grad = images.clone().requires_grad_(True)
    assert torch.equal(patch_scramble(grad, 3, perms).detach(), out_i)  # the differentiable path: same bytes
    with torch.no_grad():
        assert torch.equal(patch_scramble(grad, 3, perms), out_i)  # nothing to record: the numpy path
    with pytest.raises(InputError, match="patch numbers 0..8"):
        patch_scramble(images, 3, [[9] * 9] * 4)
    with pytest.raises(InputError, match="one batch and size"):
        patch_scramble_many([images, masks[:2]], 3, perms)


# ----------------------------------------------------------------------------- canny
def _canny_reference(images: torch.Tensor, low: float, high: float, sigma: float) -> torch.Tensor:
    """The Canny of release 0.x: float Sobel, rounded with numpy, one item at a time."""
    k = 2 * int(max(1, round(2 * sigma))) + 1
    luma = _luma(images).numpy()
    out = torch.empty(images.shape[0], 3, *images.shape[2:])
    for i in range(luma.shape[0]):
        blurred = cv2.GaussianBlur(luma[i, 0], (k, k), sigma, borderType=cv2.BORDER_REFLECT_101)
        dx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
        dy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
        e = cv2.Canny(np.rint(dx * CANNY_SCALE).astype(np.int16), np.rint(dy * CANNY_SCALE).astype(np.int16), low * CANNY_SCALE, high * CANNY_SCALE, L2gradient=True)
        out[i] = torch.from_numpy((e == 0).astype(np.float32))
    return out


@pytest.mark.parametrize("low,high,sigma", [(0.1, 0.2, 1.0), (0.02, 0.1, 2.0), (0.3, 0.3, 0.5)])
def test_canny_fast_path_equals_the_reference_and_the_luma_path(threads, low, high, sigma):
    threads(2)
    images, _ = disc_scene(5, 64)
    noisy = (images + 0.05 * torch.randn(images.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    x = torch.cat([images, noisy])
    fast = canny_edges(x, low=low, high=high, sigma=sigma)  # CPU float32: luminance per item
    assert fast.dtype == torch.float32 and fast.shape == x.shape
    assert torch.equal(fast, _canny_reference(x, low, high, sigma))
    slow = canny_edges(x.double(), low=low, high=high, sigma=sigma)  # luminance in float64, then the same OpenCV steps
    assert slow.dtype == torch.float64
    assert (slow.float() != fast).float().mean() < 1e-3


@pytest.mark.parametrize("shape", [(6, 3, 48, 48), (3, 3, 17, 13), (1, 3, 1, 1)])
def test_grayscale_fast_path_equals_the_torch_arithmetic(threads, shape):
    threads(2)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(2))
    x[0, :, 0, 0] = torch.tensor([1.0, 1.0, 1.0])  # white stays white-ish in both
    expected = torch.mul(x[:, 0:1], LUMA[0])
    expected.add_(x[:, 1:2], alpha=LUMA[1]).add_(x[:, 2:3], alpha=LUMA[2])  # the torch path: fused multiply-adds
    out = grayscale(x)
    assert torch.equal(out, expected.expand_as(x))
    cl = grayscale(x.contiguous(memory_format=torch.channels_last))  # a strided input takes the same path after a copy
    assert torch.equal(cl, out)


def test_contrast_fast_path_equals_the_torch_arithmetic(threads):
    threads(2)
    x = torch.rand(7, 3, 21, 19, generator=torch.Generator().manual_seed(3))
    c = torch.tensor([0.05, 0.3, 1.0, 0.77, 0.1, 0.0, 0.51])
    expected = torch.mul(x, c.view(-1, 1, 1, 1)).add_((1.0 - c.view(-1, 1, 1, 1)) * 0.5)  # the torch path
    assert torch.equal(contrast(x, c), expected)
    assert torch.equal(contrast(x, [0.3] * 7), torch.mul(x, 0.3).add_((1.0 - torch.tensor(0.3)) * 0.5))


@pytest.mark.parametrize("fg,bg,threshold", [(0.0, 1.0, None), (1.0, 0.0, None), (0.2, 0.7, None), (0.0, 1.0, 0.3), (1.0, 0.0, 0.5)])
def test_silhouette_one_pass_equals_the_two_step_arithmetic(fg, bg, threshold):
    m = torch.rand(3, 1, 19, 23, generator=torch.Generator().manual_seed(5))
    m[0, 0, 0, :4] = torch.tensor([0.0, 1.0, float("nan"), 1e-30])
    out = silhouette(m, threshold=threshold, fg=fg, bg=bg)
    src = m if threshold is None else (m >= threshold).float()
    expected = torch.mul(src, fg - bg).add_(bg).expand(-1, 3, -1, -1)
    assert out.shape == (3, 3, 19, 23) and torch.equal(out.nan_to_num(-7.0), expected.nan_to_num(-7.0))


def test_luma_weights_are_the_float32_bt601_weights():
    assert [np.float32(v) for v in LUMA] == [np.float32(0.299), np.float32(0.587), np.float32(0.114)]
