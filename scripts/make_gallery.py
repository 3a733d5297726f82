"""Render the simulator's contact sheets (image | truth overlay) into docs/gallery_*.png.

    python scripts/make_gallery.py            # docs/gallery_{confocal,tem,timelapse}.png
    python scripts/make_gallery.py --out /tmp/gallery --seed 3

Each sheet shows one row per preset (the first channel, percentile-stretched, beside the same
image with the mask's classes tinted: cell blue, fiber green, migrasome magenta); the time-lapse
sheet shows frames of one stack around a growing migrasome.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from migraseg.synth.generator import SyntheticSample, make_sample
from migraseg.synth.presets import load_preset
from migraseg.visualize import overlay, to_gray

SHEETS = {
    "confocal": ["confocal", "confocal_wga", "shifted"],
    "tem": ["tem", "tem"],
}
CAPTION_PX = 18
GAP_PX = 4


def captioned(tile: np.ndarray, text: str) -> np.ndarray:
    """An RGB tile (Y, X, 3) with a white caption strip above it."""
    strip = Image.new("RGB", (tile.shape[1], CAPTION_PX), "white")
    ImageDraw.Draw(strip).text((4, 3), text, fill="black")
    return np.concatenate([np.asarray(strip), tile], axis=0)


def hstack(tiles: list[np.ndarray]) -> np.ndarray:
    gap = np.full((tiles[0].shape[0], GAP_PX, 3), 255, np.uint8)
    parts = [p for t in tiles for p in (t, gap)][:-1]
    return np.concatenate(parts, axis=1)


def vstack(rows: list[np.ndarray]) -> np.ndarray:
    gap = np.full((GAP_PX, rows[0].shape[1], 3), 255, np.uint8)
    parts = [p for r in rows for p in (r, gap)][:-1]
    return np.concatenate(parts, axis=0)


def sample_row(preset: str, sample: SyntheticSample) -> np.ndarray:
    image, truth = sample.image[0], sample.truth
    label = (
        f"{preset}: {truth['channels'][0]}, {sample.pixel_size_um * 1000:.1f} nm/px, "
        f"{len(truth['migrasomes'])} migrasomes"
    )
    return hstack(
        [captioned(to_gray(image), label), captioned(overlay(image, sample.mask), "truth")]
    )


def timelapse_sheet(sample: SyntheticSample, n_shown: int = 4, crop: int = 192) -> np.ndarray:
    """Frames (top) and their overlays (bottom) around the migrasome that grows the most."""
    frames = sample.truth["frames"]
    first = {m["id"]: m["diameter_um"] for m in frames[0]["migrasomes"]}
    last = {m["id"]: m for m in frames[-1]["migrasomes"]}
    target = last[max(last, key=lambda i: last[i]["diameter_um"] - first.get(i, 0.0))]
    px = sample.pixel_size_um
    cy, cx = int(target["y_um"] / px), int(target["x_um"] / px)
    h, w = sample.mask.shape[1:]
    y0, x0 = int(np.clip(cy - crop // 2, 0, h - crop)), int(np.clip(cx - crop // 2, 0, w - crop))
    box = (slice(y0, y0 + crop), slice(x0, x0 + crop))
    chosen = np.linspace(0, sample.n_frames - 1, n_shown).round().astype(int)
    top, bottom = [], []
    for t in chosen:
        image = sample.image[t, 0][box]
        d = next((m["diameter_um"] for m in frames[t]["migrasomes"] if m["id"] == target["id"]), 0)
        minutes = frames[t]["time_min"]
        top.append(captioned(to_gray(image), f"t = {minutes:.0f} min, d = {d:.2f} um"))
        bottom.append(captioned(overlay(image, sample.mask[t][box]), f"truth, id {target['id']}"))
    return vstack([hstack(top), hstack(bottom)])


def save_png(sheet: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # a 256-colour palette halves the file and looks the same (gray plus three tints)
    palette = Image.fromarray(sheet).quantize(
        256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    palette.save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name, presets in SHEETS.items():
        rows = [
            sample_row(preset, make_sample(load_preset(preset), args.seed, index))
            for index, preset in enumerate(presets)
        ]
        save_png(vstack(rows), args.out / f"gallery_{name}.png")
    lapse = make_sample(load_preset("timelapse"), args.seed, 0)
    save_png(timelapse_sheet(lapse), args.out / "gallery_timelapse.png")


if __name__ == "__main__":
    main()
