"""Importing published cue-conflict stimuli (laid out in a temp dir from ../shared silhouettes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from foolbox_lite.cli import main
from foolbox_lite.errors import InputError
from foolbox_lite.stimulus_set import read_manifest, read_set_info, sha256_file
from foolbox_lite.stimulus_set.importers import import_cue_conflict

pytestmark = pytest.mark.shared


def _layout(geirhos_shapes: Path, root: Path) -> Path:
    """A cue-conflict folder: 4 shape categories x 2 images, textures named after other categories."""
    sil = geirhos_shapes / "filled-silhouettes"
    cats = sorted(p.name for p in sil.iterdir() if p.is_dir())
    assert len(cats) == 16
    src = root / "cue-conflict"
    for i, c in enumerate(cats[:4]):
        (src / c).mkdir(parents=True)
        for j in (1, 2):
            texture = cats[(i + j * 5) % 16] if j == 1 else c  # the second one has shape = texture
            shutil.copyfile(sil / c / f"{c}{j}.png", src / c / f"{c}{j}-{texture}{j + 7}.png")
    return src


def test_import_cue_conflict(geirhos_shapes: Path, tmp_path: Path) -> None:
    src = _layout(geirhos_shapes, tmp_path)
    out = import_cue_conflict(src, tmp_path / "set")
    info = read_set_info(out)
    assert (info.label_space, info.cues, info.reference_cue, info.n) == ("geirhos16", ["shape", "texture"], "shape", 8)
    entries = read_manifest(out)
    assert [e.id for e in entries][:3] == ["airplane1-bottle8", "airplane2-airplane9", "bear1-car8"]
    first = entries[0]
    assert first.cues == {"shape": "airplane", "texture": "bottle"} and first.index == 0
    assert first.sources == {"file": "airplane/airplane1-bottle8.png", "shape": "airplane1", "texture": "bottle8"}
    for e in entries:  # bytes unchanged
        assert sha256_file(out / e.file) == sha256_file(src / e.sources["file"]) == e.sha256
    assert sum(e.condition == "shape=texture" for e in entries) == 4
    assert "Geirhos" in (out / "DATASHEET.md").read_text()


def test_import_rejects_bad_layouts(geirhos_shapes: Path, tmp_path: Path) -> None:
    src = _layout(geirhos_shapes, tmp_path)
    bad = src / "bear" / "bear3-zebra1.png"
    shutil.copyfile(next((src / "bear").glob("*.png")), bad)
    with pytest.raises(InputError, match=r"'bear/bear3-zebra1.png': 'zebra' is not one of the 16 categories"):
        import_cue_conflict(src, tmp_path / "o")
    bad.unlink()
    wrong = src / "bear" / "cat1-dog2.png"
    shutil.copyfile(next((src / "bear").glob("*.png")), wrong)
    with pytest.raises(InputError, match="is in folder 'bear' but its shape is 'cat'"):
        import_cue_conflict(src, tmp_path / "o")
    wrong.unlink()
    (src / "bear" / "notes.png").write_bytes(b"x")
    with pytest.raises(InputError, match="'bear/notes.png' is not named"):
        import_cue_conflict(src, tmp_path / "o")
    (src / "bear" / "notes.png").unlink()
    (src / "bear" / "bear5-cat1.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(Exception, match="cannot be read"):
        import_cue_conflict(src, tmp_path / "o2")


def test_cli_import(geirhos_shapes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _layout(geirhos_shapes, tmp_path)
    assert main(["import", "cue-conflict", str(src), "-o", str(tmp_path / "set")]) == 0
    assert "imported 8 images" in capsys.readouterr().out
    assert main(["import", "stylized", str(src), "-o", str(tmp_path / "x")]) == 2
    assert "unknown layout 'stylized'" in capsys.readouterr().err
    assert main(["import", "cue-conflict", str(src), "-o", str(tmp_path / "set")]) == 2
