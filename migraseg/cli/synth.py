"""migraseg-synth: simulate an annotated dataset (data/README.md contract)."""

from __future__ import annotations

import argparse
import sys

from migraseg.synth.params import MODALITIES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="migraseg-synth",
        description="Simulate confocal or TEM images of cells, retraction fibers and migrasomes "
        "with exact masks and truth tables, written as a migraseg dataset folder. Presets are "
        "the files of configs/data/synth/; trailing KEY=VALUE arguments override any of their "
        "parameters, e.g. confocal.peak_photons=[30,90] scene.n_cells=[2,3].",
    )
    parser.add_argument("out", nargs="?", help="output dataset folder")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="preset overrides")
    parser.add_argument(
        "--modality",
        choices=MODALITIES,
        default=None,
        help="confocal or tem: picks that modality's default preset (default confocal)",
    )
    parser.add_argument("--preset", default=None, help="a preset of configs/data/synth/")
    parser.add_argument("--n", type=int, default=60, help="number of images (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--size", type=int, default=None, help="image side in pixels")
    parser.add_argument("--pixel-size", type=float, default=None, help="µm per pixel")
    parser.add_argument(
        "--timelapse", type=int, default=None, metavar="T", help="write T-frame time-lapses"
    )
    parser.add_argument("--workers", type=int, default=1, help="parallel processes")
    parser.add_argument("--list", action="store_true", help="list the presets and exit")
    args = parser.parse_intermixed_args(argv)
    if args.out is None and not args.list:
        parser.error("the output folder is required")
    return args


def main(argv: list[str] | None = None) -> int:
    from migraseg.data.synthetic import write_synthetic_dataset
    from migraseg.synth.presets import load_preset, preset_names

    args = parse_args(argv)
    if args.list:
        print("\n".join(preset_names()))
        return 0
    preset = args.preset or args.modality or "confocal"  # each modality's default preset
    overrides = list(args.overrides)
    if args.timelapse:
        overrides.append(f"timelapse.n_frames={args.timelapse}")
    try:
        config = load_preset(preset, overrides)
    except ValueError as err:
        print(f"migraseg-synth: {err}", file=sys.stderr)
        return 2
    if args.modality and config.modality != args.modality:
        print(
            f"migraseg-synth: preset {preset!r} is {config.modality}, not {args.modality}",
            file=sys.stderr,
        )
        return 2
    if args.size:
        config = config.with_acquisition(image_size_px=(args.size, args.size))
    if args.pixel_size:
        config = config.with_acquisition(pixel_size_um=(args.pixel_size, args.pixel_size))
    out = write_synthetic_dataset(args.out, args.n, args.seed, config, args.workers)
    frames = f" × {config.timelapse.n_frames} frames" if config.timelapse.n_frames > 1 else ""
    print(f"wrote {args.n} {preset} images{frames} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
