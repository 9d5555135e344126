"""``explain_set``: maps of each classifier, method and target over a stimulus set, on disk.

Layout of ``OUT``::

    maps/<model>/<method>/<target>/<id>.npy      float16 (H, W), positive = evidence for the target
    overlays/<model>/<method>/<target>/<id>.png  the map over the stimulus
    attribution.csv                               one row per trial: target label, spatial statistics, factors
    summary.json                                  per observer, method (and target, design factor)
    sanity.json                                   with ``sanity``: rank correlations per randomisation stage
    report.html                                   gallery, per-cue panels, sanity plot

Items are read in manifest order (those whose design factors match ``where``, every
``every``-th, at most ``limit``); every method is
deterministic for given weights, and randomised weights come from seeded generators, so a
rerun writes the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ..assets.io import read_pil
from ..classifiers import Classifier, load_classifier
from ..errors import InputError, ParameterError
from ..evaluator.run import load_stimulus_set, resolve_device
from ..files import atomic_write_bytes, atomic_write_text
from ..stimulus_set.format import ManifestEntry
from ..stimulus_set.layers import MASK_LAYER, read_mask
from .methods import CAPTUM_METHODS, METHODS, MethodOptions, attribute, check_method
from .overlay import overlay_png
from .sanity import SURVIVES, cascade_stages, randomised, spearman
from .scores import ScoreModel, resolve_targets
from .spatial import STAT_NAMES, aggregate, by_factor, spatial_stats

__all__ = ["ExplainResult", "explain_set", "target_slug"]


@dataclass
class ExplainResult:
    """What :func:`explain_set` wrote: the folder, the summary, one row per trial, and the sanity results."""

    out: Path
    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    sanity: dict[str, Any] = field(default_factory=dict)
    set_folder: Path | None = None


def target_slug(target: str) -> str:
    return target.replace(":", "-")


def _check_targets(targets: Sequence[str], cues: Sequence[str]) -> list[str]:
    if not targets:
        raise ParameterError("give at least one target: decision or cue:<name>")
    for t in targets:
        if t == "decision":
            continue
        if not t.startswith("cue:") or t[4:] not in cues:
            raise ParameterError(f"unknown target {t!r}; valid targets: decision, " + ", ".join(f"cue:{c}" for c in cues))
    return list(dict.fromkeys(targets))


def _image(folder: Path, e: ManifestEntry) -> torch.Tensor:
    arr = np.array(read_pil(folder / e.file).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)


def _npy(arr: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr.numpy().astype(np.float16)), allow_pickle=False)
    return buf.getvalue()


def _clean(v: Any) -> Any:
    """NaN -> None, recursively (summary.json is strict JSON)."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def explain_set(
    folder: str | Path,
    models: Sequence[str | Classifier] = ("efficientnet_lite0",),
    methods: Sequence[str] = ("occlusion",),
    *,
    targets: Sequence[str] = ("decision",),
    out: str | Path = "out/explain",
    options: MethodOptions | None = None,
    spatial: bool = True,
    sanity: bool = False,
    sanity_items: int = 4,
    sanity_stages: int = 4,
    every: int = 1,
    limit: int | None = None,
    where: dict[str, Sequence[str]] | None = None,
    batch_size: int = 8,
    device: str | torch.device | None = "auto",
    overlays: bool = True,
    report: bool = True,
    on_mismatch: Literal["error", "warn", "skip"] = "error",
    seed: int = 0,
    progress: bool = True,
) -> ExplainResult:
    """Compute and write the maps of every model x method x target over the set (see the module doc)."""
    for name, v, lo in (("every", every, 1), ("batch_size", batch_size, 1), ("sanity_items", sanity_items, 1), ("sanity_stages", sanity_stages, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ParameterError(f"{name} must be an integer >= {lo}, got {v!r}")
    methods = [check_method(m) for m in dict.fromkeys(methods)]
    if not methods:
        raise ParameterError(f"give at least one method: {', '.join(METHODS)}")
    opts = options or MethodOptions()
    loaded = load_stimulus_set(folder, on_mismatch)
    targets = _check_targets(targets, loaded.cues)
    entries = [e for e in loaded.entries if _matches(e, where or {})][::every][: limit if limit is not None else None]
    if not entries:
        raise ParameterError(f"no items selected (every={every}, limit={limit}, where={where})", hint="design factors are named in each manifest line's 'factors'")
    if spatial:
        bare = [e.id for e in entries if MASK_LAYER not in (e.layers or {})]
        if bare:
            raise InputError(
                f"the set {str(loaded.folder)!r} has no object masks for {len(bare)} of {len(entries)} items (e.g. {bare[0]!r}), which spatial attribution needs",
                hint="rebuild the set with 'foolbox-lite build' (it writes masks/<id>.png), or pass --no-spatial for maps without the spatial statistics",
            )
    dev = resolve_device(device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    classifiers = [m if isinstance(m, Classifier) else load_classifier(m) for m in models]
    cue_labels = sorted({v for e in entries for v in e.cues.values()})
    rows: list[dict[str, Any]] = []
    sanity_out: dict[str, Any] = {}
    from tqdm.auto import tqdm

    bar = tqdm(total=len(entries) * len(classifiers) * len(methods) * len(targets), unit="map", desc="explain", disable=not progress, dynamic_ncols=True)
    for clf in classifiers:
        model = ScoreModel(clf, loaded.info.label_space).to(dev).eval()
        if opts.layer is not None and "grad-cam" in methods:
            from .gradients import find_layer

            find_layer(model.net, opts.layer)
        first: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}  # method -> (images, targets, maps) for the sanity check
        for start in range(0, len(entries), batch_size):
            chunk = entries[start:start + batch_size]
            x = torch.stack([_image(loaded.folder, e) for e in chunk]).to(dev)
            masks = torch.stack([torch.from_numpy(read_mask(loaded.folder, e.layers, e.id)) for e in chunk]) if spatial else None
            decided = resolve_targets(model, x, [e.cues for e in chunk], "decision", cue_labels)
            for tgt in targets:
                labels, cols = decided if tgt == "decision" else resolve_targets(model, x, [e.cues for e in chunk], tgt, cue_labels)
                for method in methods:
                    maps = attribute(model, method, x, cols.to(dev), opts)
                    stats = spatial_stats(maps, masks) if masks is not None else None
                    for k, e in enumerate(chunk):
                        rel = f"{clf.name}/{method}/{target_slug(tgt)}/{e.id}"
                        valid = int(cols[k]) >= 0
                        if valid:
                            atomic_write_bytes(out / "maps" / f"{rel}.npy", _npy(maps[k]), fsync=False)
                            if overlays:
                                atomic_write_bytes(out / "overlays" / f"{rel}.png", overlay_png(x[k].cpu(), maps[k]), fsync=False)
                        row = {"observer": clf.name, "method": method, "target": tgt, "stimulus_id": e.id, "file": e.file,
                               "label": labels[k], "decision": decided[0][k], "condition": e.condition, "factors": dict(e.factors),
                               "map": f"maps/{rel}.npy" if valid else "", "overlay": f"overlays/{rel}.png" if valid and overlays else ""}
                        for s in STAT_NAMES:
                            row[s] = stats[s][k] if stats is not None and valid else math.nan
                        rows.append(row)
                    if sanity and tgt == targets[0]:
                        _keep_first(first, method, x, cols, maps, sanity_items)
                    bar.update(len(chunk))
        if sanity:
            sanity_out[clf.name] = _sanity(model, first, opts, sanity_stages, seed)
    bar.close()
    summary = _summary(rows, targets, methods, sanity_out, loaded, spatial)
    _write_csv(out / "attribution.csv", rows)
    atomic_write_text(out / "summary.json", json.dumps(_clean(summary), indent=2, allow_nan=False) + "\n")
    if sanity:
        atomic_write_text(out / "sanity.json", json.dumps(_clean(sanity_out), indent=2, allow_nan=False) + "\n")
    result = ExplainResult(out, _clean(summary), rows, _clean(sanity_out), loaded.folder)
    if report:
        from ..report.explain import write_explain_report

        write_explain_report(result)
    return result


def _matches(e: ManifestEntry, where: dict[str, Sequence[str]]) -> bool:
    """Whether the item's design factor levels are among the wanted ones (``{factor: [levels]}``, compared as text)."""
    return all(k in e.factors and str(e.factors[k]) in {str(v) for v in vals} for k, vals in where.items())


def _keep_first(first: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]], method: str, x: torch.Tensor, cols: torch.Tensor, maps: torch.Tensor, n: int) -> None:
    """Collect the first ``n`` items with a target for the randomisation test."""
    ok = (cols >= 0).nonzero().flatten()
    have = first.get(method)
    take = ok[: n - (0 if have is None else len(have[1]))]
    if len(take) == 0:
        return
    new = (x[take].cpu(), cols[take], maps[take])
    first[method] = new if have is None else tuple(torch.cat([a, b]) for a, b in zip(have, new))  # type: ignore[assignment]


