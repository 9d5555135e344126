"""The on-disk format of a stimulus set.

A stimulus set is a folder::

    DIR/
      set.json            header: schema, name, label space, cue names, reference cue, count
      manifest.jsonl      one JSON object per image (see ManifestEntry), in item order
      images/<id>.png     lossless images
      recipe.lock.yaml    the resolved recipe and versions (sets built from recipes)
      DATASHEET.md        human-readable description

Cue labels in the manifest are canonical labels of the set's label space: ImageNet
wnids (``n02391049``) for ``imagenet1k``, category names (``cat``) for a label
mapping such as ``geirhos16``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError, short_repr
from ..files import atomic_write_text, sha256_bytes, sha256_file

__all__ = [
    "SCHEMA_VERSION",
    "ManifestEntry",
    "SetInfo",
    "manifest_line",
    "read_manifest",
    "read_set_info",
    "verify_entries",
    "write_set_info",
]

SCHEMA_VERSION = 1
SET_INFO = "set.json"
#: manifest fields written only when non-empty, so older sets keep their bytes
OPTIONAL_FIELDS = ("sidecar", "sidecar_sha256", "factors", "layers", "control", "twin")
MANIFEST = "manifest.jsonl"


@dataclass
class SetInfo:
    """Header of a stimulus set."""

    name: str
    label_space: str = "imagenet1k"
    cues: list[str] = field(default_factory=list)
    reference_cue: str = "shape"
    n: int = 0
    schema: int = SCHEMA_VERSION
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ManifestEntry:
    """One image of a stimulus set: a line of ``manifest.jsonl``."""

    id: str
    file: str
    sha256: str
    seed: int
    index: int
    cues: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    params: list[Mapping[str, Any]] = field(default_factory=list)  # records; row views are encoded as they are
    condition: str = ""
    #: optional float32 ``.npy`` of the image before 8-bit rounding, and its hash (omitted when empty)
    sidecar: str = ""
    sidecar_sha256: str = ""
    #: the item's level of each design factor: numbers stay numbers, assets are named (omitted when empty)
    factors: dict[str, Any] = field(default_factory=dict)
    #: extra per-item layers such as the final foreground mask: ``{"mask": {"file": ..., "sha256": ...}}`` (omitted when empty)
    layers: dict[str, dict[str, str]] = field(default_factory=dict)
    #: for a single-cue control twin: the cue it keeps, and the id of its conflict item (omitted when empty)
    control: str = ""
    twin: str = ""

    def to_json(self) -> str:
        # the fields as they are, not an asdict() deep copy: json.dumps only reads them (records are
        # plain JSON types; a dataclass or other mapping inside one is converted as asdict would)
        d = {k: getattr(self, k) for k in _ENTRY_FIELDS if k not in _OPTIONAL or getattr(self, k)}
        return _MANIFEST_JSON.encode(d)


def _plain(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_ENTRY_FIELDS = tuple(f.name for f in fields(ManifestEntry))
_OPTIONAL = frozenset(OPTIONAL_FIELDS)
_MANIFEST_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False, default=_plain)


def manifest_line(entry: ManifestEntry) -> str:
    """The exact bytes (as text, with newline) of one manifest line: sorted keys, compact, deterministic."""
    return entry.to_json() + "\n"


def write_set_info(folder: str | Path, info: SetInfo) -> Path:
    return atomic_write_text(Path(folder) / SET_INFO, json.dumps(info.to_dict(), indent=2, sort_keys=True) + "\n")


def _require_set(folder: Path) -> None:
    if not folder.is_dir():
        raise InputError(f"stimulus set folder {str(folder)!r} {'is not a folder' if folder.exists() else 'does not exist'}")
    if not (folder / MANIFEST).is_file():
        raise InputError(
            f"{str(folder)!r} is not a stimulus set: it has no {MANIFEST}",
            hint="build one with 'foolbox-lite build RECIPE -o DIR' or import published stimuli with 'foolbox-lite import cue-conflict SRC -o DIR'",
        )


def read_set_info(folder: str | Path) -> SetInfo:
    """The set's header; sets without ``set.json`` get defaults (ImageNet labels, reference cue shape)."""
    folder = Path(folder)
    _require_set(folder)
    p = folder / SET_INFO
    if not p.is_file():
        return SetInfo(name=folder.name)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{str(p)!r} is not valid JSON: {exc}") from exc
    if raw.get("schema") != SCHEMA_VERSION:
        raise InputError(f"{str(p)!r} has schema {raw.get('schema')!r}; this version of foolbox-lite reads schema {SCHEMA_VERSION}")
    known = set(SetInfo.__dataclass_fields__)
    return SetInfo(**{k: v for k, v in raw.items() if k in known})


