"""``build --engine ray``: the items of a build as Ray tasks over contiguous ranges.

The driver resolves the recipe once (assets hashed and loaded, pipelines built, lock
written) and puts the resolved builder in Ray's object store; each task builds one range
of items straight into ``OUT`` (a path every node sees: a shared filesystem) with the
same atomic writes as a local build, and returns the range's manifest lines.  The driver
writes them in item order as ranges complete, so ``manifest.jsonl.partial`` always
holds a prefix of the set and ``--resume`` (with any engine) completes it.

A task whose worker dies is re-run by Ray (``max_retries``); it rewrites the same bytes
under the same names and its lines reach the driver once, so no item is duplicated or
lost.  Ctrl-C cancels the running tasks and leaves ``OUT`` resumable.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ..errors import FoolboxLiteError, InputError
from ..files import sha256_bytes
from ..recipes.build import Builder, build_items, check_build_args, complete, one_torch_thread, open_output, todo_items
from ..recipes.load import load_recipe
from ..stimulus_set.folder_lock import lock_folder
from ..stimulus_set.outputs import is_empty, refuse_inputs_inside
from ..stimulus_set.writer import OrderedSink, encode_png, prepare_folder, write_atomic

__all__ = ["build_on_ray", "connect", "ray_engine", "unwrap_task_error"]


def connect(address: str | None = None) -> Any:
    """The ``ray`` module, connected: to ``address`` (``auto``, ``ray://host:10001``, ``host:6379``), to
    ``$RAY_ADDRESS``, to the instance this process already started, or else to a new local one."""
    try:
        import ray
    except ImportError:
        raise InputError("the Ray engine needs Ray", hint="pip install 'foolbox-lite[ray]'") from None
    if not ray.is_initialized():
        try:
            if address is None and not os.environ.get("RAY_ADDRESS"):
                ray.init(include_dashboard=False, logging_level="WARNING", log_to_driver=True)
            else:
                ray.init(address=address, logging_level="WARNING")
        except ConnectionError as exc:
            raise InputError(f"cannot connect to the Ray cluster at {address or os.environ.get('RAY_ADDRESS')!r}: {exc}",
                             hint="start it with 'ray start --head' (or 'ray up'), and pass its address with --address") from None
    return ray


def ray_engine() -> dict[str, Any]:
    """The lock's ``engine`` field of a build on Ray."""
    import ray

    return {"name": "ray", "ray": ray.__version__}


def unwrap_task_error(exc: BaseException) -> BaseException:
    """The project's own error behind a Ray task error (so the CLI prints its one line and hint)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, FoolboxLiteError) else exc


class _Lines:
    """A worker's sink: encodes and writes each image at once, keeps ``(manifest position, line)``."""

    def __init__(self, png_compression: int) -> None:
        self.lines: list[tuple[int, str]] = []
        self.png_compression = png_compression

    def submit(self, index: int, path: Path, arr: Any, make_line: Any) -> None:
        data = encode_png(arr, self.png_compression)
        write_atomic(path, data)
        self.lines.append((index, make_line(sha256_bytes(data))))

    def flush(self) -> None:
        pass


def _build_range(builder: Builder, out: str, indices: list[int], batch_size: int) -> list[tuple[int, str]]:
    """A Ray task: build ``indices`` into ``out``; their manifest lines in item order."""
    lines = _Lines(builder.recipe.png_compression)
    with one_torch_thread():
        build_items(builder, Path(out), indices, lines, batch_size=batch_size)
    return lines.lines


def build_on_ray(
    recipe_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    address: str | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
    cpus_per_task: float = 1.0,
    range_size: int | None = None,
    max_retries: int = 3,
) -> Path:
    """Build the set a recipe describes into ``out_dir`` on a Ray cluster; the same bytes as :func:`build_recipe`.

    ``out_dir`` must be the same path on every node (a shared filesystem).  Each task takes
    ``cpus_per_task`` CPUs and ``range_size`` items (default: about four ranges per task slot,
    at least ``batch_size`` and at most 1024 items).
    """
    check_build_args(batch_size)
    if not cpus_per_task > 0:
        raise InputError(f"cpus_per_task must be positive, got {cpus_per_task!r}")
    if range_size is not None and (isinstance(range_size, bool) or not isinstance(range_size, int) or range_size < 1):
        raise InputError(f"range_size must be a positive integer, got {range_size!r}")
    ray = connect(address)
    with one_torch_thread():
        recipe = load_recipe(recipe_path)
        builder = Builder(recipe, device=device)
    out = Path(out_dir).absolute()
    refuse_inputs_inside(out, builder.input_files(), "recipe input")
    with lock_folder(out):  # the driver holds the folder for the whole build, as a local build does
        if not (resume and not is_empty(out)):
            prepare_folder(out, resume=False, force=force)
        return _run(ray, builder, out, resume=resume, batch_size=batch_size, progress=progress, cpus_per_task=cpus_per_task,
                    range_size=range_size, max_retries=max_retries)


def _run(ray: Any, builder: Builder, out: Path, *, resume: bool, batch_size: int, progress: bool, cpus_per_task: float,
         range_size: int | None, max_retries: int) -> Path:
    """The Ray build in the locked, prepared ``out``."""
    recipe = builder.recipe
    with one_torch_thread():
        lock = builder.lock() | {"engine": ray_engine()}
        old = open_output(builder, out, lock, resume=resume)
        for group in builder.assets.values():  # workers get the assets' pixels, not their files
            for asset in group:
                asset.load(builder.size)
        builder_ref = ray.put(builder)
    todo = todo_items(builder, old)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_task))
    size = range_size or min(1024, max(batch_size, math.ceil(len(todo) / (4 * slots))))
    ranges = [todo[i:i + size] for i in range(0, len(todo), size)]
    task = ray.remote(_build_range).options(num_cpus=cpus_per_task, max_retries=max_retries, name="foolbox_lite_build_range")
    sink = OrderedSink(out, builder.n_images, old=old)
    from tqdm.auto import tqdm

    bar = tqdm(total=builder.plan.n, initial=builder.plan.n - len(todo), unit="item", desc=f"build {recipe.name} on ray", disable=not progress, dynamic_ncols=True)
    inflight: dict[Any, int] = {}
    done: dict[int, list[tuple[int, str]]] = {}
    window = 2 * slots + 2  # ranges ahead of the oldest unwritten one: bounds the lines held here
    submitted = written = 0
    try:
        while written < len(ranges):
            while submitted < len(ranges) and submitted - written < window:
                inflight[task.remote(builder_ref, str(out), ranges[submitted], batch_size)] = submitted
                submitted += 1
            ready, _ = ray.wait(list(inflight), num_returns=1)
            for ref in ready:
                k = inflight.pop(ref)
                try:
                    done[k] = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a Ray task error: re-raised as the project's own error when it is one
                    raise unwrap_task_error(exc) from None
                bar.update(len(ranges[k]))
            while written in done:
                for index, line in done.pop(written):
                    sink.submit_line(index, line)
                sink.flush()
                written += 1
        sink.drain()
    except BaseException:
        _cancel(ray, list(inflight))
        sink.abort()
        raise
    finally:
        bar.close()
    # every range is done: drop the temporary file a worker killed mid-write (its range was re-run) left
    prepare_folder(out, resume=True, force=False)
    complete(builder, out, lock, sink)
    return out


def _cancel(ray: Any, refs: list[Any]) -> None:
    """Cancel the ranges still running (finished ones are left alone: cancelling a task as it
    completes can trip an internal check of Ray 2.60's driver)."""
    if not refs:
        return
    _, running = ray.wait(refs, num_returns=len(refs), timeout=0)
    for ref in running:
        ray.cancel(ref)
