"""Building a stimulus set from a recipe: stream batches through the pipeline onto disk.

``build_recipe(recipe, out_dir)`` resolves the assets, numbers the design's items
``0..N-1``, and for each batch of items assembles the base images and masks,
runs the pipeline (built once per combination of the factor levels it uses;
every item draws from ``(seed, index, path)``, so any batch split gives the same
bytes), and hands the 8-bit images to the writer threads.  Nothing holds the
whole set in memory.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import FoolboxLiteError, InputError, ParameterError
from ..files import sha256_text
from ..stimuli import MASK, Item, Stimuli
from ..stimulus_set.datasheet import render_datasheet
from ..stimulus_set.folder_lock import lock_folder
from ..stimulus_set.format import MANIFEST, SetInfo, write_set_info
from ..stimulus_set.lock import REPRODUCIBILITY, build_key, device_info, read_lock, versions, write_lock
from ..stimulus_set.outputs import is_empty, refuse_inputs_inside, removed_on_failure
from ..stimulus_set.writer import (
    DATASHEET,
    IMAGES,
    LOCK,
    PARTIAL,
    SHARDS,
    OrderedSink,
    prepare_folder,
    read_resumable,
    write_atomic,
)
from .assets import RecipeAsset, resolve_assets
from .batch_out import BatchOutput, stack_u8
from .build_settings import check_build_args, default_writers, one_torch_thread
from .controls import TwinMaker, check_controls
from .design import DesignItem, DesignPlan, plan_design
from .load import canonical_label, load_recipe
from .pipeline import PipelineFactory
from .schema import Recipe
from .stream import build_items

__all__ = ["Builder", "build_items", "build_recipe", "build_with_progress", "complete", "finish_set", "open_output", "set_meta"]

#: Bytes of 8-bit outputs one :meth:`Builder.run_batch` call may hold (see :meth:`Builder.window`).
WINDOW_BYTES = 32 << 20


def _check_device(device: str) -> str:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"unknown device {device!r}: {exc}", hint="use cpu, cuda or cuda:0") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} is not available: this torch has no CUDA device", hint="use --device cpu")
    return str(dev)


class Builder:
    """Everything a build needs, resolved once: recipe, assets, design, pipelines, lock."""

    def __init__(self, recipe: Recipe, device: str = "cpu") -> None:
        self.recipe = recipe
        self.device = _check_device(device)
        self.size = recipe.height_width
        self.assets = resolve_assets(recipe)
        self.plan: DesignPlan = plan_design(recipe, self.assets)
        self.factory = PipelineFactory(recipe, self.assets, self.device)
        self._labels: dict[tuple[str, str], str] = {}
        self.literal_cues = {}
        for name, c in recipe.cues.items():
            if c.label is not None:
                self.literal_cues[name] = canonical_label(c.label, recipe.label_space)
        self.width = max(6, len(str(self.plan.n - 1)))
        self._validate()
        check_controls(recipe)
        #: The cues that get a control twin, and images per item (the item and its twins).
        self.controls = list(recipe.controls)
        self.slots = 1 + len(self.controls)
        self.twins = TwinMaker(self.controls) if self.controls else None

    @property
    def n_images(self) -> int:
        """Images in the set: every item and its control twins."""
        return self.plan.n * self.slots

    def slot(self, raw: dict[str, Any]) -> int:
        """The manifest position of a manifest line (item-major: the item, then its twins in ``controls`` order)."""
        control = raw.get("control") or ""
        return int(raw["index"]) * self.slots + (1 + self.controls.index(control) if control in self.controls else 0)

    def _validate(self) -> None:
        """Build the pipelines of every combination of levels now, so bad parameters fail before writing."""
        keys = self.factory.factor_keys
        combos = 1
        for f in keys:
            combos *= len(self.plan.factors[f])
        if combos <= 512:
            import itertools

            for lv in itertools.product(*(self.plan.factors[f] for f in keys)):
                self.factory.get(dict(zip(keys, lv)))
        else:
            self.factory.get(self.plan.item(0).levels)
        # every asset that gives a cue must have a label in the label space
        loc8 = self.recipe._locator
        for cname, c in self.recipe.cues.items():
            if c.factor is None:
                continue
            for lv in self.plan.factors[c.factor]:
                try:
                    self._cue(lv.asset, self.recipe.label_space)  # type: ignore[arg-type]
                except FoolboxLiteError as exc:
                    raise loc8.error(ParameterError, ["cues", cname], str(exc.args[0]), exc.hint) if loc8 else exc from None

    def input_files(self) -> list[Path]:
        """Every file the recipe reads (asset images and masks), refused inside the output folder."""
        return [p for lst in self.assets.values() for a in lst for p in a.files]

    def resumable(self, raw: dict[str, Any]) -> bool:
        """Whether an earlier manifest line is exactly what this build writes for its index (names, sidecar)."""
        try:
            item_id = self.item_id(int(raw["index"]))
        except (KeyError, TypeError, ValueError):
            return False
        control = raw.get("control") or ""
        if control:  # a control twin: <id>-<cue>, pointing at its conflict item
            if control not in self.controls or raw.get("twin") != item_id:
                return False
            item_id = f"{item_id}-{control}"
        sidecar = f"{IMAGES}/{item_id}.f32.npy" if self.recipe.sidecars else ""
        return raw.get("id") == item_id and raw.get("file") == f"{IMAGES}/{item_id}.png" and raw.get("sidecar", "") == sidecar

    def _cue(self, asset: RecipeAsset, space: str) -> str:
        key = (asset.id, space)
        if key not in self._labels:
            self._labels[key] = asset.cue_label(space)
        return self._labels[key]

    # ------------------------------------------------------------------ lock
    def lock(self) -> dict[str, Any]:
        r = self.recipe
        assets = {g: [a.lock_entry() for a in lst] for g, lst in self.assets.items()}
        outside = sorted({a.location for lst in self.assets.values() for a in lst if a.location.startswith("..")})
        vers = versions()
        dev = device_info(self.device)
        return {
            "lock_version": 1,
            "recipe_file": r.path.name if r.path else "<text>",
            "recipe_sha256": sha256_text(r._text),
            "recipe": r.model_dump(mode="json", by_alias=True, exclude={"explain"} if r.explain is None else None),
            "assets": assets,
            "paths_outside_recipe_folder": outside,
            "design": {"mode": self.plan.mode, "n": self.plan.n, "repeat": self.plan.repeat},
            "versions": vers,
            "device": dev,
            "build_key": build_key(r._text, assets, vers, dev),
            "reproducibility": REPRODUCIBILITY,
        }

    # ------------------------------------------------------------------ batches
    def window(self, batch_size: int) -> int:
        """Items handed to :meth:`run_batch` at once: up to 8 batches, so that items sharing a pipeline run together
        (random designs spread a batch over many groups), with at most ~32 MiB of outputs (8-bit images, masks, sidecars)."""
        h, w = self.size
        per_item = self.slots * h * w * (4 + (12 if self.recipe.sidecars else 0))
        return max(batch_size, min(8 * batch_size, WINDOW_BYTES // per_item))

    def max_pending(self, batch_size: int) -> int:
        """Images queued for the writer threads at most: a window's, and two batches' more (memory stays bounded)."""
        return (self.window(batch_size) + 2 * batch_size) * self.slots

    def item_id(self, index: int) -> str:
        return f"{index:0{self.width}d}"

    def run_batch(self, ditems: Sequence[DesignItem], group_size: int | None = None, on_stored: Callable[[BatchOutput, list[int]], None] | None = None,
                  ) -> tuple[torch.Tensor, list[Item], list[str], torch.Tensor | None, list[torch.Tensor | None]]:
        """Compute a batch: uint8 ``(B * slots, H, W, 3)`` on the CPU, the items (cues, sources, params), the conditions,
        the float32 ``(B * slots, 3, H, W)`` images before rounding when the recipe asks for sidecars, and the final
        foreground mask of each image as uint8 ``(H, W)`` (255 = object), or None for an image without one.

        The pipeline runs once per group of items sharing the factor levels it uses, on at most
        ``group_size`` items at a time (float images exist for those only); ``on_stored(output, positions)``
        is called as each group's images (and then its twins) are final, so writing can start at once.
        Outputs are item-major: each item, then its control twins in ``controls`` order."""
        r = self.recipe
        base = r.design.base
        imgs, masks, items = [], [], []
        for d in ditems:
            a = d.levels[base].asset
            assert a is not None
            img, mask = a.load(self.size)  # uint8, converted to float for the whole batch at once
            imgs.append(img)
            masks.append(mask)
            cues = {}
            for cname, c in r.cues.items():
                if c.factor is not None:
                    cues[cname] = self._cue(d.levels[c.factor].asset, r.label_space)  # type: ignore[arg-type]
                elif c.label is not None:
                    cues[cname] = self.literal_cues[cname]
            items.append(Item(id=self.item_id(d.index), index=d.index, cues=cues))
        any_mask = any(m is not None for m in masks)  # then every item has the layer (all ones without a mask)
        # group items by the factor levels the pipeline uses; each group runs its own operators
        groups: dict[tuple[str, ...], list[int]] = {}
        for pos, d in enumerate(ditems):
            groups.setdefault(self.factory.key(d.levels), []).append(pos)
        chunks = [g[i:i + (group_size or len(g))] for g in groups.values() for i in range(0, len(g), group_size or len(g))]
        n_out = len(ditems) * self.slots
        # an item's final mask is kept when its base asset has one or an operator made the layer (e.g. segmentation);
        # its control twins keep theirs under the same rule
        res_out = BatchOutput(n_out, self.size, sidecars=r.sidecars, has_mask=[masks[k // self.slots] is not None for k in range(n_out)],
                              stim_has_mask=any_mask)
        store = res_out.store
        with torch.inference_mode():
            for pos in chunks:
                layers = {MASK: stack_u8([masks[p] for p in pos], self.device, (1, *self.size))} if any_mask else {}
                sub = Stimuli(stack_u8([imgs[p] for p in pos], self.device), layers, [items[p] for p in pos])
                pipe = self.factory.get(ditems[pos[0]].levels)
                res = pipe(sub) if pipe is not None else sub
                if tuple(res.images.shape[-2:]) != tuple(self.size):
                    raise ParameterError(f"the pipeline changed the image size to {tuple(res.images.shape[-2:])}; a stimulus set has one size ({self.size})")
                for j, p in enumerate(pos):
                    it = res.items[j]
                    for fname, lv in ditems[p].levels.items():  # the design's asset ids win over what operators noted
                        if lv.asset is not None:
                            it.sources[fname] = lv.asset.id
                            it.sources[f"{fname}.sha256"] = lv.asset.sha256
                store(res, [p * self.slots for p in pos])
                if on_stored is not None:
                    on_stored(res_out, [p * self.slots for p in pos])
                if self.twins is not None and pipe is not None:
                    for j, twins in enumerate(self.twins(pipe, sub, res).values()):
                        store(twins, [p * self.slots + 1 + j for p in pos])
                        if on_stored is not None:
                            on_stored(res_out, [p * self.slots + 1 + j for p in pos])
        for cname, c in r.cues.items():
            if c.op is not None:
                for it in res_out.items:
                    if it is not None and cname not in it.cues:
                        raise ParameterError(f"cue {cname!r} should be set by operator {c.op!r}, but item {it.id} has none", hint=f"check that {c.op!r} is in the pipeline and sets the {cname!r} cue")
        items_out = [it for it in res_out.items if it is not None]
        return res_out.u8, items_out, [d.condition for d in ditems for _ in range(self.slots)], res_out.f32, res_out.masks()


def _stats(path: Path) -> tuple[Counter[str], dict[str, Counter[str]], int, Counter[str]]:
    """Counts per condition and cue label over the conflict items, the number of lines, and twins per kept cue."""
    conditions: Counter[str] = Counter()
    cues: dict[str, Counter[str]] = {}
    controls: Counter[str] = Counter()
    n = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            raw = json.loads(line)
            n += 1
            if raw.get("control"):
                controls[raw["control"]] += 1
                continue
            conditions[raw.get("condition", "")] += 1
            for k, v in raw.get("cues", {}).items():
                cues.setdefault(k, Counter())[v] += 1
    return conditions, cues, n, controls


def todo_items(builder: Builder, old: dict[int, str], start: int = 0, stop: int | None = None) -> list[int]:
    """The items of ``[start, stop)`` with an image (the item's or a twin's) not among ``old`` manifest positions."""
    slots = builder.slots
    return [i for i in range(start, builder.plan.n if stop is None else stop) if any(i * slots + j not in old for j in range(slots))]


def set_meta(builder: Builder) -> dict[str, Any]:
    """What finishing a set needs besides its manifest and lock (JSON-able, so shards can hand it to ``merge``)."""
    r = builder.recipe
    return {
        "name": r.name, "label_space": r.label_space, "cues": list(r.cues), "reference_cue": r.reference_cue,
        "description": r.description, "models": list(r.models), "n": builder.plan.n, "n_images": builder.n_images, "controls": list(builder.controls),
        "assets": [a.lock_entry() for lst in builder.assets.values() for a in lst],
        "citations": [r.citation] + [a.citation for lst in builder.assets.values() for a in lst],
    }


def open_output(builder: Builder, out: Path, lock: dict[str, Any], *, resume: bool) -> dict[int, str]:
    """Start writing a whole build into the locked, prepared ``out``; the manifest lines of a resumed
    build's verified images, by manifest position (none for a fresh build, whose lock is written now).

    A resume also picks up the images of shard builds (``shards/*.jsonl``) in ``out``: any engine's
    partial build of the same recipe can be completed by any other.
    """
    if resume and out.is_dir() and not is_empty(out):
        check_same_build(out, lock, "--resume only completes the same build; use --force to overwrite it")
        prepare_folder(out, resume=True, force=False)
        parts = sorted(p.relative_to(out).as_posix() for p in (out / SHARDS).glob("*.jsonl*")) if (out / SHARDS).is_dir() else []
        found = read_resumable(out, builder.resumable, slot=builder.slot, files=[MANIFEST, PARTIAL, *parts])
        return {i: line for i, line in found.items() if i < builder.n_images}
    write_lock(out, lock)
    return {}


def check_same_build(out: Path, lock: dict[str, Any], hint: str) -> None:
    """Refuse ``out`` unless its lock file records the same ``build_key`` as ``lock``."""
    if read_lock(out).get("build_key") != lock["build_key"]:
        raise InputError(f"{str(out)!r} was built from another recipe, other assets, other package versions or another device", hint=hint)


def finish_set(out: Path, meta: dict[str, Any], lock: dict[str, Any], manifest: Path, *, lock_written: bool = False) -> int:
    """Write ``set.json``, ``DATASHEET.md`` and (when missing or from another engine) the lock, from the
    complete manifest in order; returns its number of lines.  The caller then renames it into place.
    ``lock_written``: this process wrote ``lock`` into ``out`` (a fresh build), so it is not read back."""
    conditions, cue_counts, n, twin_counts = _stats(manifest)
    if n != meta["n_images"]:
        raise RuntimeError(f"the manifest has {n} lines for {meta['n_images']} images")
    cue_names = list(meta["cues"]) + sorted(set(cue_counts) - set(meta["cues"]))
    extra: dict[str, Any] = {"recipe": lock["recipe_file"], "build_key": lock["build_key"], "models": list(meta["models"])}
    if meta["controls"]:
        extra["controls"] = list(meta["controls"])
    info = SetInfo(name=meta["name"], label_space=meta["label_space"], cues=cue_names, reference_cue=meta["reference_cue"], n=n, description=meta["description"],
                   extra=extra)
    write_set_info(out, info)
    sheet = render_datasheet(
        name=meta["name"], description=meta["description"], n=n, label_space=meta["label_space"], reference_cue=meta["reference_cue"],
        conditions=conditions, cue_counts={c: cue_counts.get(c, Counter()) for c in cue_names},
        assets=meta["assets"], citations=meta["citations"],
        versions=lock["versions"], device=lock["device"], recipe_name=lock["recipe_file"], reproducibility=REPRODUCIBILITY,
        controls=twin_counts,
    )
    write_atomic(out / DATASHEET, sheet.encode("utf-8"), fsync=True)
    if not lock_written and (not (out / LOCK).is_file() or read_lock(out).get("engine") != lock.get("engine")):
        write_lock(out, lock)
    return n


def build_recipe(
    recipe_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    batch_size: int = 32,
    device: str = "cpu",
    workers: int | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Build the stimulus set a recipe describes into ``out_dir`` and return ``out_dir``.

    ``batch_size`` items are computed together; ``workers`` threads encode and write
    PNGs meanwhile (``None``: :func:`default_writers`; 0: the main thread writes them).
    Neither changes a byte of the result.  A non-empty ``out_dir`` is
    refused unless ``resume`` (complete an interrupted build of the same recipe) or
    ``force`` (overwrite).  To build on a Ray cluster or as shards, see :mod:`foolbox_lite.scale`.
    """
    with one_torch_thread():
        return _build(recipe_path, out_dir, batch_size=batch_size, device=device, workers=default_writers() if workers is None else workers, resume=resume, force=force, progress=progress)


def _build(recipe_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, batch_size: int, device: str, workers: int, resume: bool, force: bool, progress: bool) -> Path:
    check_build_args(batch_size, workers)
    recipe = load_recipe(recipe_path)
    builder = Builder(recipe, device=device)
    out = Path(out_dir)
    refuse_inputs_inside(out, builder.input_files(), "recipe input")
    with lock_folder(out) as held:
        if resume and not is_empty(out):
            return _write(builder, out, batch_size=batch_size, workers=workers, resume=True, progress=progress)
        with removed_on_failure(out, held.created, keep_on_interrupt=True):
            prepare_folder(out, resume=False, force=force)  # refuses a non-empty OUT, or removes what an earlier build wrote
            return _write(builder, out, batch_size=batch_size, workers=workers, resume=False, progress=progress)


def _write(builder: Builder, out: Path, *, batch_size: int, workers: int, resume: bool, progress: bool) -> Path:
    """Write the set into the locked folder ``out`` (resuming an earlier build when asked)."""
    lock = builder.lock()
    old = open_output(builder, out, lock, resume=resume)
    todo = todo_items(builder, old)
    sink = OrderedSink(out, builder.n_images, workers=workers, old=old, max_pending=builder.max_pending(batch_size),
                       png_compression=builder.recipe.png_compression)
    build_with_progress(builder, out, todo, sink, batch_size=batch_size, initial=builder.plan.n - len(todo), desc=f"build {builder.recipe.name}", progress=progress)
    complete(builder, out, lock, sink, lock_written=not resume)
    return out


def build_with_progress(builder: Builder, out: Path, todo: Sequence[int], sink: OrderedSink, *, batch_size: int, initial: int, desc: str, progress: bool) -> None:
    """:func:`build_items` under a progress bar (in items), then drain ``sink``; on an error or Ctrl-C the sink keeps what is finished."""
    from tqdm.auto import tqdm

    bar = tqdm(total=initial + len(todo), initial=initial, unit="item", desc=desc, disable=not progress, dynamic_ncols=True)
    try:
        build_items(builder, out, todo, sink, batch_size=batch_size, on_batch=bar.update)
        sink.drain()
    except BaseException:
        sink.abort()
        raise
    finally:
        bar.close()


def complete(builder: Builder, out: Path, lock: dict[str, Any], sink: OrderedSink, *, lock_written: bool = False) -> None:
    """Finish a whole build: set.json, datasheet and lock, the manifest renamed into place, shard parts it completed dropped."""
    finish_set(out, set_meta(builder), lock, out / PARTIAL, lock_written=lock_written)
    sink.commit()
    shutil.rmtree(out / SHARDS, ignore_errors=True)
