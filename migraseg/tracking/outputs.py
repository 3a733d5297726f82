"""Files of a tracked time-lapse, beside migraseg-predict's per-frame outputs.

``<stem>_tracks.csv`` (one row per track), ``<stem>_cells_over_time.csv`` (per cell per frame),
``<stem>_tracks_napari.csv`` (napari's Tracks layer: ``track_id, t, [z,] y, x`` in px),
``<stem>_trackmate.xml`` (the tracks for Fiji's TrackMate) and ``<stem>_growth.png`` (diameter
against time per track, migrasomes against time per cell).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from migraseg.measure.tables import write_csv
from migraseg.tracking.stack import StackTracks
from migraseg.tracking.trackmate import TrackedImage, write_trackmate
from migraseg.tracking.tracks import CELL_COLUMNS, TRACK_COLUMNS
from migraseg.utils.files import atomic_path


def tracking_paths(stem: Path) -> dict[str, Path]:
    """Output paths of a tracked stack, given ``<out>/<stem>``."""
    return {
        "tracks": Path(f"{stem}_tracks.csv"),
        "cells_over_time": Path(f"{stem}_cells_over_time.csv"),
        "tracks_napari": Path(f"{stem}_tracks_napari.csv"),
        "trackmate": Path(f"{stem}_trackmate.xml"),
        "growth": Path(f"{stem}_growth.png"),
    }


def write_tracking(
    stacked: StackTracks, paths: dict[str, Path], time_unit: str, image: TrackedImage
) -> None:
    """Write every tracking output of a stack (``time_unit``: "min" or "frame")."""
    unit = {"time_unit": time_unit}
    write_csv(paths["tracks"], [{**row, **unit} for row in stacked.tracks], TRACK_COLUMNS)
    write_csv(paths["cells_over_time"], [{**row, **unit} for row in stacked.cells], CELL_COLUMNS)
    napari = ["track_id", "t", *(["z"] if stacked.has_z else []), "y", "x"]
    write_csv(paths["tracks_napari"], stacked.napari_rows(), napari)
    write_trackmate(paths["trackmate"], stacked.detections, image, time_unit)
    growth_figure(stacked, paths["growth"], time_unit)


def growth_figure(stacked: StackTracks, path: Path, time_unit: str) -> Path:
    """Diameter against time per track (left), migrasomes against time per cell (right)."""
    fig = Figure(figsize=(10, 4))
    grow, count = fig.subplots(1, 2)
    for _, track in stacked.detections.sort_values("frame").groupby("track_id"):
        grow.plot(track["time_min"], track["diameter_um"], lw=1, alpha=0.7)
    unit = "min" if time_unit == "min" else "frames"
    grow.set(xlabel=f"time ({unit})", ylabel="diameter (µm)", title="migrasome growth per track")
    by_cell: dict[int, list[tuple[float, int]]] = {}
    for row in stacked.cells:
        by_cell.setdefault(row["cell_id"], []).append((row["time_min"], row["n_migrasomes"]))
    for cell_id, points in sorted(by_cell.items()):
        times, counts = zip(*points, strict=True)
        count.plot(times, counts, lw=1.5, label=f"cell {cell_id}")
    count.set(xlabel=f"time ({unit})", ylabel="migrasomes", title="migrasomes per cell")
    if 0 < len(by_cell) <= 10:
        count.legend(fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    return path
