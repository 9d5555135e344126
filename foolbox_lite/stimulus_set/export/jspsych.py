"""A browser experiment that runs the set on human observers, offline, from one folder::

    OUT/index.html                 open it (file:// works; no network at run time)
    OUT/config.js                  the trials, label space, timing and texts (window.FL_CONFIG)
    OUT/experiment.js              the procedure (foolbox_lite/data/jspsych/experiment.js)
    OUT/lib/jspsych/...            jsPsych 8 and its plugins, vendored from npm (LICENSE, VERSIONS.json)
    OUT/stimuli/<file name>        the set's images, bytes and file names unchanged
    OUT/masks/noise-<k>.png        full-contrast 1/f (pink) noise masks, seeded
    OUT/dataset_description.json   Psych-DS metadata; downloaded CSVs go to OUT/data/
    OUT/set.json, manifest.jsonl   the set, as in every export

Each participant (``index.html?participant=ID&session=1``, or asked for) sees
instructions, ``practice`` practice trials (not recorded), then every image once in
an order shuffled from ``seed`` and the participant id (:func:`trial_order`), each as
fixation -> image (``stimulus_ms``) -> noise mask (``mask_ms``) -> forced choice among
the label space's categories (keys ``a``, ``b``... for up to 26, else a searchable list),
with a break every ``break_every`` trials.  At the end the browser downloads
``study-<set>_subject-<id>_session-<s>_data.csv`` with model-vs-human's raw-data columns
(``rt`` in seconds, ``imagename`` = the set's file name), which
``foolbox-lite import responses ... --set SET`` reads.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputError
from ...labels import label_space_names
from ..format import SetInfo
from ..writer import encode_png, write_atomic
from .common import Entries, copy_image, entry_with_file, safe_name, write_manifest

__all__ = ["KEYS", "export_jspsych", "noise_mask", "trial_order"]

KEYS = "abcdefghijklmnopqrstuvwxyz"
VENDORED = ("jspsych.js", "jspsych.css", "plugin-html-keyboard-response.js", "plugin-image-keyboard-response.js", "plugin-survey-html-form.js", "LICENSE", "VERSIONS.json")
RAW_COLUMNS = ("subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename")
TEXT = {
    "participant": "Please enter your participant ID (letters, digits and '-').",
    "instructions": [
        "<p>In each trial you will see a small cross, then an image for a very short time, then a noisy pattern.</p>"
        "<p>Then choose the <b>object category</b> you saw, by pressing its key (or typing its name).</p>",
        "<p>Some images are unusual: an object may have the surface of another. Answer with the first category that comes to mind.</p>"
        "<p>Please answer as accurately as you can; there is no time limit for answering.</p>",
    ],
    "practice": "First, a few practice trials.",
    "main": "The practice is over. Now the experiment starts.",
    "break": "Time for a short break.",
    "continue": "Press the space bar to continue.",
    "question": "Which object category did you see?",
    "done": "Thank you! The experiment is finished. Your data file has been downloaded:",
}
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="lib/jspsych/jspsych.css">
<style>
body {{ background: #808080; color: #000; }}
.fl-fix {{ font-size: 48px; }}
.fl-grid {{ display: grid; grid-template-columns: repeat(4, 12em); gap: 0.5em; justify-content: center; }}
.fl-choice {{ background: #eee; padding: 0.4em; border-radius: 4px; text-align: left; }}
.fl-text {{ max-width: 40em; }}
</style>
<script src="lib/jspsych/jspsych.js"></script>
<script src="lib/jspsych/plugin-html-keyboard-response.js"></script>
<script src="lib/jspsych/plugin-image-keyboard-response.js"></script>
<script src="lib/jspsych/plugin-survey-html-form.js"></script>
<script src="config.js"></script>
</head>
<body>
<div id="jspsych-target"></div>
<script src="experiment.js"></script>
</body>
</html>
"""


def trial_order(seed: int, participant: str, n: int) -> list[int]:
    """The order (item indices) in which ``participant`` sees ``n`` items: the experiment's
    shuffle, mulberry32 seeded with FNV-1a of ``"<seed>:<participant>"``, reproduced here."""
    h = 0x811C9DC5
    for b in f"{seed}:{participant}".encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    a = h

    def rng() -> float:
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = ((a ^ (a >> 15)) * (1 | a)) & 0xFFFFFFFF
        t = ((t + (((t ^ (t >> 7)) * (61 | t)) & 0xFFFFFFFF)) & 0xFFFFFFFF) ^ t
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    idx = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rng() * (i + 1))
        idx[i], idx[j] = idx[j], idx[i]
    return idx


def noise_mask(size: tuple[int, int], seed: int, k: int) -> np.ndarray:
    """A full-contrast 1/f (pink) noise image, (H, W) uint8: amplitude ~ 1/frequency, random phase."""
    h, w = size
    rng = np.random.default_rng([seed, k])
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    f[0, 0] = 1.0
    amp = 1.0 / f
    amp[0, 0] = 0.0
    img = np.real(np.fft.ifft2(amp * np.exp(2j * np.pi * rng.random((h, w)))))
    img = (img - img.min()) / max(float(img.max() - img.min()), 1e-12)
    return np.round(img * 255).astype(np.uint8)


