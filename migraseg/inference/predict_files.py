"""Files in, outputs out: migraseg-predict over many files, resumable, never overwriting files.

Every file is opened lazily and predicted frame by frame, strip by strip (see
:mod:`migraseg.inference.predictor`); only the current frame's uint8 labels (1 byte per pixel)
are held whole. A file that fails is reported by name and the batch goes on. Outputs are written
atomically and inputs are only read.

The output folder keeps a manifest (:data:`MANIFEST`, :class:`Manifest`) of every file migraseg
wrote there and, per input, what produced it (the input's path, size and modification time, the
model's SHA-256 and the options that change results). A file is skipped only when the manifest
says the same input and the same model and options produced its outputs, which all still exist;
otherwise it is redone. A file the manifest does not list is never overwritten: that input fails
with a message naming it.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import math
import os
import shutil
import stat
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from migraseg.constants import MIGRASOME
from migraseg.inference.modality_check import (
    SAMPLE_SIDE,
    modality_warning,
    pixel_size_warning,
)
from migraseg.inference.overlay import MAX_OVERLAY_SIDE, write_overlay
from migraseg.inference.planes import FileLayout, normalize_axes, select_channels
from migraseg.inference.plates import (
    PLATE_SUMMARY,
    PlateImage,
    field_keys,
    field_stem,
    input_name,
    is_zarr,
    plate_fields,
    write_plate_summary,
)
from migraseg.inference.predictor import Predictor
from migraseg.inference.prefetch import LoadedImage, Prefetcher
from migraseg.inference.sharding import Shard, manifest_files, manifest_name, summary_name
from migraseg.io import LazyTiff, create_tiff_memmap, write_tiff_pages
from migraseg.measure.cells import cell_map
from migraseg.measure.frame import STRIP_PIXELS, FrameMeasurements, measure_frame
from migraseg.measure.tables import (
    CELL_COLUMNS,
    MIGRASOME_COLUMNS,
    MIGRASOME_TAIL,
    SUMMARY_COLUMNS,
    cell_rows,
    channel_columns,
    migrasome_rows,
    read_csv,
    write_csv,
    write_roi_set,
)
from migraseg.tracking.drift import DriftEstimator
from migraseg.tracking.outputs import roi_name, tracking_paths, write_tracking
from migraseg.tracking.stack import track_stack
from migraseg.tracking.trackmate import TrackedImage
from migraseg.utils.files import atomic_path, remove_stale_temporaries, write_text_atomic
from migraseg.visualize import imagej_class_display

TIFF_SUFFIXES = (".tif", ".tiff")
OUTPUT_SUFFIXES = ("_labels.tif", "_probs.tif", "_cells.tif")
MANIFEST = manifest_name(None)
SUMMARY = summary_name(None)
MAX_RESCALE = 8.0  # refuse (without force) images rescaled more than this, up or down
BIG_TILES = 400  # files with more tiles than this get a size and time estimate first


@dataclass
class PredictOptions:
    """How files are read and what is written (see ``migraseg-predict --help``)."""

    pixel_size_um: float | None = None  # for files that record none (or all, with override)
    override_pixel_size: bool = False
    channels: list[str] | None = None  # indices or names, in the model's channel order
    axes: str | None = None  # e.g. "TYX" for files whose axes tifffile cannot name
    z_mode: str = "slices"  # or "max": maximum projection of z-stacks
    frame_interval_min: float | None = None  # time-lapses whose files record none
    save_probs: bool = False
    overlay: bool = True  # <stem>_overlay.png, for images up to MAX_OVERLAY_SIDE px a side
    overwrite: bool = False
    force: bool = False  # run rescale factors beyond MAX_RESCALE
    strict: bool = False  # the model-fit warnings (modality_check) fail the file instead
    strip_pixels: int = STRIP_PIXELS
    prefetch: bool = True  # read the next file during this one's inference (same outputs)

    def fingerprint(self) -> dict[str, Any]:
        """The options that change what is written (compared before skipping a file)."""
        keys = (
            "pixel_size_um", "override_pixel_size", "channels", "axes", "z_mode", "save_probs",
            "frame_interval_min", "overlay",
        )  # fmt: skip
        return {k: v for k, v in asdict(self).items() if k in keys}


class OutputFolderError(ValueError):
    """The output folder cannot be used (not writable, or holds files migraseg did not write)."""


class Manifest:
    """What migraseg wrote into an output folder, kept in ``<out>/.migraseg-manifest.json``.

    ``outputs``: names of files migraseg wrote (or is about to write) there; ``inputs``: per
    output stem, the input, model and options that produced its finished outputs. It is saved
    atomically after every change, so a killed run leaves a manifest that is right about every
    finished file.

    A shard (:mod:`~migraseg.inference.sharding`) reads every manifest of the folder but saves
    only what it changed, into its own file, so that shards running at once never overwrite
    each other's records; a run without a shard saves the union into the folder's own file and
    removes the shards' files it merged.
    """

    VERSION = 1

    def __init__(self, out_dir: str | Path, shard: Shard | None = None):
        out_dir = Path(out_dir)
        self.path = out_dir / manifest_name(shard)
        self.shard = shard
        self.outputs: set[str] = set()
        self.inputs: dict[str, dict[str, Any]] = {}
        self.changed: set[str] = set()  # stems this process recorded or dropped
        self.claimed: set[str] = set()  # output names this process claimed
        self.merged = manifest_files(out_dir)
        for path in [p for p in self.merged if p != self.path] + [self.path]:
            if not path.is_file():
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.outputs.update(data["outputs"])
                if path == self.path and shard is not None:  # a rerun shard keeps its records
                    self.claimed.update(data["outputs"])
                    self.changed.update(data["inputs"])
                for stem, record in dict(data["inputs"]).items():
                    if record is None:  # a shard dropped it (being redone)
                        self.inputs.pop(stem, None)
                    else:
                        self.inputs[stem] = record
            except (ValueError, KeyError, TypeError) as err:
                raise OutputFolderError(
                    f"{path}: unreadable manifest ({err}); remove it to start afresh"
                ) from err

    def owns(self, path: Path) -> bool:
        """Whether migraseg wrote ``path`` (a file of this folder) or may overwrite it."""
        return path.name in self.outputs or not path.exists()

    def foreign(self, paths) -> list[Path]:
        """The existing files among ``paths`` that migraseg did not write."""
        return [p for p in paths if not self.owns(p)]

    def claim(self, paths) -> None:
        """Record ``paths`` as migraseg's before writing them (a killed write stays ours)."""
        self.outputs.update(p.name for p in paths)
        self.claimed.update(p.name for p in paths)
        self.save()

    def release_missing(self, paths) -> None:
        """Forget claimed ``paths`` that were never written."""
        missing = {p.name for p in paths if not p.exists()}
        self.outputs.difference_update(missing)
        self.claimed.difference_update(missing)
        self.save()

    def record(self, stem: str, entry: dict[str, Any] | None) -> None:
        """Set (or, with None, drop) what produced ``stem``'s outputs, and save."""
        if entry is None:
            self.inputs.pop(stem, None)
        else:
            self.inputs[stem] = entry
        self.changed.add(stem)
        self.save()

    def save(self) -> None:
        if self.shard is None:
            outputs, inputs = self.outputs, self.inputs
        else:
            outputs = self.claimed
            inputs = {stem: self.inputs.get(stem) for stem in self.changed}
        data = {"version": self.VERSION, "outputs": sorted(outputs), "inputs": inputs}
        write_text_atomic(self.path, json.dumps(data, indent=1, sort_keys=True))
        if self.shard is None:
            for path in self.merged:  # now held in the folder's own manifest
                if path != self.path:
                    path.unlink(missing_ok=True)
            self.merged = [self.path]