def _sanity(model: ScoreModel, first: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]], opts: MethodOptions, n_stages: int, seed: int) -> dict[str, Any]:
    """Rank correlation of original and randomised maps per cascade stage, per method."""
    stages = cascade_stages(model.net, n_stages)
    dev = next(model.parameters()).device
    result: dict[str, Any] = {}
    for method, (x, cols, maps) in first.items():
        per_stage = []
        for label, layers in stages:
            rnd = randomised(model, [f"net.{n}" for n in layers], seed).eval()
            rmaps = attribute(rnd, method, x.to(dev), cols.to(dev), opts)
            rhos = [spearman(maps[k].numpy(), rmaps[k].numpy()) for k in range(len(cols))]
            finite = [r for r in rhos if math.isfinite(r)]
            per_stage.append({"down_to": label, "layers": len(layers), "rank_corr": float(np.mean(finite)) if finite else math.nan, "per_item": rhos})
        # the mean over the cascade: a method that ignores the top (class-carrying) layers scores high even if
        # fully random weights finally change its maps (guided backprop, Adebayo et al. Fig. 2)
        vals = [st["rank_corr"] if math.isfinite(st["rank_corr"]) else 0.0 for st in per_stage]
        mean = float(np.mean(vals)) if vals else math.nan
        result[method] = {"n": len(cols), "stages": per_stage, "rank_corr": mean, "rank_corr_all_random": per_stage[-1]["rank_corr"] if per_stage else math.nan,
                          "survives": bool(math.isfinite(mean) and mean > SURVIVES)}
    return result


