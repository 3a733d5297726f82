"""migraseg-synth: simulate an annotated dataset (data/README.md contract)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from migraseg.synth.params import SynthConfig
from migraseg.synth.writer import write_synthetic_dataset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="migraseg-synth",
        description="Simulate microscopy images of cells, retraction fibers and migrasomes "
        "with exact masks, written as a migraseg dataset folder.",
    )
    parser.add_argument("out", help="output dataset folder")
    parser.add_argument("--modality", default="confocal", choices=["confocal"])
    parser.add_argument("--n", type=int, default=60, help="number of images (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--size", type=int, default=512, help="image side in pixels (default 512)")
    parser.add_argument("--pixel-size", type=float, default=None, help="µm per pixel")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = SynthConfig(modality=args.modality)
    optics = replace(config.confocal, image_size_px=(args.size, args.size))
    if args.pixel_size:
        optics = replace(optics, pixel_size_um=(args.pixel_size, args.pixel_size))
    config = replace(config, confocal=optics)
    out = write_synthetic_dataset(args.out, args.n, args.seed, config, args.workers)
    print(f"wrote {args.n} images to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
