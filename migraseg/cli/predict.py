"""migraseg-predict: segment microscope TIFF files with a trained model.

Heavy imports (torch, the model) happen after argument parsing, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

EPILOG = """
outputs per input <stem> in --out:
  <stem>_labels.tif      uint8 class ids (0 background, 1 cell, 2 retraction fiber, 3 migrasome),
                         ImageJ hyperstack with the input's calibration; T and Z axes kept
  <stem>_probs.tif       with --probs: class probabilities × 255 (uint8), C = class
  <stem>_migrasomes.csv  one row per migrasome: position, size, intensities, nearest cell
  <stem>_migrasomes.zip  ImageJ ROI set of migrasome outlines (Fiji: ROI Manager > Open)
  <stem>_summary.csv     per frame: counts, fiber length, densities, median diameter
  summary.csv            every frame of every input of this run

exit status: 0 if every file succeeded (or was already done), 1 if any failed, 2 on bad usage.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="migraseg-predict",
        description="Segment cells, retraction fibers and migrasomes in TIFF / OME-TIFF / ImageJ "
        "files (2D, multichannel, time series, z-stacks; 8/16-bit or float; any size).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model", help="exported model (.pt or .pt2 from migraseg-export, .onnx) or .ckpt"
    )
    parser.add_argument("inputs", nargs="+", help="TIFF files, folders or glob patterns")
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument(
        "--pixel-size", type=float, help="µm per pixel for files whose metadata records none"
    )
    parser.add_argument(
        "--override-pixel-size",
        action="store_true",
        help="use --pixel-size for every file, even those that record one",
    )
    parser.add_argument(
        "--channel",
        help="channel(s) to segment, by 0-based index or name, comma-separated in the model's "
        "order (default: all, if the file has as many channels as the model)",
    )
    parser.add_argument("--axes", help="axes of every input, e.g. TYX, ZCYX (if not recorded)")
    parser.add_argument(
        "--z",
        choices=("slices", "max"),
        default="slices",
        help="z-stacks: predict each slice, or their maximum projection",
    )
    parser.add_argument("--probs", action="store_true", help="also write <stem>_probs.tif")
    parser.add_argument("--tta", action="store_true", help="average the 4 flips (4× slower)")
    parser.add_argument("--tile-size", type=int, default=512, help="px at the model's pixel size")
    parser.add_argument("--overlap", type=float, default=0.25, help="fraction of a tile")
    parser.add_argument("--batch-size", type=int, default=4, help="tiles per forward pass")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument(
        "--backend",
        choices=("auto", "torch", "onnx"),
        default="auto",
        help="auto: ONNX Runtime on CPU when MODEL has a .onnx beside it, else PyTorch",
    )
    parser.add_argument("--overwrite", action="store_true", help="redo files already done")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress (bar on a terminal, else a log line per 10 %%)",
    )
    return parser.parse_args(argv)


class RichProgress:
    """Two rich progress bars: files, and tiles of the current file."""

    def __init__(self, n_files: int, mode: str):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=mode != "bar",
        )
        self.log = mode == "log"
        self.files = self.bar.add_task("files", total=n_files)
        self.tiles = self.bar.add_task("tiles", total=None)

    def start_file(self, path: Path, tiles: int) -> None:
        self.bar.reset(self.tiles, total=tiles, description=f"tiles of {path.name}")
        self.name, self.total, self.done, self.logged = path.name, tiles, 0, 0

    def advance_tiles(self, n: int) -> None:
        self.bar.advance(self.tiles, n)
        self.done += n
        percent = 100 * self.done // max(self.total, 1)
        if self.log and self.total >= 100 and percent >= self.logged + 10:
            self.logged = percent - percent % 10  # logs (cluster jobs): a line every 10 %
            self.console.print(
                f"{self.name}: {self.logged} % of {self.total} tiles", highlight=False
            )

    def end_file(self, report) -> None:
        if report.status == "failed":
            self.console.print(
                f"[red]FAILED[/red] {report.message}", highlight=False, soft_wrap=True
            )
        self.bar.advance(self.files)


def summary_line(reports, seconds: float, out: Path, backend: str) -> str:
    count = {s: sum(r.status == s for r in reports) for s in ("done", "skipped", "failed")}
    mp = sum(r.megapixels for r in reports)
    migrasomes = sum(r.migrasomes for r in reports)
    frames = sum(r.frames for r in reports)
    speed = f" ({mp / seconds:.2f} MP/s)" if seconds and mp else ""
    return (
        f"migraseg-predict: {len(reports)} input(s): {count['done']} done, {count['skipped']} "
        f"skipped (already done), {count['failed']} failed; {migrasomes} migrasomes in {frames} "
        f"frame(s); {mp:.1f} MP in {seconds:.1f} s{speed} on {backend}; outputs in {out}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from migraseg.inference.batch import BatchPredictor, PredictOptions, expand_inputs
    from migraseg.inference.loading import ModelLoadError
    from migraseg.inference.predictor import Predictor

    start = time.perf_counter()
    out = Path(args.out)
    try:
        predictor = Predictor.from_path(
            args.model,
            backend=args.backend,
            device=args.device,
            tile_size=args.tile_size,
            overlap=args.overlap,
            batch_size=args.batch_size,
            tta=args.tta,
        )
    except (ModelLoadError, ValueError) as err:
        print(f"migraseg-predict: {err}", file=sys.stderr)
        return 2
    options = PredictOptions(
        pixel_size_um=args.pixel_size,
        override_pixel_size=args.override_pixel_size,
        channels=args.channel.split(",") if args.channel else None,
        axes=args.axes.upper() if args.axes else None,
        z_mode=args.z,
        save_probs=args.probs,
        overwrite=args.overwrite,
    )
    paths, missing = expand_inputs(args.inputs, out)
    mode = "off" if args.quiet else "bar" if sys.stderr.isatty() else "log"
    progress = RichProgress(len(paths) + len(missing), mode)
    for report in missing:
        progress.end_file(report)
    with progress.bar:
        reports = missing + BatchPredictor(predictor, out, options, progress).run(paths)
    print(summary_line(reports, time.perf_counter() - start, out, predictor.runner.name))
    return 1 if any(r.status == "failed" for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