def _summary(rows: list[dict[str, Any]], targets: list[str], methods: list[str], sanity: dict[str, Any], loaded: Any, spatial: bool) -> dict[str, Any]:
    observers: dict[str, Any] = {}
    for obs in dict.fromkeys(r["observer"] for r in rows):
        ms: dict[str, Any] = {}
        for m in methods:
            per_target = {}
            for t in targets:
                sel = [r for r in rows if r["observer"] == obs and r["method"] == m and r["target"] == t]
                per_target[t] = aggregate(sel) | {"by_factor": by_factor(sel)}
            s = sanity.get(obs, {}).get(m, {})
            head = per_target[targets[0]]
            ms[m] = {k: head[k] for k in ("n", *STAT_NAMES)} | {
                "sanity_rank_corr": s.get("rank_corr"),
                "survives_randomisation": s.get("survives"),
                "by_factor": head["by_factor"],
                "targets": per_target,
            }
        observers[obs] = {"methods": ms}
    return {
        "set": {"name": loaded.info.name, "folder": str(loaded.folder), "label_space": loaded.info.label_space},
        "targets": targets,
        "spatial": spatial,
        "sanity_threshold": SURVIVES if sanity else None,
        "captum_methods": [m for m in methods if m in CAPTUM_METHODS],
        "observers": observers,
    }


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    factors = sorted({f for r in rows for f in r["factors"]})
    cols = ["observer", "method", "target", "stimulus_id", "file", "label", "decision", "condition", *STAT_NAMES, *(f"factor_{f}" for f in factors), "map", "overlay"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        vals = {**r, **{f"factor_{f}": r["factors"].get(f, "") for f in factors}}
        w.writerow(["" if isinstance(vals[c], float) and not math.isfinite(vals[c]) else (f"{vals[c]:.6g}" if isinstance(vals[c], float) else vals[c]) for c in cols])
    return atomic_write_text(path, buf.getvalue())
