"""Files in, outputs out: migraseg-predict over many files, resumable, never overwriting files.

Small files (at most :data:`MAX_HELD_BYTES` of labels, :data:`MAX_WHOLE_TILES` tiles a frame)
are read whole, predicted a few at a time and handed to writer processes (:mod:`.pipeline`);
larger ones are opened lazily and predicted frame by frame, strip by strip (see
:mod:`migraseg.inference.predictor`), with only the current frame's uint8 labels (1 byte per
pixel) held whole. A file that fails is reported by name and the batch goes on. Outputs are
written atomically and inputs are only read.

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
import stat
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from migraseg.inference.file_writer import FilePlan, FileReport, LabelBlocks, OutputWriter
from migraseg.inference.modality_check import (
    SAMPLE_SIDE,
    modality_warning,
    pixel_size_warning,
)
from migraseg.inference.pipeline import Slot, WriteJob, WriterPool, default_workers
from migraseg.inference.planes import FileLayout, normalize_axes, select_channels
from migraseg.inference.plates import (
    PLATE_SUMMARY,
    PlateImage,
    field_stem,
    input_name,
    is_zarr,
    plate_fields,
    write_plate_summary,
)
from migraseg.inference.predictor import Predictor
from migraseg.inference.prefetch import LoadedImage, Prefetcher, read_whole
from migraseg.inference.sharding import Shard, manifest_files, manifest_name, summary_name
from migraseg.io import LazyTiff
from migraseg.measure.frame import STRIP_PIXELS
from migraseg.measure.tables import (
    SUMMARY_COLUMNS,
    read_csv,
    write_csv,
)
from migraseg.tracking.outputs import tracking_paths
from migraseg.utils.files import remove_stale_temporaries, write_text_atomic

TIFF_SUFFIXES = (".tif", ".tiff")
OUTPUT_SUFFIXES = ("_labels.tif", "_probs.tif", "_cells.tif")
MANIFEST = manifest_name(None)
SUMMARY = summary_name(None)
MAX_RESCALE = 8.0  # refuse (without force) images rescaled more than this, up or down
BIG_TILES = 400  # files with more tiles than this get a size and time estimate first
MAX_HELD_BYTES = 64 * 2**20  # labels and probabilities of a file held for a writer, at most
MAX_WHOLE_TILES = 64  # tiles of a frame held whole on the device (~12 MP on the model's grid)


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
    workers: int | None = 0  # writer processes (None: pipeline.default_workers; same outputs)

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
class PendingFile:
    """A file checked, claimed and opened, waiting for the network."""

    path: Path
    plan: FilePlan
    outputs: dict[str, Path]
    identity: dict[str, Any]  # what the manifest records of the input
    warnings: list[str]  # the model may not fit it
    tiles: int  # of all its frames
    in_memory: bool  # small, read whole: predicted with others and written by a writer
    slot: Slot | None = None  # its place in the run's order


def failed_report(path: Path, err: BaseException) -> FileReport:
    """A failure, in one line naming the file."""
    cause = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
    cause = " ".join(cause.removeprefix(f"{path}: ").split())
    return FileReport(path, "failed", f"{path}: {cause}")


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
        meta = predictor.meta
        self.writer = OutputWriter(
            len(meta.class_names),
            meta.postprocess,
            self.options.save_probs,
            self.options.overlay,
            self.options.strip_pixels,
        )

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
        """Predict each file in turn, appending its report (failures included) to ``reports``
        in input order: the next file is read during inference, small files are predicted a
        few at a time (their tiles batched together), and measured and written by writer
        processes (:mod:`.pipeline`) while the network goes on."""
        owners: dict[str, Path] = {}
        workers = self.options.workers
        workers = default_workers(len(paths)) if workers is None else workers
        batch: list[PendingFile] = []
        with Prefetcher(self.open_input) as prefetch, WriterPool(self.writer, workers) as pool:
            for i, path in enumerate(paths):
                start = time.perf_counter()
                loaded = prefetch.take(path)
                if i + 1 < len(paths) and self.worth_reading(paths[i + 1]):
                    prefetch.start(paths[i + 1])
                try:
                    prepared = self.prepare(path, loaded, owners)
                except Exception as err:  # one bad file must not stop the batch
                    prepared = failed_report(path, err)
                if isinstance(prepared, FileReport):
                    pool.slot(partial(self.conclude, None, start, reports)).fill(prepared)
                    continue
                prepared.slot = pool.slot(partial(self.conclude, prepared, start, reports))
                if prepared.in_memory:
                    batch.append(prepared)
                gathered = sum(p.tiles for p in batch)
                if not prepared.in_memory or gathered >= self.predictor.batch_size:
                    self.predict_batch(batch, pool)
                    batch = []
                if not prepared.in_memory:
                    self.predict_streaming(prepared)
                pool.hand_back(keep=pool.workers)
            self.predict_batch(batch, pool)
            pool.finish()

    def conclude(
        self,
        pending: PendingFile | None,
        start: float,
        reports: list[FileReport],
        outcome: FileReport | BaseException,
    ) -> None:
        """Record a file's outcome in the manifest and report it (interruptions: release its
        unwritten outputs only)."""
        if pending is not None:
            self.manifest.release_missing(pending.outputs.values())  # e.g. the overlay
        if not isinstance(outcome, (FileReport, Exception)):
            return  # interrupted: not finished, not reported
        report = (
            outcome if isinstance(outcome, FileReport) else failed_report(pending.path, outcome)
        )
        if pending is not None and report.status == "done":
            report.warnings = pending.warnings
            self.manifest.record(
                output_stem(pending.path),
                {
                    "input": pending.identity,
                    "settings": self.settings(),
                    "outputs": sorted(p.name for p in pending.outputs.values() if p.is_file()),
                },
            )
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
                "tta": p.runner.tta,
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

    def prepare(
        self, path: Path, loaded: LoadedImage | None, owners: dict[str, Path]
    ) -> FileReport | PendingFile:
        """Check a file, claim its outputs and open it: a report when it is already done,
        else what predicting it needs. Raises on any problem with it."""
        if self.manifest is None:
            self.manifest = self.open_out_dir()
        manifest, stem = self.manifest, output_stem(path)
        if stem in owners:
            raise ValueError(f"its outputs {stem}_* would overwrite {owners[stem]}'s")
        owners[stem] = path
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
        image = loaded
        try:
            if image is None:  # not read ahead: read whole if small, else lazily
                image = self.open_input(path)
                whole = read_whole(image, MAX_HELD_BYTES)
                if whole is not None:
                    image.close()
                    image = whole
            plan = self.plan(image)
            if plan.tracked:
                self.add_tracking_outputs(path, plan, outputs)
            warnings = self.check_fit(path, plan)
            height, width = plan.layout.size["Y"], plan.layout.size["X"]
            tiles = self.predictor.count_tiles((height, width), plan.pixel_size_um)
            self.estimate(path, plan, tiles)
        except BaseException:
            if image is not None:
                image.close()
            manifest.release_missing(outputs.values())
            raise
        held = math.prod(plan.layout.output_shape) * (1 + len(self.writer.classes))
        in_memory = (
            isinstance(image, LoadedImage) and held <= MAX_HELD_BYTES and tiles <= MAX_WHOLE_TILES
        )
        frames = len(plan.layout.frames)
        return PendingFile(path, plan, outputs, identity, warnings, tiles * frames, in_memory)

    def predict_streaming(self, pending: PendingFile) -> None:
        """Predict a large file strip by strip, writing as rows come (in this process)."""
        plan = pending.plan
        self.progress.start_file(pending.path, pending.tiles)

        def infer(index: int, source) -> LabelBlocks:
            advance, classes = self.progress.advance_tiles, self.writer.classes
            return self.predictor.stream_labels(source, plan.pixel_size_um, advance, classes)

        try:
            with plan.layout.tiff:
                report = self.writer.write_file(pending.path, plan, infer, pending.outputs)
            pending.slot.fill(report)
        except Exception as err:  # reported as this file's failure
            pending.slot.fill(err)

    def predict_batch(self, batch: list[PendingFile], pool: WriterPool) -> None:
        """Predict small files held in memory together, then hand each to a writer."""
        if not batch:
            return
        self.progress.start_file(batch[0].path, sum(p.tiles for p in batch))
        images = (
            (p.plan.layout.source(frame, p.plan.channels), p.plan.pixel_size_um)
            for p in batch
            for frame in p.plan.layout.frames
        )
        try:
            advance = self.progress.advance_tiles
            results = list(self.predictor.label_many(images, self.writer.classes, advance))
        except Exception as err:
            if len(batch) > 1:  # find the file at fault: each alone
                for pending in batch:
                    self.predict_batch([pending], pool)
            else:
                batch[0].slot.fill(err)
            return
        for pending in batch:
            n = len(pending.plan.layout.frames)
            mine, results = results[:n], results[n:]
            labels, scaled = (list(x) for x in zip(*mine, strict=True))
            job = WriteJob(pending.path, pending.plan, pending.outputs, labels, scaled)
            pool.submit(pending.slot, job)

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