def input_identity(path: Path) -> dict[str, Any]:
    """What identifies an input's content cheaply: resolved path, size, modification time
    (of a folder, a plate's field: the total size and latest modification of its files)."""
    if path.is_dir():
        stats = [p.stat() for p in path.rglob("*") if p.is_file()]
        size, mtime = sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)
    else:
        st = path.stat()
        size, mtime = st.st_size, st.st_mtime_ns
    return {"path": str(path.resolve()), "size": size, "mtime_ns": mtime}


def check_rescale(
    pixel_size_um: float, model_um: float, source: str, grid: tuple[int, int] | None = None
) -> None:
    """Refuse a rescale factor beyond :data:`MAX_RESCALE` either way, suggesting the usual unit
    mistakes (nm typed as µm, or the reverse).

    Raises:
        ValueError: naming the factor, the model grid it would give (when ``grid`` is known),
            and the remedies.
    """
    scale = pixel_size_um / model_um
    if 1 / MAX_RESCALE <= scale <= MAX_RESCALE:
        return
    if scale > 1:
        what = f"upscaled {scale:.0f}×"
        hint = f"if it is in nm, that is {pixel_size_um / 1000:g} µm"
    else:
        what = f"downscaled {1 / scale:.0f}×"
        hint = f"if it is in mm or was meant as nm, that is {pixel_size_um * 1000:g} µm"
    onto = f" to a {grid[1]}×{grid[0]} px model grid" if grid else ""
    raise ValueError(
        f"pixel size {pixel_size_um:g} µm ({source}) against the model's {model_um:g} µm: the "
        f"image would be {what}{onto}. Pixel sizes are in µm "
        f"({hint}); pass the right --pixel-size (with --override-pixel-size for calibrated "
        "files), or --force to run it anyway"
    )


