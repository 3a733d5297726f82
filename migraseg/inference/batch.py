"""Predict a batch of microscope files: labels, probabilities, tables and ROI sets per file.

Every file is opened lazily and predicted frame by frame, strip by strip (see
:mod:`migraseg.inference.predictor`); only the current frame's uint8 labels (1 byte per pixel)
are held whole. A file that fails is reported by name and the batch goes on. Outputs are written
atomically, inputs are only read, and files whose outputs all exist are skipped unless
``overwrite``.
"""

from __future__ import annotations

import glob
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from migraseg.inference.planes import FileLayout, normalize_axes, select_channels
from migraseg.inference.predictor import Predictor
from migraseg.io import LazyTiff, create_tiff_memmap, write_tiff_pages
from migraseg.measure.frame import STRIP_PIXELS, FrameMeasurements, measure_frame
from migraseg.measure.tables import (
    MIGRASOME_COLUMNS,
    MIGRASOME_TAIL,
    SUMMARY_COLUMNS,
    channel_columns,
    migrasome_rows,
    read_csv,
    write_csv,
    write_roi_set,
)
from migraseg.utils.files import atomic_path

TIFF_SUFFIXES = (".tif", ".tiff")
OUTPUT_SUFFIXES = ("_labels.tif", "_probs.tif")


@dataclass
class PredictOptions:
    """How files are read and what is written (see ``migraseg-predict --help``)."""

    pixel_size_um: float | None = None  # for files that record none (or all, with override)
    override_pixel_size: bool = False
    channels: list[str] | None = None  # indices or names, in the model's channel order
    axes: str | None = None  # e.g. "TYX" for files whose axes tifffile cannot name
    z_mode: str = "slices"  # or "max": maximum projection of z-stacks
    save_probs: bool = False
    overwrite: bool = False
    strip_pixels: int = STRIP_PIXELS


@dataclass
class FileReport:
    """What happened to one input."""

    path: Path
    status: str  # "done", "skipped" (outputs exist) or "failed"
    message: str = ""
    frames: int = 0
    migrasomes: int = 0
    megapixels: float = 0.0
    seconds: float = 0.0
    summary: list[dict] = field(default_factory=list)


@dataclass
class FilePlan:
    """How one open file is predicted."""

    layout: FileLayout
    pixel_size_um: float
    channels: list[int]  # the file's channels fed to the model, in the model's order
    channel_names: list[str]  # names of all the file's channels (c0, c1, ... if unnamed)


class ProgressHooks(Protocol):
    def start_file(self, path: Path, tiles: int) -> None: ...
    def advance_tiles(self, n: int) -> None: ...
    def end_file(self, report: FileReport) -> None: ...


class NoProgress:
    def start_file(self, path: Path, tiles: int) -> None:
        pass

    def advance_tiles(self, n: int) -> None:
        pass

    def end_file(self, report: FileReport) -> None:
        pass


def output_stem(path: Path) -> str:
    """``cells.ome.tif`` → ``cells``."""
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def output_paths(path: Path, out_dir: Path, probs: bool) -> dict[str, Path]:
    stem = out_dir / output_stem(path)
    paths = {
        "labels": Path(f"{stem}_labels.tif"),
        "migrasomes": Path(f"{stem}_migrasomes.csv"),
        "rois": Path(f"{stem}_migrasomes.zip"),
        "summary": Path(f"{stem}_summary.csv"),
    }
    if probs:
        paths["probs"] = Path(f"{stem}_probs.tif")
    return paths


def expand_inputs(items: list[str], out_dir: Path) -> tuple[list[Path], list[FileReport]]:
    """Files, folders (their ``*.tif``/``*.tiff``, sorted) and glob patterns, in order.

    Our own outputs in ``out_dir`` are never taken as inputs. Items that match nothing come
    back as failed reports.
    """
    paths: list[Path] = []
    missing: list[FileReport] = []
    for item in items:
        if Path(item).is_dir():
            found = sorted(p for p in Path(item).iterdir() if p.suffix.lower() in TIFF_SUFFIXES)
        elif Path(item).exists():
            found = [Path(item)]
        else:
            found = sorted(Path(p) for p in glob.glob(item) if Path(p).is_file())
        if not found:
            missing.append(FileReport(Path(item), "failed", f"{item}: no such file or folder"))
        out = out_dir.resolve()
        paths += [
            p
            for p in found
            if not (p.resolve().parent == out and p.name.lower().endswith(OUTPUT_SUFFIXES))
        ]
    return list(dict.fromkeys(paths)), missing


