"""Measure one predicted frame: migrasomes, cells and fiber length, strip by strip.

Frames larger than ``strip_pixels`` are cut into strips of full rows; each strip is processed
with a halo of ``HALO_UM`` above and below and answers only for objects whose centroid lies in
its core rows, so an object on a strip border is measured once and whole. The peak memory of
this step is a few times ``strip_pixels`` bytes (plus the cell map, see
:mod:`migraseg.measure.cells`), whatever the frame's size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from migraseg.constants import SITES
from migraseg.measure.cells import CellMap, cell_map
from migraseg.measure.fibers import fiber_skeleton
from migraseg.measure.migrasomes import Migrasome, measure_strip
from migraseg.metrics.centerline import skeleton_length_map

HALO_UM = 8.0  # > the largest migrasome cluster (3 µm each) plus its ring
STRIP_PIXELS = 8 * 2**20


@dataclass
class FrameMeasurements:
    """What one frame contains; ``nearest_cell`` is parallel to ``migrasomes``, ``cells`` holds
    one row per cell (:meth:`migraseg.measure.cells.CellMap.rows`). ``stage_offset_px`` (dy, dx)
    maps this frame's coordinates onto the first frame of a time-lapse (stage drift,
    :mod:`migraseg.tracking`)."""

    migrasomes: list[Migrasome] = field(default_factory=list)
    nearest_cell: list[int] = field(default_factory=list)
    cells: list[dict] = field(default_factory=list)
    fiber_length_um: float = 0.0
    stage_offset_px: tuple[float, float] = (0.0, 0.0)

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    def whole_cells(self) -> set[int]:
        """Ids of the cells not cut by the image border."""
        return {c["id"] for c in self.cells if not c["cut_by_border"]}

    def diameters_um(self, pixel_size_um: float) -> np.ndarray:
        """Equivalent-disc diameters (µm) of the migrasomes."""
        areas = np.array([m.area_px for m in self.migrasomes], float)
        return 2 * np.sqrt(areas / np.pi) * pixel_size_um

    def summary(self, pixel_size_um: float) -> dict[str, float | int]:
        """Counts and densities for summary.csv (NaN where a ratio has no denominator).

        ``migrasomes_per_cell`` counts whole cells only: the migrasomes whose nearest cell is not
        cut by the image border, per such cell (part of a cut cell's fibers lie outside).
        """
        n = len(self.migrasomes)
        diameters = self.diameters_um(pixel_size_um)
        whole = self.whole_cells()
        on_whole = sum(cell in whole for cell in self.nearest_cell)
        row: dict[str, float | int] = {
            "n_migrasomes": n,
            "n_cells": self.n_cells,
            "n_whole_cells": len(whole),
            "n_migrasomes_of_whole_cells": on_whole,
            "fiber_length_um": round(self.fiber_length_um, 2),
            "migrasomes_per_cell": on_whole / len(whole) if whole else math.nan,
            "migrasomes_per_100um_fiber": (
                100 * n / self.fiber_length_um if self.fiber_length_um else math.nan
            ),
            "median_diameter_um": float(np.median(diameters)) if n else math.nan,
        }
        for site in SITES:
            row[f"n_{site}"] = sum(m.site == site for m in self.migrasomes)
        return row


def measure_frame(
    labels: np.ndarray,
    intensities: Callable[[int, int], np.ndarray],
    pixel_size_um: float,
    postprocess: dict[str, float],
    strip_pixels: int = STRIP_PIXELS,
    probability: np.ndarray | None = None,
    cells: CellMap | None = None,
) -> FrameMeasurements:
    """Measure a label frame.

    Args:
        labels: (Y, X) uint8 class ids on the input's grid.
        intensities: ``(y0, y1) -> (C, y1 - y0, X)`` rows of the input, every channel.
        pixel_size_um: µm per px.
        postprocess: the model's ``min_diameter_um`` and ``split_h_um``.
        strip_pixels: pixels per strip (core rows × width).
        probability: (Y, X) uint8 migrasome probability × 255, for each migrasome's ``score``.
        cells: the frame's :func:`~migraseg.measure.cells.cell_map`, if the caller made it.
    """
    height, width = labels.shape
    halo = math.ceil(HALO_UM / pixel_size_um)
    step = max(1, strip_pixels // width)
    result = FrameMeasurements()
    length_px = 0.0
    for r0 in range(0, height, step):
        r1 = min(height, r0 + step)
        a, b = (max(0, r0 - halo), min(height, r1 + halo)) if step < height else (0, height)
        strip = labels[a:b]
        skeleton = fiber_skeleton(strip)
        length_px += float(skeleton_length_map(skeleton)[r0 - a : r1 - a].sum())
        result.migrasomes += measure_strip(
            strip,
            skeleton,
            lambda a=a, b=b: intensities(a, b),
            pixel_size_um,
            postprocess,
            core=(r0 - a, r1 - a),
            row_offset=a,
            probability=None if probability is None else probability[a:b],
        )
    result.fiber_length_um = length_px * pixel_size_um
    cells = cell_map(labels, pixel_size_um) if cells is None else cells
    result.cells = cells.rows(pixel_size_um)
    result.nearest_cell = [cells.nearest(m.y, m.x) for m in result.migrasomes]
    return result