def human_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


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
    warnings: list[str] = field(default_factory=list)  # the model may not fit this file


@dataclass
class FilePlan:
    """How one open file is predicted."""

    layout: FileLayout
    pixel_size_um: float
    channels: list[int]  # the file's channels fed to the model, in the model's order
    channel_names: list[str]  # names of all the file's channels (c0, c1, ... if unnamed)
    frame_interval_min: float | None = None  # time-lapses: from the file, else the option

    @property
    def tracked(self) -> bool:
        """Whether migrasomes are tracked: the file has more than one time point."""
        return self.layout.size.get("T", 1) > 1


def tracked_image(path: Path, plan: FilePlan) -> TrackedImage:
    """The movie as TrackMate's XML describes it."""
    size = plan.layout.size
    return TrackedImage(
        path=path.resolve(),
        width=size["X"],
        height=size["Y"],
        n_frames=size.get("T", 1),
        n_slices=1 if plan.layout.project_z else size.get("Z", 1),
        pixel_size_um=plan.pixel_size_um,
        interval=plan.frame_interval_min or 1.0,
    )


class ProgressHooks(Protocol):
    def start_file(self, path: Path, tiles: int) -> None: ...
    def advance_tiles(self, n: int) -> None: ...
    def end_file(self, report: FileReport) -> None: ...
    def note(self, message: str) -> None: ...


