"""Loading a folder of images (or a stimulus set) as one batch at a fixed size.

Used to fit and evaluate perturbations on real photos: every image is decoded
once, brought to the classifier's input size and kept as one float tensor.  The
ImageNet label of a file named ``<wnid>_<anything>`` (``n02391049_zebra.JPEG``)
is read from its prefix; other files get the label ``-1`` (unknown).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import AssetError, FoolboxLiteError, InputError
from ..files import sha256_file
from .io import Fit, fit_image_u8, read_pil

__all__ = ["IMAGE_SUFFIXES", "ImageFolder", "label_from_name", "list_image_files", "load_image_folder"]

#: File suffixes treated as images (case-insensitive).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")
_WNID = re.compile(r"^(n\d{8})(?:[_\-.]|$)")


@dataclass
class ImageFolder:
    """Images of a folder as one batch.

    ``images``: float32 ``(N, 3, H, W)`` in ``[0, 1]``; ``labels``: int64 ``(N,)``
    ImageNet indices, ``-1`` where unknown; ``files``: the source paths; ``sizes``:
    each file's original ``(width, height)``; ``sha256``: each file's hash;
    ``skipped``: files that looked like images but could not be read.
    """

    images: torch.Tensor
    labels: torch.Tensor
    files: list[str]
    sizes: list[tuple[int, int]]
    sha256: list[str]
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def has_labels(self) -> bool:
        """Whether every image has a known label."""
        return bool((self.labels >= 0).all()) and len(self) > 0

    def select(self, index: Sequence[int] | torch.Tensor) -> ImageFolder:
        """The sub-set at the given positions (in that order)."""
        idx = torch.as_tensor(list(index) if not isinstance(index, torch.Tensor) else index, dtype=torch.long)
        pick = [int(i) for i in idx]
        return ImageFolder(
            self.images.index_select(0, idx),
            self.labels.index_select(0, idx),
            [self.files[i] for i in pick],
            [self.sizes[i] for i in pick],
            [self.sha256[i] for i in pick],
            list(self.skipped),
        )

    def split(self, n_first: int, *, seed: int = 0) -> tuple[ImageFolder, ImageFolder]:
        """A seeded random split into ``n_first`` images and the rest (the same on every machine)."""
        if not 0 <= n_first <= len(self):
            raise InputError(f"cannot take {n_first} of {len(self)} images for the first part of a split")
        g = torch.Generator().manual_seed(int(seed))
        perm = torch.randperm(len(self), generator=g)
        return self.select(perm[:n_first].sort().values), self.select(perm[n_first:].sort().values)

    def manifest(self) -> list[dict[str, str]]:
        """``[{"file", "sha256"}]`` per image: what a fitted perturbation records about its data."""
        return [{"file": f, "sha256": h} for f, h in zip(self.files, self.sha256)]


def label_from_name(name: str, wnid_index: dict[str, int] | None = None) -> int:
    """ImageNet index from a ``<wnid>_...`` file name, ``-1`` when there is no known wnid prefix."""
    m = _WNID.match(Path(name).name)
    if not m:
        return -1
    if wnid_index is None:
        wnid_index = _wnid_index()
    return wnid_index.get(m.group(1), -1)


def _wnid_index() -> dict[str, int]:
    from ..labels.space import imagenet_labels

    return {w: i for i, w in enumerate(imagenet_labels().wnids)}


def list_image_files(folder: str | os.PathLike[str], *, recursive: bool = False) -> list[Path]:
    """Image files of ``folder`` (by suffix), sorted by path so the order is the same everywhere."""
    root = Path(folder)
    if not root.exists():
        raise AssetError(f"image folder {str(root)!r} does not exist", hint="check the path")
    if not root.is_dir():
        raise InputError(f"{str(root)!r} is not a folder", hint="give a folder of PNG/JPEG images")
    it = root.rglob("*") if recursive else root.iterdir()
    return sorted((p for p in it if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")), key=lambda p: str(p))



def _load_files(paths: Sequence[Path], size: tuple[int, int], fit: Fit, labels: Sequence[int] | None, progress: bool, what: str) -> ImageFolder:
    from tqdm.auto import tqdm

    imgs: list[torch.Tensor] = []
    files, sizes, hashes, labs, skipped = [], [], [], [], []
    index = _wnid_index()
    for k, p in enumerate(tqdm(paths, desc=f"loading {what}", unit="img", disable=not progress, leave=False)):
        try:
            im = read_pil(p)
        except FoolboxLiteError as exc:
            skipped.append(str(p))
            warnings.warn(f"skipping unreadable image {str(p)!r}: {exc}", stacklevel=3)
            continue
        sizes.append(im.size)
        imgs.append(fit_image_u8(im, size, fit).float().div_(255.0))
        files.append(str(p))
        hashes.append(sha256_file(p))
        labs.append(labels[k] if labels is not None else label_from_name(p.name, index))
    if not imgs:
        found = f"{len(skipped)} unreadable image files (first: {skipped[0]!r})" if skipped else "no files with an image suffix"
        raise AssetError(f"{what} has no readable images: {found}", hint=f"put PNG or JPEG files ({', '.join(IMAGE_SUFFIXES)}) in it")
    return ImageFolder(torch.stack(imgs), torch.tensor(labs, dtype=torch.long), files, sizes, hashes, skipped)


def load_image_folder(
    folder: str | os.PathLike[str],
    size: int | tuple[int, int] = 224,
    *,
    fit: Fit = "resize",
    limit: int | None = None,
    recursive: bool = False,
    progress: bool = False,
) -> ImageFolder:
    """Load every image of ``folder`` (or of a stimulus set: a folder with ``manifest.jsonl``) at ``size``.

    Files are taken in sorted order (the first ``limit`` when given).  Unreadable
    image files are skipped with a warning; a folder without any readable image is
    an :class:`~foolbox_lite.errors.AssetError`.  For a stimulus set the label of an
    item is its reference cue when that is an ImageNet wnid.
    """
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if hw[0] <= 0 or hw[1] <= 0:
        raise InputError(f"size must be positive, got {size!r}")
    if limit is not None and limit <= 0:
        raise InputError(f"limit must be a positive number of images, got {limit!r}")
    root = Path(folder)
    if (root / "manifest.jsonl").is_file():
        return _load_stimulus_set(root, hw, fit, limit, progress)
    paths = list_image_files(root, recursive=recursive)
    if limit is not None:
        paths = paths[:limit]
    return _load_files(paths, hw, fit, None, progress, f"image folder {str(root)!r}")


def _load_stimulus_set(root: Path, size: tuple[int, int], fit: Fit, limit: int | None, progress: bool) -> ImageFolder:
    from ..stimulus_set import read_manifest, read_set_info

    info = read_set_info(root)
    entries = read_manifest(root)
    if limit is not None:
        entries = entries[:limit]
    index = _wnid_index()
    labels = []
    for e in entries:
        cue = e.cues.get(info.reference_cue, "") if info.label_space == "imagenet1k" else ""
        labels.append(index.get(cue, -1))
    return _load_files([root / e.file for e in entries], size, fit, labels, progress, f"stimulus set {str(root)!r}")
