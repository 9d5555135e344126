"""Evaluating a stimulus set: read and verify it, run every model over it in manifest order, attribute each decision to a cue.

The device is chosen once; images are decoded by background threads while the models
run (:mod:`~foolbox_lite.evaluator.batches`), on the CPU straight into the models'
normalised input when they share one, else into a uint8 buffer that each model
normalises into its own reused float buffer.  The models run under
``torch.inference_mode`` in the engine :mod:`~foolbox_lite.evaluator.engine` picks (ONNX
Runtime on the CPU when installed, else channels-last torch), in lanes where that pays
(:mod:`~foolbox_lite.evaluator.inference`).  Every batch is decoded once and shown to all models.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import torch

from ..allocator import tune_allocator
from ..classifiers import Classifier, imagenet_labels, load_classifier
from ..errors import InputError, ParameterError
from ..labels.mappings import LabelMapping, get_mapping
from ..stimulus_set.format import ManifestEntry, SetInfo, read_manifest, read_set_info, verify_entries
from .analyses import add_analyses
from .batches import BatchReader
from .cues import Trial, check_cue, cue_order, followed_cue
from .decisions import Decider, DecisionRule, make_decider
from .evidence import EvidenceRecorder
from .inference import DEFAULT_BATCH_SIZE, infer_batches, lane_plan, make_runners, resolve_device, run_batches, run_lanes
from .metrics import summarize
from .observers import StimulusInfo, read_observers
from .validity import mark_validity

__all__ = ["DEFAULT_BATCH_SIZE", "EvalSetup", "Evaluation", "Evidence", "decide_locally", "evaluate_set", "infer_batches", "load_stimulus_set", "prepare_evaluation", "resolve_device"]

@dataclass
class LoadedSet:
    folder: Path
    info: SetInfo
    entries: list[ManifestEntry]
    stimuli: list[StimulusInfo]
    cues: list[str]
    problems: list[str] = field(default_factory=list)
    #: the cue labels of the whole set (decision rules restricted to the cues' classes use them)
    cue_labels: list[str] = field(default_factory=list)
    #: files checked for existence only: their sha256 is checked on the bytes read for decoding
    hashes_pending: bool = False

    def labels_per_item(self) -> list[list[str]]:
        """Each stimulus's cue labels, in manifest order: the labels whose evidence its trial reads."""
        return [list(s.cues.values()) for s in self.stimuli]

    @property
    def controls(self) -> list[str]:
        """The cues the set has control twins for, in manifest order (empty: no controls)."""
        return list(dict.fromkeys(e.control for e in self.entries if e.control))

    def by_name(self) -> dict[str, StimulusInfo]:
        """Stimuli keyed by file name (raises if two share a name, as observers could not be matched)."""
        out: dict[str, StimulusInfo] = {}
        for s in self.stimuli:
            name = Path(s.file).name
            if name in out:
                raise InputError(f"two stimuli of the set share the file name {name!r}; observer files cannot name them apart")
            out[name] = s
        return out


def load_stimulus_set(folder: str | Path, on_mismatch: Literal["error", "warn", "skip"] = "error", *,
                      part: tuple[int, int] | None = None, verify: bool = True, defer_hashes: bool = False) -> LoadedSet:
    """Read a set's header and manifest and verify every image's sha256 (``on_mismatch``: error, warn or skip).

    ``part=(start, stop)`` keeps (and verifies) only those manifest positions, with the cue
    order and labels of the whole set, so a shard decides as the whole run would.
    ``defer_hashes`` (with ``on_mismatch="error"``): check paths now and each sha256 on the
    bytes the evaluation reads (``hashes_pending``), so every file is read once.
    """
    folder = Path(folder)
    info = read_set_info(folder)
    entries = read_manifest(folder)
    if not entries:
        raise InputError(f"the manifest of {str(folder)!r} lists no images")
    if on_mismatch not in ("error", "warn", "skip"):
        raise ParameterError(f"on_mismatch must be error, warn or skip, got {on_mismatch!r}")
    context = entries
    if part is not None:
        entries = entries[part[0]:part[1]]
    problems: list[str] = []
    pending = verify and defer_hashes and on_mismatch == "error"
    if verify:
        entries, problems = verify_entries(folder, entries, on_mismatch, hashes=not pending)
    if not entries:
        raise InputError(f"no image of {str(folder)!r} passed verification", hint="; ".join(problems[:3]))
    if part is None:
        context = entries
    stimuli = [StimulusInfo(e.id, e.file, dict(e.cues), str(e.condition or ""), e.control, e.twin, dict(e.factors)) for e in entries]
    labels = sorted({v for e in context for v in e.cues.values()})
    return LoadedSet(folder, info, entries, stimuli, cue_order(info.cues, [e.cues for e in context]), problems, labels, pending)


