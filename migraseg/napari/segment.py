"""Segment every plane of a layer and measure its migrasomes, step by step for a worker thread.

:func:`segment_frames` is a generator: it yields a :class:`Progress` after every row of tiles,
so that a napari ``thread_worker`` can report progress and stop between two of them (cancel),
and returns the :class:`Segmentation`. The network, the rescaling to the model's pixel size and
the measurements are migraseg's own (:class:`~migraseg.inference.predictor.Predictor`,
:func:`~migraseg.measure.frame.measure_frame`), as in ``migraseg-predict``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np

from migraseg.constants import MIGRASOME
from migraseg.inference.predict_files import check_rescale
from migraseg.inference.predictor import ArraySource, Predictor
from migraseg.measure.frame import FrameMeasurements, measure_frame
from migraseg.postprocess import settle_migrasomes
from migraseg.tracking.drift import DriftEstimator
from migraseg.tracking.stack import track_stack

POINT_COLUMNS = ("id", "frame", "x_px", "y_px", "x_um", "y_um", "diameter_um", "site", "cell")


@dataclass
class Progress:
    """Tiles done out of all tiles of the layer; ``frame`` is the plane being segmented."""

    done: int
    total: int
    frame: int


@dataclass
class Segmentation:
    """Class ids per plane and one row per migrasome (:data:`POINT_COLUMNS`)."""

    labels: np.ndarray  # (frames, Y, X) uint8
    rows: list[dict] = field(default_factory=list)  # with ``track_id`` when tracked

    def properties(self) -> dict[str, np.ndarray]:
        """The rows as napari Points properties (one array per column)."""
        columns = [*POINT_COLUMNS, *(["track_id"] if self.tracked() else [])]
        return {c: np.array([r[c] for r in self.rows]) for c in columns}

    def tracked(self) -> bool:
        return bool(self.rows) and "track_id" in self.rows[0]

    def tracks(self) -> np.ndarray:
        """napari Tracks data: one ``(track_id, t, y, x)`` row per migrasome (px)."""
        rows = sorted(self.rows, key=lambda r: (r["track_id"], r["frame"]))
        return np.array([[r["track_id"], r["frame"], r["y_px"], r["x_px"]] for r in rows], float)


def point_rows(found: FrameMeasurements, frame: int, pixel_size_um: float, first_id: int) -> list:
    """One row per migrasome of a plane, in the agreed vocabulary (site, x_um, ...)."""
    rows = []
    diameters = found.diameters_um(pixel_size_um)
    for i, (m, cell) in enumerate(zip(found.migrasomes, found.nearest_cell, strict=True)):
        x_um, y_um = m.centroid_um(pixel_size_um)
        rows.append(
            {
                "id": first_id + i,
                "frame": frame,
                "x_px": round(m.x, 2),
                "y_px": round(m.y, 2),
                "x_um": round(x_um, 4),
                "y_um": round(y_um, 4),
                "diameter_um": round(float(diameters[i]), 4),
                "site": m.site,
                "cell": int(cell or 0),
            }
        )
    return rows


def segment_frames(
    predictor: Predictor,
    frames: np.ndarray,
    channels: list[int],
    pixel_size_um: float,
    timelapse: bool = False,
) -> Generator[Progress, None, Segmentation]:
    """Segment and measure every plane of ``frames`` (N, C, Y, X); with ``timelapse`` (the
    planes are time points) also track the migrasomes as ``migraseg-predict`` does (drift
    correction, linking with gap closing: :mod:`migraseg.tracking`), giving rows a ``track_id``.

    Raises:
        ValueError: a pixel size that would rescale the image more than
            :data:`~migraseg.inference.predict_files.MAX_RESCALE` times (a unit mistake), or
            channels that do not fit the model.
    """
    height, width = frames.shape[-2:]
    grid = predictor.model_grid((height, width), pixel_size_um)
    check_rescale(pixel_size_um, predictor.meta.pixel_size_um, "the layer", grid)
    per_frame = predictor.count_tiles((height, width), pixel_size_um)
    total, done = per_frame * len(frames), 0
    labels = np.zeros((len(frames), height, width), np.uint8)
    result = Segmentation(labels)
    counted: list[int] = []
    measured: list[tuple[int, None, FrameMeasurements]] = []
    drift = DriftEstimator()
    migrasome = np.zeros((height, width), np.uint8)  # its probability × 255, for min_score
    for t, plane in enumerate(frames):
        blocks = predictor.stream_labels(
            ArraySource(plane[channels]), pixel_size_um, counted.append, [MIGRASOME]
        )
        for y0, block, scaled in blocks:
            labels[t, y0 : y0 + block.shape[0]] = block
            migrasome[y0 : y0 + block.shape[0]] = scaled[0]
            done = t * per_frame + sum(counted)
            yield Progress(done, total, t)
        counted.clear()
        settle_migrasomes(labels[t], migrasome, pixel_size_um, predictor.meta.postprocess)
        found = measure_frame(
            labels[t],
            lambda y0, y1, p=plane: p[:, y0:y1],
            pixel_size_um,
            predictor.meta.postprocess,
        )
        if timelapse:
            found.stage_offset_px = drift.update(labels[t])
        measured.append((t, None, found))
        result.rows += point_rows(found, t, pixel_size_um, len(result.rows) + 1)
        yield Progress((t + 1) * per_frame, total, t)
    if timelapse and len(frames) > 1 and result.rows:
        stacked = track_stack(measured, pixel_size_um, 1.0)
        for row, track_id in zip(result.rows, stacked.track_id, strict=True):
            row["track_id"] = int(track_id)
    return result