class BatchPredictor:
    """Runs a :class:`Predictor` over files and writes every output into ``out_dir``."""

    def __init__(
        self,
        predictor: Predictor,
        out_dir: str | Path,
        options: PredictOptions | None = None,
        progress: ProgressHooks | None = None,
    ):
        self.predictor, self.out_dir = predictor, Path(out_dir)
        self.options = options or PredictOptions()
        self.progress = progress or NoProgress()

    def run(self, paths: list[Path]) -> list[FileReport]:
        """Predict every file (failures are reported, not raised) and write summary.csv."""
        reports, owners = [], {}
        for path in paths:
            start = time.perf_counter()
            stem = output_stem(path)
            try:
                if stem in owners:
                    raise ValueError(f"its outputs {stem}_* would overwrite {owners[stem]}'s")
                owners[stem] = path
                report = self.predict_file(path)
            except Exception as err:  # one bad file must not stop the batch
                cause = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
                cause = " ".join(cause.removeprefix(f"{path}: ").split())
                report = FileReport(path, "failed", f"{path}: {cause}")
            report.seconds = time.perf_counter() - start
            self.progress.end_file(report)
            reports.append(report)
        rows = [row for report in reports for row in report.summary]
        write_csv(self.out_dir / "summary.csv", rows, SUMMARY_COLUMNS)
        return reports

    def predict_file(self, path: Path) -> FileReport:
        """Predict one file and write its outputs; raises on any problem with it."""
        outputs = output_paths(path, self.out_dir, self.options.save_probs)
        if any(p.resolve() == path.resolve() for p in outputs.values()):
            raise ValueError("input and output are the same file; choose another --out")
        if not self.options.overwrite and all(p.is_file() for p in outputs.values()):
            return FileReport(path, "skipped", summary=read_csv(outputs["summary"]))
        with LazyTiff(path) as tiff:
            plan = self.plan(tiff)
            height, width = plan.layout.size["Y"], plan.layout.size["X"]
            tiles = self.predictor.count_tiles((height, width), plan.pixel_size_um)
            self.progress.start_file(path, tiles * len(plan.layout.frames))
            measured = self.write_images(plan, outputs)
        return self.write_tables(path, plan, measured, outputs)

    def plan(self, tiff: LazyTiff) -> FilePlan:
        """Axes, pixel size and channels of an open file, checked against the model."""
        options, meta = self.options, self.predictor.meta
        axes = options.axes or normalize_axes(tiff.axes, tiff.shape, meta.in_channels)
        layout = FileLayout(tiff, axes, options.z_mode)
        pixel_size = tiff.pixel_size_um
        if options.override_pixel_size or not pixel_size:
            pixel_size = options.pixel_size_um
        if not pixel_size:
            raise ValueError("no pixel size in the file's metadata; pass --pixel-size (µm)")
        names = tiff.channel_names
        if len(names or []) != layout.n_channels:
            names = None
        channels = select_channels(
            options.channels, names, layout.n_channels, meta.in_channels, meta.channel_names
        )
        names = names or [f"c{i}" for i in range(layout.n_channels)]
        return FilePlan(layout, pixel_size, channels, names)

    def predict_frames(self, plan: FilePlan, probs: np.ndarray | None, measured: list):
        """Yield each frame's (Y, X) uint8 labels; fill ``probs`` (frames, K, Y, X) if given and
        append each frame's measurements to ``measured``."""
        layout, size = plan.layout, plan.pixel_size_um
        every_channel = list(range(layout.n_channels))
        for i, frame in enumerate(layout.frames):
            labels = np.empty((layout.size["Y"], layout.size["X"]), np.uint8)
            source = layout.source(frame, plan.channels)
            for y0, p in self.predictor.stream(source, size, self.progress.advance_tiles):
                labels[y0 : y0 + p.shape[1]] = p.argmax(0)
                if probs is not None:
                    probs[i, :, y0 : y0 + p.shape[1]] = np.round(p * 255)
            rows = layout.source(frame, every_channel).rows
            postprocess = self.predictor.meta.postprocess
            found = measure_frame(labels, rows, size, postprocess, self.options.strip_pixels)
            measured.append((frame.t, frame.z, found))
            yield labels

    def write_images(self, plan: FilePlan, outputs: dict[str, Path]) -> list:
        """Write the labels (and probabilities) of every frame; return the measurements."""
        layout, size = plan.layout, plan.pixel_size_um
        shape, axes = layout.output_shape, layout.output_axes
        measured: list[tuple[int | None, int | None, FrameMeasurements]] = []
        if not self.options.save_probs:
            pages = self.predict_frames(plan, None, measured)
            write_tiff_pages(outputs["labels"], pages, shape, np.uint8, size, axes)
            return measured
        n_classes = len(self.predictor.meta.class_names)
        with atomic_path(outputs["probs"]) as tmp:
            probs_shape = (*shape[:-2], n_classes, *shape[-2:])
            probs = create_tiff_memmap(tmp, probs_shape, np.uint8, size, axes[:-2] + "CYX")
            frames = probs.reshape(-1, n_classes, *shape[-2:])
            pages = self.predict_frames(plan, frames, measured)
            write_tiff_pages(outputs["labels"], pages, shape, np.uint8, size, axes)
            probs.flush()
            del probs, frames, pages
        return measured

    def write_tables(
        self, path: Path, plan: FilePlan, measured: list, outputs: dict[str, Path]
    ) -> FileReport:
        """Write the migrasome table, the ROI set and the per-frame summary of a file."""
        size = plan.pixel_size_um
        rows = migrasome_rows(measured, size, plan.channel_names)
        columns = [*MIGRASOME_COLUMNS, *channel_columns(plan.channel_names), *MIGRASOME_TAIL]
        write_csv(outputs["migrasomes"], rows, columns)
        write_roi_set(outputs["rois"], measured)
        summary = [
            {"image": path.name, "frame": t or 0, "z": "" if z is None else z,
             "pixel_size_um": size, **found.summary(size)}
            for t, z, found in measured
        ]  # fmt: skip
        write_csv(outputs["summary"], summary, SUMMARY_COLUMNS)
        n_frames = len(measured)
        return FileReport(
            path,
            "done",
            frames=n_frames,
            migrasomes=len(rows),
            megapixels=plan.layout.size["Y"] * plan.layout.size["X"] * n_frames / 1e6,
            summary=summary,
        )
