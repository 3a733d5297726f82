"""What a predicted file becomes: its label, cell and probability images, its measurements,
tables, ROI set, tracks and overlay.

:class:`OutputWriter` needs no network: it is handed each frame's labels (streamed from the
device by the folder loop, or computed earlier and sent to a writer process, see
:mod:`migraseg.inference.pipeline`), so the same code writes every output whichever way the
labels were made, and the writer pickles into another process.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from migraseg.constants import MIGRASOME
from migraseg.inference.overlay import MAX_OVERLAY_SIDE, write_overlay
from migraseg.inference.planes import FileLayout, PlaneSource
from migraseg.inference.plates import field_keys
from migraseg.io import create_tiff_memmap, write_tiff_pages
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
    write_csv,
    write_roi_set,
)
from migraseg.postprocess import settle_migrasomes
from migraseg.tracking.drift import DriftEstimator
from migraseg.tracking.outputs import write_tracking
from migraseg.tracking.stack import track_stack
from migraseg.tracking.trackmate import TrackedImage
from migraseg.tracking.tracks import roi_name
from migraseg.utils.files import atomic_path
from migraseg.visualize import imagej_class_display

LabelBlocks = Iterator[tuple[int, np.ndarray, np.ndarray]]
# (frame index, its source) -> (y0, uint8 labels (h, X), uint8 probabilities × 255 (k, h, X))
Infer = Callable[[int, PlaneSource], LabelBlocks]


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


@dataclass
class OutputWriter:
    """Writes one predicted file's outputs (picklable: it holds no network).

    Args:
        n_classes: classes of the model; ``postprocess``: its post-processing metadata.
        save_probs: also write the probabilities of every class (else only the migrasomes'
            probability is used, for their score).
        overlay: keep the first frame for ``<stem>_overlay.png`` (small images only).
        strip_pixels: pixels measured at once (:func:`measure_frame`).
    """

    n_classes: int
    postprocess: dict
    save_probs: bool = False
    overlay: bool = True
    strip_pixels: int = STRIP_PIXELS

    @property
    def classes(self) -> list[int]:
        """The classes whose probabilities the labels must come with (see :data:`Infer`)."""
        return list(range(self.n_classes)) if self.save_probs else [MIGRASOME]

    def write_file(
        self, path: Path, plan: FilePlan, infer: Infer, outputs: dict[str, Path]
    ) -> FileReport:
        """Every output of one file, its labels from ``infer``: images, then tables."""
        first: dict[str, np.ndarray] = {}
        measured = self.write_images(plan, infer, outputs, first)
        return self.write_tables(path, plan, measured, outputs, first)

    def labelled_pages(
        self,
        plan: FilePlan,
        infer: Infer,
        probs: np.ndarray | None,
        cells: np.ndarray,
        measured: list,
        first: dict[str, np.ndarray],
    ) -> Iterator[np.ndarray]:
        """Yield each frame's (Y, X) uint8 labels, from ``infer``; fill ``probs`` (frames, K, Y,
        X) if given and ``cells`` (frames, Y, X) with cell ids, append each frame's measurements
        to ``measured`` and keep the first frame's input and labels in ``first`` (overlay)."""
        layout, size = plan.layout, plan.pixel_size_um
        every_channel = list(range(layout.n_channels))
        drift = {z: DriftEstimator() for z in {f.z for f in layout.frames}} if plan.tracked else {}
        keep = self.overlay and max(layout.size["Y"], layout.size["X"]) <= MAX_OVERLAY_SIDE
        for i, frame in enumerate(layout.frames):
            labels = np.empty((layout.size["Y"], layout.size["X"]), np.uint8)
            migrasome = np.empty_like(labels)  # its probability × 255, for the migrasomes' score
            source = layout.source(frame, plan.channels)
            for y0, block, scaled in infer(i, source):
                labels[y0 : y0 + block.shape[0]] = block
                migrasome[y0 : y0 + block.shape[0]] = scaled[self.classes.index(MIGRASOME)]
                if probs is not None:
                    probs[i, :, y0 : y0 + block.shape[0]] = scaled
            settle_migrasomes(labels, migrasome, size, self.postprocess)
            rows = layout.source(frame, every_channel).rows
            cell_ids = cell_map(labels, size)
            cell_ids.fill(cells[i])
            found = measure_frame(
                labels, rows, size, self.postprocess, self.strip_pixels, migrasome, cell_ids
            )
            if drift:
                found.stage_offset_px = drift[frame.z].update(labels)
            measured.append((frame.t, frame.z, found))
            if keep and i == 0:
                first["labels"] = labels.copy()
                first["image"] = source.rows(0, layout.size["Y"])[0]
            yield labels

    def write_images(
        self,
        plan: FilePlan,
        infer: Infer,
        outputs: dict[str, Path],
        first: dict[str, np.ndarray],
    ) -> list:
        """Write the labels (from ``infer``), cell ids (and probabilities) of every frame; return
        the measurements (and the first frame in ``first``, see :meth:`labelled_pages`)."""
        layout, size = plan.layout, plan.pixel_size_um
        shape, axes = layout.output_shape, layout.output_axes
        measured: list[tuple[int | None, int | None, FrameMeasurements]] = []
        n_classes = self.n_classes
        probs_shape = (*shape[:-2], n_classes, *shape[-2:])
        needed = 3 * math.prod(shape) + self.save_probs * math.prod(probs_shape)
        what = "--probs" if self.save_probs else "the labels and cells"
        check_free_space(outputs["labels"].parent, needed, what)
        with ExitStack() as stack:
            tmp = stack.enter_context(atomic_path(outputs["cells"]))
            cells = create_tiff_memmap(tmp, shape, np.uint16, size, axes)
            reserve(tmp)
            probs = None
            if self.save_probs:
                tmp = stack.enter_context(atomic_path(outputs["probs"]))
                probs = create_tiff_memmap(tmp, probs_shape, np.uint8, size, axes[:-2] + "CYX")
                reserve(tmp)
            frames = None if probs is None else probs.reshape(-1, n_classes, *shape[-2:])
            cell_frames = cells.reshape(-1, *shape[-2:])
            pages = self.labelled_pages(plan, infer, frames, cell_frames, measured, first)
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
