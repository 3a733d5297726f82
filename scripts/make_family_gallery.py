"""Render the appearance families of the confocal simulator (docs/simulator_families.md).

    python scripts/make_family_gallery.py     # docs/gallery_families.png, gallery_generalist.png
    python scripts/make_family_gallery.py --out /tmp/g --seed 3 --size 256

``gallery_families.png``: one scene (the same seed, so the same mask, shown once as "truth")
rendered in every family of every axis: one row per axis, one tile per family, each the default
``confocal`` preset with only that family switched on. Tiles are a crop around the cells'
fibers, percentile-stretched. ``gallery_generalist.png``: the first twelve images of the
``confocal_generalist`` preset (what the generalist trains on), halved, captioned with their
families.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np

from migraseg.synth.generator import make_sample
from migraseg.synth.params import FAMILY_AXES, SynthConfig, only
from migraseg.synth.presets import load_preset
from migraseg.visualize import overlay, to_gray

sys.path.insert(0, str(Path(__file__).parent))
from make_gallery import captioned, hstack, save_png, vstack

Changes = dict[str, dict[str, Any]]  # SynthConfig section -> field -> value


def family_rows() -> list[tuple[str, list[tuple[str, Changes]]]]:
    """(row name, [(tile caption, changes to the default preset)]) for every family."""
    rows: list[tuple[str, list[tuple[str, Changes]]]] = [
        (axis, [(family, {"confocal": {axis: only(axis, family)}}) for family in families])
        for axis, families in FAMILY_AXES.items()
    ]
    background: list[tuple[str, Changes]] = [
        ("no out-of-focus", {}),
        ("out-of-focus blobs", {"distractors": {"out_of_focus_per_100um2": (1.0, 1.0)}}),
        ("autofluorescence", {"confocal": {"autofluorescence": (0.2, 0.2)}}),
        ("vignetting 0.6", {"confocal": {"illumination_falloff": (0.6, 0.6)}}),
    ]
    photons = [(f"{n} photons", {"confocal": {"peak_photons": (n, n)}}) for n in (5, 20, 100, 500)]
    return [*rows, ("background", background), ("photons", photons)]


def changed(config: SynthConfig, changes: Changes) -> SynthConfig:
    """``config`` with some fields of its sections replaced."""
    sections = {k: dataclasses.replace(getattr(config, k), **v) for k, v in changes.items()}
    return dataclasses.replace(config, **sections)


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
    base = load_preset("confocal").with_acquisition(image_size_px=(image_px, image_px))
    reference = make_sample(base, seed, 0)
    box = crop_box(reference.mask, size)
    rows_out = []
    truth = captioned(overlay(reference.image[0][box], reference.mask[box]), "truth (every tile)")
    for name, tiles in family_rows():
        out = []
        for caption, changes in tiles:
            sample = make_sample(changed(base, changes), seed, 0)
            if not np.array_equal(sample.mask, reference.mask):
                raise RuntimeError(f"{caption}: the mask changed with the appearance family")
            out.append(captioned(to_gray(sample.image[0][box]), f"{name}: {caption}"))
        rows_out.append(out)
    width = max(len(r) for r in rows_out)
    blank = np.full_like(truth, 255)
    rows_out[0] = [truth, *rows_out[0]]
    return vstack([hstack(r + [blank] * (width + 1 - len(r))) for r in rows_out])


def generalist_sheet(seed: int, image_px: int = 512, n: int = 12, per_row: int = 4) -> np.ndarray:
    """The first ``n`` confocal_generalist images, halved, with their families as captions."""
    config = load_preset("confocal_generalist").with_acquisition(image_size_px=(image_px, image_px))
    tiles = []
    for index in range(n):
        sample = make_sample(config, seed, index)
        acq = sample.truth["acquisition"]
        f, channel = acq["families"], acq["channels"][0]
        parts = [
            f["cell_styles"],
            f["optics"],
            f["noise_models"] if f["noise_models"] != "poisson_gauss" else "",
            "dim fibers" if f["fiber_styles"] == "dim" else "",
            "saturated" if f["exposures"] == "saturated" else "",
            f"{channel['peak_photons']:.0f} ph, {acq['bit_depth']} bit",
        ]
        caption = ", ".join(part for part in parts if part)
        image = sample.image[0].astype(np.float32)
        half = image.reshape(image_px // 2, 2, image_px // 2, 2).mean(axis=(1, 3))
        tiles.append(captioned(to_gray(half), caption))
    rows = [hstack(tiles[i : i + per_row]) for i in range(0, n, per_row)]
    return vstack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--size", type=int, default=224, help="tile size, px")
    parser.add_argument("--image-px", type=int, default=512, help="simulated image size, px")
    args = parser.parse_args()
    save_png(family_sheet(args.seed, args.size, args.image_px), args.out / "gallery_families.png")
    sheet = generalist_sheet(args.seed, args.image_px)
    save_png(sheet, args.out / "gallery_generalist.png")


if __name__ == "__main__":
    main()