def _map_cues(loaded: LoadedSet, mapping: LabelMapping) -> LoadedSet:
    """An ImageNet-1k set seen through a mapping: each cue's wnid becomes its category (or stays, matching nothing)."""
    labels = imagenet_labels()
    cat = {labels.wnids[i]: c for c, members in mapping.categories.items() for i in members}
    stimuli = [replace(s, cues={k: cat.get(v, v) for k, v in s.cues.items()}) for s in loaded.stimuli]
    info = replace(loaded.info, label_space=mapping.name)
    return replace(loaded, info=info, stimuli=stimuli, cue_labels=sorted({cat.get(v, v) for v in loaded.cue_labels}))


@dataclass
class Evaluation:
    """Trials of every observer on one stimulus set, and the set they refer to."""

    set: LoadedSet
    trials: dict[str, list[Trial]]
    reference_cue: str
    models: list[str] = field(default_factory=list)

    @property
    def cues(self) -> list[str]:
        return self.set.cues

    def summary(self, accuracy_cue: str | None = None) -> dict[str, object]:
        """The ``summary.json`` object (:func:`foolbox_lite.evaluator.metrics.summarize` plus
        :func:`foolbox_lite.evaluator.analyses.add_analyses`)."""
        if accuracy_cue is not None:
            check_cue(accuracy_cue, self.cues, "accuracy cue")
        summary = summarize(self.trials, self.cues, reference_cue=self.reference_cue, accuracy_cue=accuracy_cue)
        return add_analyses(summary, self.trials, self.cues, controls=self.set.controls, accuracy_cue=accuracy_cue or self.reference_cue)

    def add_observers(self, pattern: str) -> list[str]:
        """Add the subjects of model-vs-human CSVs matching ``pattern`` as observers; returns their names."""
        found = read_observers(
            pattern, self.set.by_name(), label_space=self.set.info.label_space, reference_cue=self.reference_cue, cue_order=self.cues
        )
        clash = sorted(set(found) & set(self.trials))
        if clash:
            raise InputError(f"observer name(s) {', '.join(clash)} of {pattern!r} clash with observers already evaluated", hint="rename the subjects")
        for ts in found.values():
            mark_validity(ts)
        self.trials.update(found)
        return list(found)


#: One image's graded evidence: rank and probability of each cue label (see :mod:`.evidence`).
Evidence = tuple[dict[str, int], dict[str, float]]


@dataclass
class EvalSetup:
    """A set ready to evaluate: verified stimuli, reference cue, device, classifiers and their decision rules."""

    set: LoadedSet
    reference_cue: str
    device: torch.device
    classifiers: list[Classifier]
    deciders: list[Decider]
    #: the classifiers' names (also when their decisions were made elsewhere and merged)
    names: list[str] = field(default_factory=list)

    def recorders(self) -> list[EvidenceRecorder]:
        """Fresh deciders that also record each image's evidence for the labels of its cues (:meth:`EvidenceRecorder.of`)."""
        per_item = self.set.labels_per_item()
        return [EvidenceRecorder(d, self.set.cue_labels, per_item) for d in self.deciders]

    def trials(self, decisions: Sequence[Sequence[str]], evidence: Sequence[Sequence[Evidence]]) -> dict[str, list[Trial]]:
        """Each classifier's trials from its decisions and evidence by label (one per stimulus, in manifest order)."""
        loaded, ref = self.set, self.reference_cue
        out: dict[str, list[Trial]] = {}
        for name, ds, evid in zip(self.names, decisions, evidence):
            out[name] = [
                Trial(
                    observer=name,
                    stimulus=Path(s.file).name,
                    response=d,
                    followed=followed_cue(d, s.cues, loaded.cues),
                    cues=dict(s.cues),
                    condition=s.condition,
                    reference=s.cues.get(ref, ""),
                    trial=i + 1,
                    session=1,
                    rt=math.nan,
                    stimulus_id=s.id,
                    control=s.control,
                    twin=s.twin,
                    factors=dict(s.factors),
                    ranks={k: e[0][v] for k, v in s.cues.items() if v in e[0]},
                    probs={k: e[1][v] for k, v in s.cues.items() if v in e[1]},
                )
                for i, (s, d, e) in enumerate(zip(loaded.stimuli, ds, evid))
            ]
            mark_validity(out[name])
        return out

    def evaluation(self, decisions: Sequence[Sequence[str]], evidence: Sequence[Sequence[Evidence]], observers: str | None = None) -> Evaluation:
        ev = Evaluation(self.set, self.trials(decisions, evidence), self.reference_cue, self.names)
        if observers:
            ev.add_observers(observers)
        return ev


