"""Regenerate ``foolbox_lite/data/imagenet1k.tsv`` from the synset files inside a timm wheel.

    pip download --no-deps timm -d /tmp/w && python tools/make_imagenet_labels.py /tmp/w/timm-*.whl

Index order is the sorted wnids (the order of every ImageNet-1k classifier's
logits); the name is the first WordNet lemma.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "foolbox_lite" / "data" / "imagenet1k.tsv"


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as z:
        wnids = z.read("timm/data/_info/imagenet_synsets.txt").decode().split()
        lemmas = dict(
            line.split("\t", 1) for line in z.read("timm/data/_info/imagenet_synset_to_lemma.txt").decode().splitlines() if "\t" in line
        )
    if len(wnids) != 1000 or wnids != sorted(wnids):
        raise SystemExit("expected the 1000 sorted ImageNet-1k wnids")
    rows = ["index\twnid\tname"] + [f"{i}\t{w}\t{lemmas[w].split(',')[0].strip()}" for i, w in enumerate(wnids)]
    OUT.write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