def iter_manifest(folder: str | Path) -> Iterator[ManifestEntry]:
    """Stream the manifest's entries (a clear error names the bad line)."""
    folder = Path(folder)
    _require_set(folder)
    known = set(ManifestEntry.__dataclass_fields__)
    seen: set[str] = set()
    with open(folder / MANIFEST, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = strict_json(line)
            except ValueError as exc:
                raise InputError(f"{str(folder / MANIFEST)!r} line {n} is not valid JSON: {exc}") from exc
            if not isinstance(raw, dict):
                raise InputError(f"{MANIFEST} line {n} is not a JSON object")
            missing = {"id", "file", "sha256"} - set(raw)
            if missing:
                raise InputError(f"{MANIFEST} line {n} lacks {sorted(missing)}")
            entry = ManifestEntry(**{k: v for k, v in raw.items() if k in known} | {"seed": raw.get("seed", 0), "index": raw.get("index", n - 1)})
            _check_entry(entry, raw, n)
            if entry.id in seen:
                raise InputError(f"{MANIFEST} line {n}: item id {entry.id!r} appears twice", hint="ids name files and trials; a manifest lists each item once")
            seen.add(entry.id)
            yield entry


def strict_json(text: str) -> Any:
    """``json.loads`` refusing NaN, Infinity and numbers that overflow to infinity."""

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a number JSON allows")

    def finite(num: str) -> float:
        v = float(num)
        if not math.isfinite(v):
            raise ValueError(f"number {num[:40]} is out of range")
        return v

    return json.loads(text, parse_constant=constant, parse_float=finite)


def _check_entry(e: ManifestEntry, raw: dict[str, Any], n: int) -> None:
    """Types and paths of one manifest line: ids are plain names, files stay inside the set, seeds fit int64."""
    from .outputs import entry_files
    from .safe_paths import check_component, check_relative

    where = f"{MANIFEST} line {n}"
    check_component(e.id, f"{where}: id")
    for file, _ in entry_files(raw):
        check_relative(file, f"{where}: file")
    if not isinstance(e.file, str) or not isinstance(e.sha256, str):
        raise InputError(f"{where}: file and sha256 must be strings")
    for key in ("seed", "index"):
        v = getattr(e, key)
        if isinstance(v, bool) or not isinstance(v, int) or not -(2**63) <= v < 2**63:
            raise InputError(f"{where}: {key} must be an integer that fits 64 bits, got {short_repr(v)}")
    for key in ("cues", "sources", "factors", "layers"):
        if not isinstance(getattr(e, key), dict):
            raise InputError(f"{where}: {key} must be an object, got {short_repr(getattr(e, key))}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in e.cues.items()):
        raise InputError(f"{where}: cues must map cue names to label strings")


def _sha256_problem(e: ManifestEntry, digest: str) -> str:
    return "" if digest == e.sha256 else f"image {e.file!r} of item {e.id!r} does not match its sha256 in the manifest ({digest[:12]}... != {e.sha256[:12]}...)"


def check_sha256(e: ManifestEntry, data: bytes) -> None:
    """Raise the :class:`InputError` of :func:`verify_entries` when ``data`` (the bytes read of ``e.file``) does not match its sha256."""
    msg = _sha256_problem(e, sha256_bytes(data))
    if msg:
        raise InputError(msg, hint=MISMATCH_HINT)


#: The hint of a sha256 mismatch that stops an evaluation.
MISMATCH_HINT = "rebuild the set, or pass --on-mismatch warn/skip to continue without it"


def read_manifest(folder: str | Path) -> list[ManifestEntry]:
    return list(iter_manifest(folder))


def verify_entries(
    folder: str | Path,
    entries: Sequence[ManifestEntry],
    on_mismatch: Literal["error", "warn", "skip"] = "error",
    *,
    hashes: bool = True,
) -> tuple[list[ManifestEntry], list[str]]:
    """Check each image file exists and matches its sha256.

    Returns the entries that passed and one message per problem.  With
    ``on_mismatch="error"`` the first problem raises an :class:`InputError` naming the file.
    ``hashes=False`` checks paths and existence only: the caller hashes the bytes it reads
    (:func:`check_sha256`), so each file is read once.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    from .safe_paths import inside_of

    folder = Path(folder)
    good, problems = [], []
    check = inside_of(folder)

    def verify(e: ManifestEntry) -> str | InputError:
        try:
            p = check(e.file, f"image of item {e.id!r}")
        except InputError as exc:
            return exc
        if not p.is_file():
            return f"image {e.file!r} of item {e.id!r} is missing"
        if not hashes:
            return ""
        return _sha256_problem(e, sha256_file(p))

    workers = min(4, os.cpu_count() or 1)
    if hashes and workers > 1 and len(entries) > 8:  # hashing releases the GIL: files are checked in parallel, reported in order
        with ThreadPoolExecutor(workers, thread_name_prefix="fl-verify") as pool:
            results = list(pool.map(verify, entries))
    else:
        results = [verify(e) for e in entries]
    for e, msg in zip(entries, results):
        if isinstance(msg, InputError):
            raise msg
        if msg:
            if on_mismatch == "error":
                raise InputError(msg, hint=MISMATCH_HINT)
            problems.append(msg)
            if on_mismatch == "warn":
                good.append(e)
        else:
            good.append(e)
    return good, problems

