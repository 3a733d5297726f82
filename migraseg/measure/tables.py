"""Writing measurements: per-migrasome CSV, ImageJ ROI sets and the run's summary table."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import roifile

from migraseg.constants import SITES
from migraseg.measure.frame import FrameMeasurements
from migraseg.utils.files import atomic_path

SUMMARY_KEYS = ("image", "plate", "well", "field", "frame", "z")  # plate..field: HCS plates
# <stem>_migrasomes.csv: these, then mean_intensity_<channel>_raw per channel, then the tail
MIGRASOME_COLUMNS = [
    "id", "frame", "z", "x_px", "y_px", "x_um", "y_um", "area_px", "area_um2", "diameter_um",
    "circularity", "score",
]  # fmt: skip
MIGRASOME_TAIL = ["site", "nearest_cell_id", "nearest_cell_cut_by_border"]
# <stem>_cells.csv: one row per cell and frame; ids are those of <stem>_cells.tif in that frame
CELL_COLUMNS = [
    "id", "frame", "z", "x_px", "y_px", "x_um", "y_um", "area_um2", "cut_by_border",
    "n_migrasomes",
]  # fmt: skip
# <stem>_summary.csv and the run's summary.csv: one row per frame
SUMMARY_COLUMNS = [
    *SUMMARY_KEYS, "pixel_size_um", "n_migrasomes", "n_cells", "n_whole_cells",
    "n_migrasomes_of_whole_cells", "migrasomes_per_cell", "fiber_length_um",
    "migrasomes_per_100um_fiber", "median_diameter_um", *(f"n_{site}" for site in SITES),
]  # fmt: skip


def channel_columns(names: Sequence[str]) -> list[str]:
    """``mean_intensity_<channel>_raw``: the mean of the file's own pixel values (raw counts,
    before any normalisation) over the migrasome, per channel of the input."""
    return [f"mean_intensity_{name}_raw" for name in names]


def migrasome_rows(
    frames: Iterable[tuple[int | None, int | None, FrameMeasurements]],
    pixel_size_um: float,
    channel_names: Sequence[str],
) -> list[dict[str, Any]]:
    """One row per migrasome, ids numbered from 1 across the whole file.

    ``x_px, y_px`` are array indices (pixel centres at integers); ``x_um, y_um`` are distances
    from the image's top-left corner, ``(index + 0.5) × pixel size`` (as Fiji, the ROI outlines
    and the simulator's truth).
    """
    rows = []
    for t, z, frame in frames:
        diameters = frame.diameters_um(pixel_size_um)
        whole = frame.whole_cells()
        for m, cell, diameter in zip(frame.migrasomes, frame.nearest_cell, diameters, strict=True):
            x_um, y_um = m.centroid_um(pixel_size_um)
            row = {
                "id": len(rows) + 1,
                "frame": t if t is not None else 0,
                "z": "" if z is None else z,
                "x_px": round(m.x, 2),
                "y_px": round(m.y, 2),
                "x_um": round(x_um, 4),
                "y_um": round(y_um, 4),
                "area_px": m.area_px,
                "area_um2": round(m.area_px * pixel_size_um**2, 5),
                "diameter_um": round(float(diameter), 4),
                "circularity": round(m.circularity, 3),
                "score": round(m.score, 3),
                **dict(zip(channel_columns(channel_names), m.intensity, strict=True)),
                "site": m.site,
                "nearest_cell_id": cell or "",
                "nearest_cell_cut_by_border": "" if not cell else cell not in whole,
            }
            rows.append(row)
    return rows


def cell_rows(
    frames: Iterable[tuple[int | None, int | None, FrameMeasurements]],
) -> list[dict[str, Any]]:
    """One row per cell and frame, with the number of migrasomes nearest to it."""
    rows = []
    for t, z, frame in frames:
        for cell in frame.cells:
            rows.append(
                {
                    **cell,
                    "frame": t if t is not None else 0,
                    "z": "" if z is None else z,
                    "n_migrasomes": frame.nearest_cell.count(cell["id"]),
                }
            )
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
