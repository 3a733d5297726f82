"""migraseg-predict: segment microscope TIFF files with a trained model.

Heavy imports (torch, the model) happen after argument parsing, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from pathlib import Path

from migraseg.inference.settings import PredictSettings

EPILOG = """
outputs per input <stem> in --out:
  <stem>_labels.tif      uint8 class ids (0 background, 1 cell, 2 retraction fiber, 3 migrasome),
                         ImageJ hyperstack with the input's calibration; T and Z axes kept; Fiji
                         shows the classes in colour (LUT, display range 0-3)
  <stem>_cells.tif       uint16 cell instance ids (the ids of <stem>_cells.csv), same axes
  <stem>_overlay.png     first frame with class outlines, migrasome ids and a scale bar (images
                         up to 4096 px a side; --no-overlay: none)
  <stem>_probs.tif       with --probs: class probabilities × 255 (uint8), C = class
  <stem>_migrasomes.csv  one row per migrasome: site, x/y in px and µm, size, circularity,
                         score, raw intensities, nearest cell
  <stem>_migrasomes.zip  ImageJ ROI set of migrasome outlines (Fiji: ROI Manager > Open)
  <stem>_cells.csv       one row per cell: position, area, cut_by_border, migrasomes nearest
  <stem>_summary.csv     per frame: counts, fiber length, densities, median diameter
  summary.csv            every frame of every input of this run (plate, well, field: those of
                         a plate's fields, whose <stem> is <plate>_<row>_<column>_<field>)
                         (summary.shard-K-of-N.csv with --shard K/N; a run without --shard
                         over the same inputs then skips what shards did and merges)
  plate_summary.csv      OME-Zarr plates: one row per well (counts, ratios, median diameter);
                         written by runs without --shard
  .migraseg-manifest.json  what migraseg wrote here, and from which input, model and options

A file is skipped when the manifest says the same input (path, size, modification time), model
and options made its outputs; otherwise it is redone. Files migraseg did not write are never
overwritten (that input fails with a message).

A file whose pixel size is more than 4× off the model's, or whose intensities look like the
other modality (dark objects on a light background for a confocal model), gets a WARNING line;
with --strict it fails instead.

exit status: 0 if every file succeeded (or was already done), 1 if any failed, 2 on bad usage,
130/143 when interrupted (SIGINT/SIGTERM; unfinished outputs are removed).
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout and shows each option's default (not for flags, nor options
    that are unset by default)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default in (None, argparse.SUPPRESS) or action.nargs == 0
        if action.option_strings and not unset and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="migraseg-predict",
        description="Segment cells, retraction fibers and migrasomes in TIFF / OME-TIFF / ImageJ "
        "files (2D, multichannel, time series, z-stacks; 8/16-bit or float; any size).",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "model", help="exported model (.pt or .pt2 from migraseg-export, .onnx) or .ckpt"
    )
    parser.add_argument(
        "inputs", nargs="+", help="TIFF files, folders, glob patterns or OME-Zarr plates (*.zarr)"
    )
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
    parser.add_argument(
        "--frame-interval",
        type=float,
        metavar="MIN",
        help="time-lapses: minutes between frames, for files that record none (else time is in "
        "frames)",
    )
    parser.add_argument("--probs", action="store_true", help="also write <stem>_probs.tif")
    parser.add_argument(
        "--no-overlay",
        dest="overlay",
        action="store_false",
        help="do not write <stem>_overlay.png",
    )
    parser.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=PredictSettings.tta,
        help="average the network over the 4 flips of each tile: steadier on unfamiliar images; "
        "--no-tta is 4× faster",
    )
    parser.add_argument(
        "--tile-size",
        type=int,
        default=PredictSettings.tile_size,
        help="px at the model's pixel size",
    )
    parser.add_argument(
        "--overlap", type=float, default=PredictSettings.overlap, help="fraction of a tile"
    )
    parser.add_argument(
        "--batch-size", type=int, default=PredictSettings.batch_size, help="tiles per forward pass"
    )
    parser.add_argument(
        "--device", default=PredictSettings.device, help="auto, cpu, cuda, cuda:1, ..."
    )
    parser.add_argument(
        "--workers",
        default="auto",
        help="processes that measure and write files while the network predicts the next ones "
        "(0: none; auto: one per spare core, at most 4, none for a single file)",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "torch", "onnx"),
        default="auto",
        help="auto: ONNX Runtime on CPU when MODEL has a .onnx beside it, else PyTorch",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="redo files already done; allow --out to be an input folder (files migraseg did "
        "not write are never overwritten)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="run files whose pixel size means rescaling more than 8× up or down",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail a file, instead of warning, when the model may not fit it (pixel size more "
        "than 4× off the model's, intensities like the other modality)",
    )
    parser.add_argument(
        "--shard",
        metavar="K/N",
        help="process shard K of N (1-based) of the inputs; shards may share --out, and a "
        "later run without --shard writes the merged summary.csv (docs/inference.md)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress (bar on a terminal, else a log line per 10 %%)",
    )
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for one shard per GPU
    check_args(parser, args)
    return args


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Option values that cannot work are usage errors (exit 2) before any file is read."""
    if args.pixel_size is not None and not (math.isfinite(args.pixel_size) and args.pixel_size > 0):
        parser.error(
            f"--pixel-size must be a positive number of µm per pixel, got {args.pixel_size}"
        )
    interval = args.frame_interval
    if interval is not None and not (math.isfinite(interval) and interval > 0):
        parser.error(f"--frame-interval must be a positive number of minutes, got {interval}")
    if args.override_pixel_size and args.pixel_size is None:
        parser.error("--override-pixel-size needs --pixel-size")
    if args.tile_size <= 0 or args.tile_size % 32:
        parser.error(f"--tile-size must be a positive multiple of 32 px, got {args.tile_size}")
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1 tile, got {args.batch_size}")
    if args.workers != "auto":
        if not args.workers.strip().isdigit():
            parser.error(f"--workers must be auto or a number ≥ 0, got {args.workers!r}")
        args.workers = int(args.workers)
    if not (0 <= args.overlap < 1):
        parser.error(f"--overlap is a fraction of a tile in [0, 1), got {args.overlap}")
    if args.shard is not None:
        from migraseg.inference.sharding import Shard

        try:
            args.shard = Shard.parse(args.shard)
        except ValueError as err:
            parser.error(f"--shard {err}")
    device = args.device
    if device != "auto":
        import torch

        try:
            parsed = torch.device(device)
        except RuntimeError:
            parser.error(f"--device {device!r}: not a device (auto, cpu, cuda, cuda:1, ...)")
        if parsed.type == "cuda" and not torch.cuda.is_available():
            parser.error(f"--device {device}: no CUDA GPU is available here (use cpu or auto)")
        if parsed.type == "cuda" and (parsed.index or 0) >= torch.cuda.device_count():
            parser.error(f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s)")
    out = Path(args.out)
    problem = unusable_out(out)
    if problem:
        parser.error(f"--out {out}: {problem}")
    if not args.overwrite:
        for item in args.inputs:
            if Path(item).is_dir() and Path(item).resolve() == out.resolve():
                parser.error(
                    f"--out {out} is an input folder: outputs would land among your files. "
                    "Choose another --out, or pass --overwrite (files migraseg did not write "
                    "are never overwritten)"
                )


def unusable_out(out: Path) -> str | None:
    """Why ``out`` cannot take outputs (checked once, up front), or None; creates it."""
    if out.exists() and not out.is_dir():
        return "exists and is not a folder"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".migraseg-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        return f"cannot write there ({err.strerror or err})"
    return None


class Interrupted(KeyboardInterrupt):
    """SIGTERM (a cluster's time limit, ``kill``), handled like Ctrl-C."""


def raise_interrupted(signum: int, frame) -> None:
    raise Interrupted


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

    def note(self, message: str) -> None:
        self.console.print(message, highlight=False, soft_wrap=True)

    def end_file(self, report) -> None:
        if report.status == "failed":
            self.console.print(
                f"[red]FAILED[/red] {report.message}", highlight=False, soft_wrap=True
            )
        self.bar.advance(self.files)


def summary_line(reports, seconds: float, out: Path, backend: str, model: str = "") -> str:
    count = {s: sum(r.status == s for r in reports) for s in ("done", "skipped", "failed")}
    mp = sum(r.megapixels for r in reports)
    migrasomes = sum(r.migrasomes for r in reports)
    frames = sum(r.frames for r in reports)
    files_per_s = count["done"] / seconds if seconds else 0
    speed = f" ({mp / seconds:.2f} MP/s, {files_per_s:.2f} files/s)" if seconds and mp else ""
    return (
        f"migraseg-predict: {len(reports)} input(s): {count['done']} done, {count['skipped']} "
        f"skipped (already done), {count['failed']} failed; {migrasomes} migrasomes in {frames} "
        f"frame(s); {mp:.1f} MP in {seconds:.1f} s{speed} on {backend}"
        f"{f' ({model})' if model else ''}; outputs in {out}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    previous = signal.signal(signal.SIGTERM, raise_interrupted)  # finally blocks clean up
    try:
        return run(args)
    except KeyboardInterrupt as stop:
        code = 143 if isinstance(stop, Interrupted) else 130
        name = "SIGTERM" if code == 143 else "SIGINT"
        print(
            f"migraseg-predict: interrupted ({name}); finished files are kept and recorded, "
            "the unfinished one was removed: rerun the command to go on",
            file=sys.stderr,
        )
        return code
    finally:  # a caller in the same process (a test, a notebook) keeps its own handler
        signal.signal(signal.SIGTERM, previous)


def one_shard_per_gpu(argv: list[str]) -> None:
    """With several GPUs visible, run one shard on each and wait for them; the caller's run
    then skips what they did and writes the merged summary.csv."""
    import torch

    from migraseg.inference.sharding import shard_per_gpu

    n_gpus = torch.cuda.device_count()
    if n_gpus < 2:
        return
    print(f"migraseg-predict: {n_gpus} GPUs: one shard on each, then merging", file=sys.stderr)
    for process in shard_per_gpu(argv, n_gpus):
        process.wait()


def run(args: argparse.Namespace) -> int:
    from migraseg.inference.loading import ModelLoadError
    from migraseg.inference.predict_files import (
        BatchPredictor,
        OutputFolderError,
        PredictOptions,
        check_rescale,
        expand_inputs,
        output_stem,
    )
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
        if args.pixel_size and not args.force:
            check_rescale(args.pixel_size, predictor.meta.pixel_size_um, "--pixel-size")
    except (ModelLoadError, ValueError) as err:
        print(f"migraseg-predict: {err}", file=sys.stderr)
        return 2
    if args.shard is None and args.device == "cuda":
        one_shard_per_gpu(args.argv)
    model_file = predictor.model_file
    print(f"migraseg-predict: running {model_file} on {predictor.runner.name}", file=sys.stderr)
    options = PredictOptions(
        pixel_size_um=args.pixel_size,
        override_pixel_size=args.override_pixel_size,
        channels=args.channel.split(",") if args.channel else None,
        axes=args.axes.upper() if args.axes else None,
        z_mode=args.z,
        frame_interval_min=args.frame_interval,
        save_probs=args.probs,
        overlay=args.overlay,
        overwrite=args.overwrite,
        force=args.force,
        strict=args.strict,
        workers=None if args.workers == "auto" else args.workers,
    )
    paths, missing = expand_inputs(
        args.inputs, out, lambda message: print(f"WARNING {message}", file=sys.stderr)
    )
    if args.shard:
        paths = args.shard.select(paths, output_stem)
    mode = "off" if args.quiet else "bar" if sys.stderr.isatty() else "log"
    progress = RichProgress(len(paths) + len(missing), mode)
    for report in missing:
        progress.end_file(report)
    try:
        with progress.bar:
            reports = missing + BatchPredictor(predictor, out, options, progress, args.shard).run(
                paths
            )
    except OutputFolderError as err:
        print(f"migraseg-predict: {err}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    print(summary_line(reports, seconds, out, predictor.runner.name, model_file.name))
    return 1 if any(r.status == "failed" for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