def prepare_evaluation(
    folder: str | Path,
    models: Sequence[str | Classifier] = ("efficientnet_lite0",),
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    decision: DecisionRule = "auto",
    mapping: str | None = None,
    reference_cue: str | None = None,
    on_mismatch: Literal["error", "warn", "skip"] = "error",
    device: str | torch.device | None = None,
    observers: str | None = None,
    part: tuple[int, int] | None = None,
    verify: bool = True,
    defer_hashes: bool = False,
    names: Sequence[str] | None = None,
    accuracy_cue: str | None = None,
    allow_torchscript: bool = False,
) -> EvalSetup:
    """Check the arguments, read (and verify) the set, load the classifiers and their decision rules.

    ``names``: merge decisions made elsewhere by these classifiers (none is loaded here).
    ``accuracy_cue`` is only checked here (an unknown cue fails before inference);
    ``allow_torchscript`` lets model files that are TorchScript archives (which run their own code) load.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not models and not observers and not names:
        raise ParameterError("nothing to evaluate: give at least one model or an observers glob")
    # sha256s checked on the bytes decoding reads, only when models will read every file (not for observers alone)
    loaded = load_stimulus_set(folder, on_mismatch, part=part, verify=verify, defer_hashes=defer_hashes and bool(models) and names is None)
    if mapping is not None:
        m = get_mapping(mapping)
        if loaded.info.label_space == "imagenet1k":
            loaded = _map_cues(loaded, m)
        elif loaded.info.label_space != m.name:
            raise ParameterError(
                f"the set's labels are in {loaded.info.label_space!r}; they cannot be read through mapping {m.name!r}",
                hint="leave out --mapping: a mapping set is decided through its own mapping",
            )
    info = loaded.info
    ref = reference_cue or info.reference_cue or "shape"
    if reference_cue is not None or loaded.cues:
        check_cue(ref, loaded.cues, "--reference-cue" if reference_cue is not None else "the set's reference_cue (set.json)")
    if accuracy_cue is not None:
        check_cue(accuracy_cue, loaded.cues, "--accuracy-cue")
    dev = resolve_device(device)
    if names is not None:
        return EvalSetup(loaded, ref, dev, [], [], list(names))
    classifiers = [m if isinstance(m, Classifier) else load_classifier(m, allow_torchscript=allow_torchscript) for m in models]
    found = [c.name for c in classifiers]
    dup = sorted({n for n in found if found.count(n) > 1})
    if dup:
        raise ParameterError(f"model {dup[0]!r} is listed twice")
    deciders = [make_decider(c.labels, info.label_space, decision, cue_labels=loaded.cue_labels) for c in classifiers]
    return EvalSetup(loaded, ref, dev, classifiers, deciders, found)


def decide_locally(setup: EvalSetup, batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = True, *, backend: str = "auto") -> tuple[list[list[str]], list[list[Evidence]]]:
    """Every classifier's decision and evidence for every stimulus of the set, in this process (``backend``: see :func:`infer_batches`)."""
    if not setup.classifiers:
        return [], []
    from tqdm.auto import tqdm

    entries = setup.set.entries
    recorders = setup.recorders()
    runners = make_runners(setup.classifiers, recorders, setup.device, batch_size, backend)
    lanes, per_read = lane_plan(runners, setup.device, len(entries), batch_size)
    # on the CPU, decoding threads normalise when every model wants the same input (a GPU gets uint8: a quarter of the bytes)
    shared = setup.device.type == "cpu" and all(r.norm.same_as(runners[0].norm) for r in runners)
    reader = BatchReader([setup.set.folder / e.file for e in entries], per_read, entries if setup.set.hashes_pending else None, runners[0].norm if shared else None)
    with reader, tqdm(total=len(entries), desc=f"evaluating {', '.join(setup.names)}", unit="img", disable=not progress, leave=False) as bar:
        decisions = run_lanes(runners, reader, lanes, bar, batch_size) if lanes else run_batches(runners, reader, bar)
    return decisions, [[rec.of(i) for i in range(len(setup.set.entries))] for rec in recorders]


def evaluate_set(
    folder: str | Path,
    models: Sequence[str | Classifier] = ("efficientnet_lite0",),
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    decision: DecisionRule = "auto",
    mapping: str | None = None,
    reference_cue: str | None = None,
    on_mismatch: Literal["error", "warn", "skip"] = "error",
    device: str | torch.device | None = None,
    observers: str | None = None,
    progress: bool = True,
    accuracy_cue: str | None = None,
    allow_torchscript: bool = False,
    backend: str = "auto",
) -> Evaluation:
    """Run every model over the set (manifest order) and attribute each decision to a cue.

    ``accuracy_cue`` is only checked here (an unknown cue fails before inference);
    ``allow_torchscript`` lets model files that are TorchScript archives (which run their own code) load;
    ``backend`` picks the forward engine (see :func:`infer_batches`).
    To evaluate on a Ray cluster or as shards, see :mod:`foolbox_lite.scale`.
    """
    tune_allocator()  # batches reuse freed heap memory instead of page-faulting fresh mmaps
    setup = prepare_evaluation(folder, models, batch_size=batch_size, decision=decision, mapping=mapping, reference_cue=reference_cue,
                               on_mismatch=on_mismatch, device=device, observers=observers, accuracy_cue=accuracy_cue,
                               allow_torchscript=allow_torchscript, defer_hashes=True)
    decisions, evidence = decide_locally(setup, batch_size, progress, backend=backend)
    return setup.evaluation(decisions, evidence, observers)
