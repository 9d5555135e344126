"""Make docs/img/zebra-toilet-seat-controls.png: conflict items with their control twins and a model's answers.

    foolbox-lite run recipes/zebra-toilet-seat.yaml -o out/zebra-toilet-seat
    python tools/make_controls_figure.py out/zebra-toilet-seat docs/img/zebra-toilet-seat-controls.png
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from foolbox_lite.report.html import display_label

ITEMS = ("000000", "000066", "000036", "000042", "000072", "000024")  # (pitch, angle): (0, 0), (60, 0), (40, 45), (40, 90), (60, 90), (0, 270)
SIDE, CAPTION = 128, 14


def main(run: Path, out: Path) -> None:
    answers = {}
    with open(run / "evaluation" / "trials.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            answers[row["imagename"]] = display_label(row["object_response"], "imagenet1k")
    rows = ("", "-shape", "-texture")
    sheet = Image.new("RGB", (SIDE * len(ITEMS), (SIDE + CAPTION) * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, item in enumerate(ITEMS):
        for r, suffix in enumerate(rows):
            name = f"{item}{suffix}.png"
            im = Image.open(run / "set" / "images" / name).convert("RGB").resize((SIDE, SIDE))
            x, y = c * SIDE, r * (SIDE + CAPTION)
            sheet.paste(im, (x, y))
            draw.text((x + 3, y + SIDE + 2), answers.get(name, "?"), fill="black")
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(128).save(out, optimize=True)  # a palette keeps the file small


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
