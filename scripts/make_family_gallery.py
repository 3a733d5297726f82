"""Render the appearance families of the confocal simulator into docs/gallery_families.png.

    python scripts/make_family_gallery.py                 # docs/gallery_families.png
    python scripts/make_family_gallery.py --out /tmp/g --seed 3 --size 256

One scene (the same seed, so the same mask, shown once as "truth") is rendered in every family
of every axis (docs/simulator_families.md): one row per axis, one tile per family, each the
default ``confocal`` preset with only that family switched on. Tiles are a crop around the
cells' fibers, percentile-stretched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from migraseg.synth.generator import make_sample
from migraseg.synth.params import FAMILY_AXES
from migraseg.synth.presets import load_preset
from migraseg.visualize import overlay, to_gray

sys.path.insert(0, str(Path(__file__).parent))
from make_gallery import captioned, hstack, save_png, vstack


def pinned(axis: str, family: str) -> str:
    """The override that makes every image draw ``family`` on ``axis``."""
    weights = ", ".join(f"{k}: {int(k == family)}" for k in FAMILY_AXES[axis])
    return f"confocal.{axis}={{{weights}}}"


def family_rows() -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """(row name, [(tile caption, simulator overrides)]) for every family of every axis."""
    rows = [
        (axis, [(family, [pinned(axis, family)]) for family in families])
        for axis, families in FAMILY_AXES.items()
    ]
    rows.append(
        (
            "background",
            [
                ("no out-of-focus", []),
                ("out-of-focus blobs", ["distractors.out_of_focus_per_100um2=[1.0,1.0]"]),
                ("autofluorescence", ["confocal.autofluorescence=[0.2,0.2]"]),
                ("vignetting 0.6", ["confocal.illumination_falloff=[0.6,0.6]"]),
            ],
        )
    )
    rows.append(
        (
            "photons",
            [(f"{n} photons", [f"confocal.peak_photons=[{n},{n}]"]) for n in (5, 20, 100, 500)],
        )
    )
    return rows


def crop_box(mask: np.ndarray, size: int) -> tuple[slice, slice]:
    """A ``size``² box holding as many fiber and migrasome pixels (and some cell) as can be."""
    h, w = mask.shape
    size = min(size, h, w)
    weight = (mask == 2) * 4.0 + (mask == 3) * 2.0 + (mask == 1) * 0.3
    step = max(size // 8, 1)
    best, box = -1.0, (0, 0)
    for y in range(0, h - size + 1, step):
        for x in range(0, w - size + 1, step):
            score = float(weight[y : y + size, x : x + size].sum())
            if score > best:
                best, box = score, (y, x)
    return slice(box[0], box[0] + size), slice(box[1], box[1] + size)


def family_sheet(seed: int, size: int, image_px: int = 512) -> np.ndarray:
    """The contact sheet: a truth tile, then one row of tiles per family axis."""
    base = [f"confocal.image_size_px=[{image_px},{image_px}]"]
    reference = make_sample(load_preset("confocal", base), seed, 0)
    box = crop_box(reference.mask, size)
    rows_out = []
    truth = captioned(overlay(reference.image[0][box], reference.mask[box]), "truth (every tile)")
    for name, tiles in family_rows():
        out = []
        for caption, overrides in tiles:
            sample = make_sample(load_preset("confocal", base + overrides), seed, 0)
            if not np.array_equal(sample.mask, reference.mask):
                raise RuntimeError(f"{caption}: the mask changed with the appearance family")
            out.append(captioned(to_gray(sample.image[0][box]), f"{name}: {caption}"))
        rows_out.append(out)
    width = max(len(r) for r in rows_out)
    blank = np.full_like(truth, 255)
    rows_out[0] = [truth, *rows_out[0]]
    return vstack([hstack(r + [blank] * (width + 1 - len(r))) for r in rows_out])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--size", type=int, default=224, help="tile size, px")
    parser.add_argument("--image-px", type=int, default=512, help="simulated image size, px")
    args = parser.parse_args()
    save_png(family_sheet(args.seed, args.size, args.image_px), args.out / "gallery_families.png")


if __name__ == "__main__":
    main()
