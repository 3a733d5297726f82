"""Track a measured time-lapse: link migrasomes and cells over frames, then summarize.

Input is what migraseg-predict measured frame by frame (a few numbers per object, never the
images), so a stack of any length costs memory in proportion to its objects only. Each z-slice
of a TZYX stack is tracked on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from migraseg.measure.frame import FrameMeasurements
from migraseg.tracking.link import CELL_LINKS, MIGRASOME_LINKS, LinkParams, link
from migraseg.tracking.tracks import cell_rows, track_rows


@dataclass
class StackTracks:
    """Tracks of one stack. ``track_id`` is parallel to the stack's migrasomes, frame by frame
    in the order measured; ``detections`` has one row per migrasome (see
    :mod:`migraseg.tracking.tracks`) plus its position in px, for plots and napari."""

    track_id: np.ndarray
    detections: pd.DataFrame
    tracks: list[dict[str, Any]] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)

    def napari_rows(self) -> list[dict[str, Any]]:
        """napari Tracks layer rows (``track_id, t, [z,] y, x``, in px of the image)."""
        columns = ["track_id", "frame", *(["z"] if self.has_z else []), "y_px", "x_px"]
        table = self.detections.sort_values(["track_id", "frame"])[columns]
        return table.rename(columns={"frame": "t", "y_px": "y", "x_px": "x"}).to_dict("records")

    @property
    def has_z(self) -> bool:
        return bool(self.detections["z"].notna().any()) if len(self.detections) else False


def detection_table(
    measured: list[tuple[int | None, int | None, FrameMeasurements]],
    pixel_size_um: float,
    interval_min: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Migrasomes and cells of every frame, centroids drift-corrected to the first frame (µm)."""
    found, cells = [], []
    for t, z, frame in measured:
        dy, dx = frame.stage_offset_px
        for m, cell in zip(frame.migrasomes, frame.nearest_cell, strict=True):
            found.append((t, z, m.y, m.x, m.y + dy, m.x + dx, m.area_px, m.site, cell))
        for c in frame.cells:
            cells.append((t, z, c["id"], c["y_px"] + dy, c["x_px"] + dx))
    migrasomes = pd.DataFrame(
        found,
        columns=["frame", "z", "y_px", "x_px", "y", "x", "area_px", "site", "cell"],
    )
    migrasomes["diameter_um"] = 2 * np.sqrt(migrasomes["area_px"] / np.pi) * pixel_size_um
    cell_table = pd.DataFrame(cells, columns=["frame", "z", "cell", "y", "x"])
    for table in (migrasomes, cell_table):
        table["time_min"] = table["frame"] * interval_min
        table[["y_um", "x_um"]] = table[["y", "x"]] * pixel_size_um
    return migrasomes, cell_table


def _link_groups(table: pd.DataFrame, params: LinkParams) -> np.ndarray:
    """Track ids over the whole table, linking each z-slice on its own (ids unique across)."""
    ids = np.zeros(len(table), int)
    for _, group in table.groupby(table["z"].fillna(-1)):
        rows = table.index.get_indexer(group.index)
        found = link(group["frame"].to_numpy(), group["y_um"], group["x_um"], params)
        ids[rows] = np.where(found > 0, found + ids.max(), 0)
    return ids


def track_stack(
    measured: list[tuple[int | None, int | None, FrameMeasurements]],
    pixel_size_um: float,
    interval_min: float,
) -> StackTracks:
    """Link and summarize a measured stack (``interval_min``: minutes, or 1 for frames)."""
    migrasomes, cells = detection_table(measured, pixel_size_um, interval_min)
    migrasomes["track_id"] = _link_groups(migrasomes, MIGRASOME_LINKS)
    cells["cell_id"] = _link_groups(cells, CELL_LINKS)
    key = ["frame", "z", "cell"]
    cell_of = cells.fillna({"z": -1}).set_index(key)["cell_id"]
    found = migrasomes.fillna({"z": -1})
    keys = zip(*(found[k] for k in key), strict=True)
    migrasomes["cell_id"] = [int(cell_of.get(k, 0)) for k in keys]
    last_frame = max(t or 0 for t, _, _ in measured)
    tracks = track_rows(migrasomes, last_frame)
    return StackTracks(
        migrasomes["track_id"].to_numpy(),
        migrasomes,
        tracks,
        cell_rows(cells, migrasomes, tracks),
    )
