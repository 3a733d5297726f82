"""Writing measurements: per-migrasome CSV, ImageJ ROI sets and the run's summary table."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import roifile

from migraseg.measure.fibers import POSITIONS
from migraseg.measure.frame import FrameMeasurements
from migraseg.utils.files import atomic_path

SUMMARY_KEYS = ("image", "frame", "z")
# <stem>_migrasomes.csv: these, then mean_intensity_<channel> per channel, then the tail
MIGRASOME_COLUMNS = [
    "id", "frame", "z", "centroid_x_px", "centroid_y_px", "centroid_x_um", "centroid_y_um",
    "area_um2", "diameter_um",
]  # fmt: skip
MIGRASOME_TAIL = ["position", "nearest_cell_id"]
# <stem>_summary.csv and the run's summary.csv: one row per frame
SUMMARY_COLUMNS = [
    *SUMMARY_KEYS, "pixel_size_um", "n_migrasomes", "n_cells", "fiber_length_um",
    "migrasomes_per_cell", "migrasomes_per_100um_fiber", "median_diameter_um",
    *(f"n_{p}" for p in POSITIONS),
]  # fmt: skip


def channel_columns(names: Sequence[str]) -> list[str]:
    return [f"mean_intensity_{name}" for name in names]


def migrasome_rows(
    frames: Iterable[tuple[int | None, int | None, FrameMeasurements]],
    pixel_size_um: float,
    channel_names: Sequence[str],
) -> list[dict[str, Any]]:
    """One row per migrasome, ids numbered from 1 across the whole file.

    ``centroid_*_px`` are array indices (pixel centres at integers); ``centroid_*_um`` are
    distances from the image's top-left corner, ``(index + 0.5) × pixel size`` (as Fiji and the
    ROI outlines).
    """
    rows = []
    for t, z, frame in frames:
        diameters = frame.diameters_um(pixel_size_um)
        for m, cell, diameter in zip(frame.migrasomes, frame.nearest_cell, diameters, strict=True):
            x_um, y_um = m.centroid_um(pixel_size_um)
            row = {
                "id": len(rows) + 1,
                "frame": t if t is not None else 0,
                "z": "" if z is None else z,
                "centroid_x_px": round(m.x, 2),
                "centroid_y_px": round(m.y, 2),
                "centroid_x_um": round(x_um, 4),
                "centroid_y_um": round(y_um, 4),
                "area_um2": round(m.area_px * pixel_size_um**2, 5),
                "diameter_um": round(float(diameter), 4),
                **dict(zip(channel_columns(channel_names), m.intensity, strict=True)),
                "position": m.position,
                "nearest_cell_id": cell or "",
            }
            rows.append(row)
    return rows


def write_csv(path: str | os.PathLike, rows: list[dict[str, Any]], columns: list[str]) -> Path:
    """Write ``rows`` with a header of ``columns`` atomically (NaN as an empty cell)."""

    def cell(value: Any) -> Any:
        if isinstance(value, float):
            return "" if math.isnan(value) else round(value, 6)
        return value

    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: cell(row.get(k, "")) for k in columns} for row in rows)
    return Path(path)


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_roi_set(
    path: str | os.PathLike,
    frames: Iterable[tuple[int | None, int | None, FrameMeasurements]],
    names: Sequence[str] | None = None,
) -> Path:
    """Write every migrasome outline as a polygon ROI in an ImageJ ROI set (``.zip``), named by
    its id (or by ``names``, one per migrasome in order), on its time frame and z-slice (0-based
    here, 1-based in the file)."""
    rois = []
    for t, z, frame in frames:
        for m in frame.migrasomes:
            roi = roifile.ImagejRoi.frompoints(m.outline, t=t, z=z)
            roi.roitype = roifile.ROI_TYPE.POLYGON
            roi.name = names[len(rois)] if names else f"{len(rois) + 1:05d}"
            rois.append(roi)
    with atomic_path(path) as tmp:
        tmp.unlink()  # roifile appends to an existing zip
        roifile.roiwrite(tmp, rois)  # no migrasomes: an empty zip, an empty ROI Manager
    return Path(path)