class NoProgress:
    def start_file(self, path: Path, tiles: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def advance_tiles(self, n: int) -> None:
        pass

    def end_file(self, report: FileReport) -> None:
        pass


def output_stem(path: Path) -> str:
    """``cells.ome.tif`` → ``cells``; a plate's field ``screen.zarr/A/1/0`` → ``screen_A_1_0``."""
    name = field_stem(path)
    if name is not None:
        return name
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def output_paths(path: Path, out_dir: Path, probs: bool, overlay: bool = False) -> dict[str, Path]:
    """Every output an input may get (the overlay is skipped for images too large for one)."""
    stem = out_dir / output_stem(path)
    paths = {
        "labels": Path(f"{stem}_labels.tif"),
        "cells": Path(f"{stem}_cells.tif"),
        "cell_table": Path(f"{stem}_cells.csv"),
        "migrasomes": Path(f"{stem}_migrasomes.csv"),
        "rois": Path(f"{stem}_migrasomes.zip"),
        "summary": Path(f"{stem}_summary.csv"),
    }
    if probs:
        paths["probs"] = Path(f"{stem}_probs.tif")
    if overlay:
        paths["overlay"] = Path(f"{stem}_overlay.png")
    return paths


def not_a_regular_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as an input (symlink loop, broken link, FIFO, device,
    folder), or None for a regular file (or a link to one)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop; skipped"
        if os.path.islink(path):
            return f"broken symbolic link to {os.readlink(path)}; skipped"
        return f"cannot read ({err.strerror}); skipped"
    if stat.S_ISREG(mode):
        return None
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a folder" if stat.S_ISDIR(mode) else "a device"
    return f"not a regular file ({kind}); skipped"


def expand_inputs(
    items: list[str], out_dir: Path, warn: Callable[[str], None] | None = None
) -> tuple[list[Path], list[FileReport]]:
    """Files, folders (their ``*.tif``/``*.tiff``, sorted), glob patterns and OME-Zarr plates
    (every field of every well, :mod:`.plates`), in order.

    Our own outputs in ``out_dir`` (listed in its manifest; in folders also any
    ``*_labels.tif`` and ``*_probs.tif``) are never taken as inputs; one named explicitly is
    reported as such.
    Items that match nothing, symbolic link loops and non-regular files (FIFOs, devices) come
    back as failed reports, so that no input is dropped without a word; a plate's missing wells
    and unreadable fields are passed to ``warn`` (default: :func:`warnings.warn`).
    """
    warn = warn or (lambda message: warnings.warn(message, stacklevel=3))
    paths: list[Path] = []
    problems: list[FileReport] = []
    out = out_dir.resolve()
    ours: set[str] = set()
    for manifest_path in manifest_files(out_dir) if out_dir.is_dir() else []:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # not ours then
            ours.update(json.loads(manifest_path.read_text(encoding="utf-8"))["outputs"])
    for item in items:
        explicit = False
        if Path(item).is_dir() and not is_zarr(Path(item)):
            found = sorted(
                p for p in Path(item).iterdir() if p.suffix.lower() in TIFF_SUFFIXES or is_zarr(p)
            )
        elif os.path.lexists(item):
            found, explicit = [Path(item)], True
        else:
            found = sorted(Path(p) for p in glob.glob(item))
        if not found:
            problems.append(FileReport(Path(item), "failed", f"{item}: no such file or folder"))
        for p in found:
            if is_zarr(p):
                try:
                    fields, notes = plate_fields(p)
                except ValueError as err:
                    problems.append(FileReport(p, "failed", f"{p}: {err}"))
                    continue
                for note in notes:
                    warn(note)
                paths.extend(fields)
                continue
            problem = not_a_regular_file(p)
            if problem:
                problems.append(FileReport(p, "failed", f"{p}: {problem}"))
            elif p.resolve().parent == out and (
                p.name in ours or (not explicit and p.name.lower().endswith(OUTPUT_SUFFIXES))
            ):
                if explicit:
                    problems.append(
                        FileReport(
                            p,
                            "failed",
                            f"{p}: an output of migraseg in --out, not taken as an input (copy "
                            "it elsewhere to segment it)",
                        )
                    )
            else:
                paths.append(p)
    return list(dict.fromkeys(paths)), problems


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """Refuse to start writing ``needed`` bytes where less is free (a full disk under a memory
    map kills the process with SIGBUS, leaving no message and a hidden temporary file)."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise ValueError(
            f"not enough free space in {folder}: {what} needs {needed / 1e9:.2f} GB, "
            f"{free / 1e9:.2f} GB free"
        )


def reserve(path: Path) -> None:
    """Allocate a sparse file's blocks now, so that a full disk is an error here rather than
    SIGBUS in a memory-mapped write later (file systems without fallocate are left as they are)."""
    with open(path, "r+b") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
        except OSError as err:
            if err.errno == errno.ENOSPC:
                raise ValueError(f"disk full: no room for {path.name} in {path.parent}") from err
        except AttributeError:  # not on this platform
            pass


class BatchPredictor:
    """Runs a :class:`Predictor` over files and writes every output into ``out_dir``."""

    def __init__(
        self,
        predictor: Predictor,
        out_dir: str | Path,
        options: PredictOptions | None = None,
        progress: ProgressHooks | None = None,
        shard: Shard | None = None,
    ):
        from migraseg.utils.files import sha256_file

        self.predictor, self.out_dir = predictor, Path(out_dir)
        self.options = options or PredictOptions()
        self.progress = progress or NoProgress()
        source = predictor.source_file or predictor.model_file
        self.model_sha256 = sha256_file(source) if source and source.is_file() else None
        self.manifest: Manifest | None = None
        self.shard = shard  # writes its own manifest and summary file (see sharding)
        self.summary = self.out_dir / summary_name(shard)

    def open_out_dir(self) -> Manifest:
        """Create the output folder, read its manifest and check that ``summary.csv`` is ours.

        Raises:
            OutputFolderError: not a writable folder, an unreadable manifest, or a
                ``summary.csv`` migraseg did not write.
        """
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if not os.access(self.out_dir, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "not writable")
        except OSError as err:
            raise OutputFolderError(
                f"--out {self.out_dir}: cannot write there ({err.strerror or err})"
            ) from err
        manifest = Manifest(self.out_dir, self.shard)
        summary = self.summary
        if manifest.foreign([summary]):
            raise OutputFolderError(
                f"{summary} exists and was not written by migraseg (not in {MANIFEST}); move it "
                "away or choose another --out: files migraseg did not write are never overwritten"
            )
        manifest.claim([summary])
        return manifest

    def run(self, paths: list[Path]) -> list[FileReport]:
        """Predict every file (failures are reported, not raised) and write summary.csv.

        Raises:
            OutputFolderError: the output folder cannot be used (see :meth:`open_out_dir`).
        """
        self.manifest = self.open_out_dir()
        reports: list[FileReport] = []
        try:
            self.predict_all(paths, reports)
        finally:  # also when interrupted: summary.csv then lists the files finished so far
            rows = [row for report in reports for row in report.summary]
            remove_stale_temporaries(self.summary)
            write_csv(self.summary, rows, SUMMARY_COLUMNS)
            if self.shard is None:  # a shard may hold part of a well
                self.write_plate_summary(rows)
        return reports

    def write_plate_summary(self, rows: list[dict]) -> None:
        """Write plate_summary.csv when the run had plates (never over a file not ours)."""
        path = self.out_dir / PLATE_SUMMARY
        if not any(row.get("well") for row in rows):
            return
        if self.manifest.foreign([path]):
            raise OutputFolderError(f"{path} was not written by migraseg: not overwritten")
        self.manifest.claim([path])
        remove_stale_temporaries(path)
        write_plate_summary(rows, self.out_dir, PLATE_SUMMARY)

    def predict_all(self, paths: list[Path], reports: list[FileReport]) -> None:
        """Predict each file in turn, appending its report (failures included) to ``reports``."""
        owners: dict[str, Path] = {}
        with Prefetcher(self.open_input) as prefetch:
            for i, path in enumerate(paths):
                loaded = prefetch.take(path)
                if i + 1 < len(paths) and self.worth_reading(paths[i + 1]):
                    prefetch.start(paths[i + 1])
                self.predict_logged(path, loaded, owners, reports)

    def predict_logged(
        self,
        path: Path,
        loaded: LoadedImage | None,
        owners: dict[str, Path],
        reports: list[FileReport],
    ) -> None:
        """Predict one file of the loop, turning its failure into a report."""
        start = time.perf_counter()
        stem = output_stem(path)
        try:
            if stem in owners:
                raise ValueError(f"its outputs {stem}_* would overwrite {owners[stem]}'s")
            owners[stem] = path
            report = self.predict_file(path, loaded)
        except Exception as err:  # one bad file must not stop the batch
            cause = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
            cause = " ".join(cause.removeprefix(f"{path}: ").split())
            report = FileReport(path, "failed", f"{path}: {cause}")
        report.seconds = time.perf_counter() - start
        self.progress.end_file(report)
        reports.append(report)

    def settings(self) -> dict[str, Any]:
        """Model and options of this run, as the manifest records them."""
        p = self.predictor
        return {
            "model_sha256": self.model_sha256,
            "options": self.options.fingerprint(),
            "tiling": {
                "tile_size": p.tile_size,
                "overlap": p.overlap,
                "tta": getattr(p.runner, "tta", False),
            },
        }

    def is_done(self, path: Path, outputs: dict[str, Path]) -> bool:
        """Whether the manifest says this input, model and options made its outputs, which are
        all still there (``outputs`` are those it may get; the record lists those it got)."""
        record = self.manifest.inputs.get(output_stem(path))
        return (
            record is not None
            and self.model_sha256 is not None
            and record.get("input") == input_identity(path)
            and record.get("settings") == self.settings()
            and all((self.out_dir / name).is_file() for name in record.get("outputs", ()))
            and all(p.is_file() for k, p in outputs.items() if k != "overlay")
        )

    def open_input(self, path: Path) -> LazyTiff | PlateImage:
        """An input opened for reading part by part: a TIFF file or a plate's field."""
        return PlateImage(path) if field_stem(path) else LazyTiff(path)

    def worth_reading(self, path: Path) -> bool:
        """Whether to read ``path`` ahead: prefetching is on and the file will not be skipped."""
        if not self.options.prefetch:
            return False
        outputs = output_paths(path, self.out_dir, self.options.save_probs, self.options.overlay)
        done = self.manifest is not None and self.is_done(path, outputs)
        return self.options.overwrite or not done

    def predict_file(self, path: Path, loaded: LoadedImage | None = None) -> FileReport:
        """Predict one file and write its outputs; raises on any problem with it."""
        if self.manifest is None:
            self.manifest = self.open_out_dir()
        manifest, stem = self.manifest, output_stem(path)
        outputs = output_paths(path, self.out_dir, self.options.save_probs, self.options.overlay)
        if any(p.resolve() == path.resolve() for p in outputs.values()):
            raise ValueError("input and output are the same file; choose another --out")
        if not self.options.overwrite and self.is_done(path, outputs):
            return FileReport(path, "skipped", summary=read_csv(outputs["summary"]))
        foreign = manifest.foreign(outputs.values())
        if foreign:
            names = ", ".join(p.name for p in foreign)
            raise ValueError(
                f"{names} in {self.out_dir} not written by migraseg (not in {MANIFEST}): not "
                "overwritten; move it away or choose another --out"
            )
        manifest.record(stem, None)  # not done until it is again
        manifest.claim(outputs.values())
        for p in outputs.values():
            remove_stale_temporaries(p)
        identity = input_identity(path)
        try:
            with loaded or self.open_input(path) as tiff:
                plan = self.plan(tiff)
                if plan.tracked:
                    self.add_tracking_outputs(path, plan, outputs)
                warnings = self.check_fit(path, plan)
                height, width = plan.layout.size["Y"], plan.layout.size["X"]
                tiles = self.predictor.count_tiles((height, width), plan.pixel_size_um)
                self.estimate(path, plan, tiles)
                self.progress.start_file(path, tiles * len(plan.layout.frames))
                first: dict[str, np.ndarray] = {}
                measured = self.write_images(plan, outputs, first)
            report = self.write_tables(path, plan, measured, outputs, first)
        except BaseException:
            manifest.release_missing(outputs.values())
            raise
        manifest.release_missing(outputs.values())  # the overlay of a large image
        report.warnings = warnings
        manifest.record(
            stem,
            {
                "input": identity,
                "settings": self.settings(),
                "outputs": sorted(p.name for p in outputs.values() if p.is_file()),
            },
        )
        return report

    def add_tracking_outputs(self, path: Path, plan: FilePlan, outputs: dict[str, Path]) -> None:
        """Claim a time-lapse's tracking outputs too (refusing files migraseg did not write)."""
        extra = tracking_paths(self.out_dir / output_stem(path))
        foreign = self.manifest.foreign(extra.values())
        if foreign:
            names = ", ".join(p.name for p in foreign)
            raise ValueError(f"{names} in {self.out_dir} not written by migraseg: not overwritten")
        self.manifest.claim(extra.values())
        for p in extra.values():
            remove_stale_temporaries(p)
        outputs.update(extra)
        if plan.frame_interval_min is None:
            self.progress.note(
                f"{input_name(path)}: no frame interval in the file and no --frame-interval: "
                "track times are in frames"
            )

    def check_fit(self, path: Path, plan: FilePlan) -> list[str]:
        """Warn, once per file, when the model may not fit it (:mod:`.modality_check`): its pixel
        size is far from the model's, or its intensities look like the other modality.

        Raises:
            ValueError: with ``strict``, on the first warning.
        """
        meta, layout = self.predictor.meta, plan.layout
        step = max(1, math.ceil(max(layout.size["Y"], layout.size["X"]) / SAMPLE_SIDE))
        sample = layout.source(layout.frames[0], plan.channels[:1]).subsample(step)[0]
        warnings = [
            w
            for w in (
                pixel_size_warning(plan.pixel_size_um, meta.pixel_size_um),
                modality_warning(sample, meta.modality),
            )
            if w
        ]
        if warnings and self.options.strict:
            raise ValueError(f"{warnings[0]} (an error with --strict)")
        for warning in warnings:
            self.progress.note(f"WARNING {input_name(path)}: {warning}")
        return warnings

    def estimate(self, path: Path, plan: FilePlan, tiles: int) -> None:
        """Print the model grid and a time estimate before a file of many tiles."""
        frames = len(plan.layout.frames)
        if tiles * frames <= BIG_TILES:
            return
        height, width = plan.layout.size["Y"], plan.layout.size["X"]
        grid = self.predictor.model_grid((height, width), plan.pixel_size_um)
        seconds = tiles * frames * self.predictor.seconds_per_tile()
        self.progress.note(
            f"{input_name(path)}: {width}×{height} px × {frames} frame(s) → model grid "
            f"{grid[1]}×{grid[0]} px, {tiles * frames} tiles: about {human_seconds(seconds)} on "
            f"{self.predictor.runner.name}"
        )

    def plan(self, tiff: LazyTiff | PlateImage | LoadedImage) -> FilePlan:
        """Axes, pixel size and channels of an open file, checked against the model."""
        options, meta = self.options, self.predictor.meta
        axes = options.axes or normalize_axes(tiff.axes, tiff.shape, meta.in_channels)
        layout = FileLayout(tiff, axes, options.z_mode)
        pixel_size = tiff.pixel_size_um
        if options.override_pixel_size or not pixel_size:
            pixel_size = options.pixel_size_um
        if not pixel_size:
            raise ValueError("no pixel size in the file's metadata; pass --pixel-size (µm)")
        if not options.force:
            from_option = options.override_pixel_size or not tiff.pixel_size_um
            source = "--pixel-size" if from_option else "the file's metadata"
            size = (layout.size["Y"], layout.size["X"])
            grid = self.predictor.model_grid(size, pixel_size)
            check_rescale(pixel_size, meta.pixel_size_um, source, grid)
        names = tiff.channel_names
        if len(names or []) != layout.n_channels:
            names = None
        channels = select_channels(
            options.channels, names, layout.n_channels, meta.in_channels, meta.channel_names
        )
        names = names or [f"c{i}" for i in range(layout.n_channels)]
        interval = tiff.frame_interval_min or options.frame_interval_min
        return FilePlan(layout, pixel_size, channels, names, interval)

    def predict_frames(
        self,
        plan: FilePlan,
        probs: np.ndarray | None,
        cells: np.ndarray,
        measured: list,
        first: dict[str, np.ndarray],
    ):
        """Yield each frame's (Y, X) uint8 labels; fill ``probs`` (frames, K, Y, X) if given and
        ``cells`` (frames, Y, X) with cell ids, append each frame's measurements to ``measured``
        and keep the first frame's input and labels in ``first`` for the overlay."""
        layout, size = plan.layout, plan.pixel_size_um
        every_channel = list(range(layout.n_channels))
        drift = {z: DriftEstimator() for z in {f.z for f in layout.frames}} if plan.tracked else {}
        keep = self.options.overlay and max(layout.size["Y"], layout.size["X"]) <= MAX_OVERLAY_SIDE
        for i, frame in enumerate(layout.frames):
            labels = np.empty((layout.size["Y"], layout.size["X"]), np.uint8)
            migrasome = np.empty_like(labels)  # its probability × 255, for the migrasomes' score
            source = layout.source(frame, plan.channels)
            every_class = probs is not None  # else only the migrasomes' (for their score)
            classes = range(len(self.predictor.meta.class_names)) if every_class else [MIGRASOME]
            blocks = self.predictor.stream_labels(
                source, size, self.progress.advance_tiles, classes
            )
            for y0, block, scaled in blocks:
                labels[y0 : y0 + block.shape[0]] = block
                migrasome[y0 : y0 + block.shape[0]] = scaled[MIGRASOME if every_class else 0]
                if probs is not None:
                    probs[i, :, y0 : y0 + block.shape[0]] = scaled
            rows = layout.source(frame, every_channel).rows
            postprocess = self.predictor.meta.postprocess
            cell_ids = cell_map(labels, size)
            cell_ids.fill(cells[i])
            found = measure_frame(
                labels, rows, size, postprocess, self.options.strip_pixels, migrasome, cell_ids
            )
            if drift:
                found.stage_offset_px = drift[frame.z].update(labels)
            measured.append((frame.t, frame.z, found))
            if keep and i == 0:
                first["labels"] = labels.copy()
                first["image"] = source.rows(0, layout.size["Y"])[0]
            yield labels

    def write_images(
        self, plan: FilePlan, outputs: dict[str, Path], first: dict[str, np.ndarray]
    ) -> list:
        """Write the labels, cell ids (and probabilities) of every frame; return the
        measurements (and the first frame in ``first``, see :meth:`predict_frames`)."""
        layout, size = plan.layout, plan.pixel_size_um
        shape, axes = layout.output_shape, layout.output_axes
        measured: list[tuple[int | None, int | None, FrameMeasurements]] = []
        n_classes = len(self.predictor.meta.class_names)
        probs_shape = (*shape[:-2], n_classes, *shape[-2:])
        needed = 3 * math.prod(shape) + self.options.save_probs * math.prod(probs_shape)
        what = "--probs" if self.options.save_probs else "the labels and cells"
        check_free_space(self.out_dir, needed, what)
        with ExitStack() as stack:
            tmp = stack.enter_context(atomic_path(outputs["cells"]))
            cells = create_tiff_memmap(tmp, shape, np.uint16, size, axes)
            reserve(tmp)
            probs = None
            if self.options.save_probs:
                tmp = stack.enter_context(atomic_path(outputs["probs"]))
                probs = create_tiff_memmap(tmp, probs_shape, np.uint8, size, axes[:-2] + "CYX")
                reserve(tmp)
            frames = None if probs is None else probs.reshape(-1, n_classes, *shape[-2:])
            cell_frames = cells.reshape(-1, *shape[-2:])
            pages = self.predict_frames(plan, frames, cell_frames, measured, first)
            display = imagej_class_display()
            write_tiff_pages(outputs["labels"], pages, shape, np.uint8, size, axes, display=display)
            for array in (cells, probs):
                if array is not None:
                    array.flush()
            del cells, probs, frames, cell_frames, pages
        return measured

    def write_tables(
        self,
        path: Path,
        plan: FilePlan,
        measured: list,
        outputs: dict[str, Path],
        first: dict[str, np.ndarray],
    ) -> FileReport:
        """Write the migrasome and cell tables, the ROI set, the per-frame summary of a file and
        the overlay of its first frame (if kept in ``first``)."""
        size = plan.pixel_size_um
        rows = migrasome_rows(measured, size, plan.channel_names)
        columns = [*MIGRASOME_COLUMNS, *channel_columns(plan.channel_names), *MIGRASOME_TAIL]
        names = None
        if plan.tracked:
            stacked = track_stack(measured, size, plan.frame_interval_min or 1.0)
            for row, track_id in zip(rows, stacked.track_id, strict=True):
                row["track_id"] = int(track_id)
            columns.append("track_id")
            names = [roi_name(row["track_id"], row["frame"]) for row in rows]
            unit = "min" if plan.frame_interval_min else "frame"
            write_tracking(stacked, outputs, unit, tracked_image(path, plan))
        write_csv(outputs["migrasomes"], rows, columns)
        write_csv(outputs["cell_table"], cell_rows(measured), CELL_COLUMNS)
        write_roi_set(outputs["rois"], measured, names)
        if first:
            in_first = rows[: len(measured[0][2].migrasomes)]
            spots = [(r["id"], r["x_px"], r["y_px"]) for r in in_first]
            write_overlay(outputs["overlay"], first["image"], first["labels"], size, spots)
        summary = [
            {**field_keys(path), "frame": t or 0, "z": "" if z is None else z,
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
