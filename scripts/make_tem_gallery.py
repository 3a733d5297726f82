"""Render the TEM preparations' contact sheet (image | truth overlay) into docs/.

    python scripts/make_tem_gallery.py                 # docs/gallery_tem_families.png
    python scripts/make_tem_gallery.py --out /tmp/g --size 128 --seed 3

One row per sample preparation of the ``tem_generalist`` preset (whole mount, thin section,
negative stain), each showing the same two scenes at 20 nm/px and one at 5 nm/px: the masks are
the same in every row, only the preparation changes. Same style as scripts/make_gallery.py.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_gallery import captioned, hstack, save_png, vstack

from migraseg.synth.generator import make_sample
from migraseg.synth.params import TEM_PREPARATIONS, SynthConfig
from migraseg.synth.presets import load_preset
from migraseg.visualize import overlay, to_gray

# (seed offset, pixel size µm): two scenes at 20 nm/px, one close-up at 5 nm/px
VIEWS = ((0, 0.02), (1, 0.02), (2, 0.005))


def only(config: SynthConfig, preparation: str, pixel_size: float, size: int) -> SynthConfig:
    """``config`` drawing only ``preparation``, at one pixel size and ``size``² pixels."""
    weights = {p: float(p == preparation) for p in TEM_PREPARATIONS}
    tem = replace(
        config.tem,
        preparations=weights,
        pixel_size_um=(pixel_size, pixel_size),
        image_size_px=(size, size),
        view_on_cell_edge=0.5,
    )
    return replace(config, tem=tem)


def sheet(seed: int, size: int) -> np.ndarray:
    base = load_preset("tem_generalist")
    rows = []
    for preparation in TEM_PREPARATIONS:
        tiles = []
        for offset, px in VIEWS:
            sample = make_sample(only(base, preparation, px, size), seed + offset, 0)
            image = sample.image[0]
            label = f"{preparation}, {px * 1000:.0f} nm/px"
            tiles += [
                captioned(to_gray(image), label),
                captioned(overlay(image, sample.mask), "truth"),
            ]
        rows.append(hstack(tiles))
    return vstack(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--size", type=int, default=256, help="image size in pixels")
    args = parser.parse_args(argv)
    save_png(sheet(args.seed, args.size), args.out / "gallery_tem_families.png")


if __name__ == "__main__":
    main()
