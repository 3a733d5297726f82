"""migraseg-predict: segment TIFF files with a trained model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from migraseg.data.contract import image_to_cyx
from migraseg.inference.predictor import Predictor
from migraseg.io import ImageReadError, read_image, write_tiff


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="migraseg-predict",
        description="Segment 2D TIFF images into background/cell/retraction fiber/migrasome.",
    )
    parser.add_argument("model", help="TorchScript .pt (from migraseg-export) or .ckpt")
    parser.add_argument("inputs", nargs="+", help="TIFF files or folders")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--pixel-size",
        type=float,
        default=None,
        help="µm per pixel, for files that do not record it",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tile-size", type=int, default=512)
    return parser.parse_args(argv)


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given, and every .tif/.tiff inside given folders (sorted)."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths += sorted(p for p in item.iterdir() if p.suffix.lower() in (".tif", ".tiff"))
        else:
            paths.append(item)
    return paths


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    predictor = Predictor.from_path(args.model, device=args.device, tile_size=args.tile_size)
    out, failed = Path(args.out), 0
    for path in expand_inputs(args.inputs):
        try:
            image, meta = read_image(path)
            pixel_size = meta["pixel_size_um"] or args.pixel_size
            if pixel_size is None:
                raise ValueError(f"{path}: no pixel size in the file; pass --pixel-size")
            pred = predictor.predict(image_to_cyx(image, meta["axes"]), pixel_size)
        except (ImageReadError, ValueError) as err:
            print(f"FAILED {err}", file=sys.stderr)
            failed += 1
            continue
        target = write_tiff(out / f"{path.stem}_labels.tif", pred.labels, pixel_size)
        print(f"{path} -> {target}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