def _choices(label_space: str) -> tuple[list[str], list[str]]:
    """The label space's labels and the names shown for them (made unique)."""
    labels = list(label_space_names(label_space))
    if label_space != "imagenet1k":
        return labels, labels
    from ...labels.space import imagenet_labels

    names = list(imagenet_labels().names)
    dup = {n for n in names if names.count(n) > 1}
    return labels, [f"{n} ({w})" if n in dup else n for n, w in zip(names, labels)]


def _psych_ds(info: SetInfo, n: int, timing: dict[str, int]) -> dict[str, Any]:
    described = {
        "subj": "participant id", "session": "session number", "trial": "trial number in the participant's order, from 1",
        "rt": "response time in seconds from the onset of the response screen", "object_response": "the category chosen (a label of the label space)",
        "category": f"the stimulus's {info.reference_cue} label (the reference cue)", "condition": "the stimulus's condition in the set",
        "imagename": "the stimulus's file name in the stimulus set",
    }
    return {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": f"{info.name} (human observers)",
        "description": f"Forced-choice responses of human observers to the {n} images of the foolbox-lite stimulus set {info.name!r} "
        f"(label space {info.label_space}); image {timing['stimulus_ms']} ms, 1/f noise mask {timing['mask_ms']} ms. One CSV per participant and session in data/.",
        "variableMeasured": [{"@type": "PropertyValue", "name": k, "description": described[k]} for k in RAW_COLUMNS],
    }


DEFAULTS = {"stimulus_ms": 200, "mask_ms": 200, "fixation_ms": 500, "practice": 4, "break_every": 80}


def _settings(src: Path, given: dict[str, int | None]) -> dict[str, int]:
    """Timing and procedure: the options given, else the recipe's ``experiment:`` (from the lock file), else the defaults."""
    from ..lock import LOCK, read_lock

    recipe_exp = {}
    if (src / LOCK).is_file():
        recipe_exp = (read_lock(src).get("recipe") or {}).get("experiment") or {}
    return {k: int(given[k] if given.get(k) is not None else recipe_exp.get(k, d)) for k, d in DEFAULTS.items()}


def export_jspsych(
    src: Path, info: SetInfo, entries: Entries, out: Path, *, stimulus_ms: int | None = None, mask_ms: int | None = None, fixation_ms: int | None = None,
    practice: int | None = None, break_every: int | None = None, seed: int = 0, n_masks: int = 10,
) -> Path:
    """Write the experiment folder (see the module docstring); unset timing comes from the recipe's ``experiment:``."""
    settings = _settings(src, {"stimulus_ms": stimulus_ms, "mask_ms": mask_ms, "fixation_ms": fixation_ms, "practice": practice, "break_every": break_every})
    practice, break_every = settings["practice"], settings["break_every"]
    timing = {k: settings[k] for k in ("stimulus_ms", "mask_ms", "fixation_ms")}
    for k, v in timing.items():
        if v < 0 or (k == "stimulus_ms" and v == 0):
            raise InputError(f"{k} must be {'positive' if k == 'stimulus_ms' else '>= 0'}, got {v}")
    if practice < 0 or break_every < 0:
        raise InputError(f"practice and break_every must be >= 0, got {practice} and {break_every}")
    labels, names = _choices(info.label_space)
    items, lines, seen = [], [], set()
    from PIL import Image

    size = None
    for e in entries.progress("export jspsych"):
        name = safe_name(Path(e.file).name)
        if name in seen:
            raise InputError(f"two images of the set share the file name {name!r}; responses could not name them apart")
        seen.add(name)
        if info.reference_cue not in e.cues:
            raise InputError(f"item {e.id!r} has no {info.reference_cue!r} cue (the set's reference cue), which the response file records as 'category'")
        copy_image(src / e.file, out / "stimuli" / name, root=out)
        size = size or Image.open(src / e.file).size[::-1]
        items.append({"src": f"stimuli/{name}", "imagename": name, "category": e.cues[info.reference_cue], "condition": e.condition})
        lines.append(entry_with_file(e, f"stimuli/{name}"))
    assert size is not None
    masks = []
    for k in range(n_masks):
        masks.append(f"masks/noise-{k:02d}.png")
        write_atomic(out / masks[-1], encode_png(np.repeat(noise_mask(size, seed, k)[..., None], 3, axis=2), compression=1))
    lib = resources.files("foolbox_lite") / "data" / "jspsych"
    for name in VENDORED:
        write_atomic(out / "lib" / "jspsych" / name, (lib / name).read_bytes())
    write_atomic(out / "experiment.js", (lib / "experiment.js").read_bytes())
    study = re.sub(r"[^A-Za-z0-9]+", "-", info.name).strip("-") or "study"
    config = {
        "study": study, "seed": seed, **timing, "practice": min(practice, len(items)), "break_every": break_every, "size": int(size[0]),
        "labels": labels, "names": names, "keys": list(KEYS), "items": items, "masks": masks, "text": TEXT,
    }
    write_atomic(out / "config.js", ("window.FL_CONFIG = " + json.dumps(config, indent=1, sort_keys=True) + ";\n").encode("utf-8"))
    write_atomic(out / "index.html", _PAGE.format(title=f"{info.name} experiment").encode("utf-8"))
    write_atomic(out / "dataset_description.json", (json.dumps(_psych_ds(info, len(items), timing), indent=2) + "\n").encode("utf-8"))
    (out / "data").mkdir(exist_ok=True)
    write_manifest(out, info, lines, "jspsych", src)
    return out
