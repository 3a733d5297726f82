"""Truth tables: the true objects of each image (and frame) in µm, beside its masks.

``truth/<stem>.json`` holds cells, fibers and migrasomes of the (last) frame, the drawn
acquisition values and, for a time-lapse, one entry per frame; ``truth/<stem>.csv`` has one row
per migrasome (and frame), the table a measurement is scored against.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

from migraseg.synth.objects import Scene
from migraseg.synth.raster import SceneRaster

CSV_COLUMNS = (
    "frame",
    "id",
    "x_um",
    "y_um",
    "diameter_um",
    "site",
    "fiber",
    "cell",
    "cluster",
    "cut_by_border",
    "area_px",
    "growth",
)


def _length_in_frame(points: np.ndarray, width: float, height: float) -> float:
    inside = np.all((points >= 0) & (points <= [width, height]), axis=1)
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    return float(steps[inside[:-1] & inside[1:]].sum())


def frame_truth(scene: Scene, raster: SceneRaster, pixel_size: float) -> dict[str, Any]:
    """Cells, fibers and migrasomes visible in one frame (µm; areas in pixels)."""
    width, height = scene.width_um, scene.height_um
    areas = np.bincount(raster.migrasome_ids.ravel(), minlength=len(scene.migrasomes) + 1)
    cell_areas = np.bincount(raster.cell_ids.ravel(), minlength=len(scene.cells) + 1)
    tips = {m.fiber: m.id for m in scene.migrasomes if m.site == "tip"}
    migrasomes = []
    for m in scene.migrasomes:
        if m.id >= len(areas) or not areas[m.id]:
            continue
        r = m.diameter_um / 2
        migrasomes.append(
            {
                "id": m.id,
                "x_um": float(m.center[0]),
                "y_um": float(m.center[1]),
                "diameter_um": float(m.diameter_um),
                "site": m.site,
                "fiber": m.fiber,
                "cell": m.cell,
                "cluster": m.cluster,
                "cut_by_border": bool(
                    min(m.center[0], m.center[1]) < r
                    or m.center[0] > width - r
                    or m.center[1] > height - r
                ),
                "area_px": int(areas[m.id]),
                "growth": float(m.growth),
            }
        )
    fibers = []
    for f in scene.fibers:
        in_frame = _length_in_frame(f.points, width, height)
        if in_frame > 0:
            fibers.append(
                {
                    "id": f.id,
                    "cell": f.cell,
                    "parent": f.parent,
                    "kind": f.kind,
                    "length_um": f.length_um,
                    "length_in_frame_um": in_frame,
                    "diameter_um": f.diameter_um,
                    "tip_migrasome": tips.get(f.id),
                }
            )
    cells = [
        {
            "id": c.id,
            "x_um": float(c.center[0]),
            "y_um": float(c.center[1]),
            "heading_deg": float(np.rad2deg(c.heading) % 360),
            "area_um2": float(cell_areas[c.id] * pixel_size**2),
        }
        for c in scene.cells
        if cell_areas[c.id]
    ]
    kinds = [d.kind for d in scene.distractors]
    counted = ("ev", "debris", "punctum", "dust", "out_of_focus")
    return {
        "n_cells": len(cells),
        "cells": cells,
        "fibers": fibers,
        "migrasomes": migrasomes,
        "distractors": {k: kinds.count(k) for k in counted},
    }


def csv_text(truth: dict[str, Any]) -> str:
    """The migrasome table of a truth dict as CSV (one row per migrasome and frame)."""
    frames = truth.get("frames") or [truth]
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for t, frame in enumerate(frames):
        for m in frame["migrasomes"]:
            writer.writerow({"frame": t, **m})
    return out.getvalue()
