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

from migraseg.measure.cells import cell_map
from migraseg.measure.fibers import POSITIONS, fiber_skeleton
from migraseg.measure.migrasomes import Migrasome, measure_strip
from migraseg.metrics.centerline import skeleton_length_map

HALO_UM = 8.0  # > the largest migrasome cluster (3 µm each) plus its ring
STRIP_PIXELS = 8 * 2**20


@dataclass
class FrameMeasurements:
    """What one frame contains; ``nearest_cell`` is parallel to ``migrasomes`` and ids cell
    ``i`` of ``cells_yx[i - 1]`` (centroids in px). ``stage_offset_px`` (dy, dx) maps this frame's
    coordinates onto the first frame of a time-lapse (stage drift, :mod:`migraseg.tracking`)."""

    migrasomes: list[Migrasome] = field(default_factory=list)
    nearest_cell: list[int] = field(default_factory=list)
    n_cells: int = 0
    fiber_length_um: float = 0.0
    cells_yx: list[tuple[float, float]] = field(default_factory=list)
    stage_offset_px: tuple[float, float] = (0.0, 0.0)

    def diameters_um(self, pixel_size_um: float) -> np.ndarray:
        """Equivalent-disc diameters (µm) of the migrasomes."""
        areas = np.array([m.area_px for m in self.migrasomes], float)
        return 2 * np.sqrt(areas / np.pi) * pixel_size_um

    def summary(self, pixel_size_um: float) -> dict[str, float | int]:
        """Counts and densities for summary.csv (NaN where a ratio has no denominator)."""
        n = len(self.migrasomes)
        diameters = self.diameters_um(pixel_size_um)
        row: dict[str, float | int] = {
            "n_migrasomes": n,
            "n_cells": self.n_cells,
            "fiber_length_um": round(self.fiber_length_um, 2),
            "migrasomes_per_cell": n / self.n_cells if self.n_cells else math.nan,
            "migrasomes_per_100um_fiber": (
                100 * n / self.fiber_length_um if self.fiber_length_um else math.nan
            ),
            "median_diameter_um": float(np.median(diameters)) if n else math.nan,
        }
        for position in POSITIONS:
            row[f"n_{position}"] = sum(m.position == position for m in self.migrasomes)
        return row


def measure_frame(
    labels: np.ndarray,
    intensities: Callable[[int, int], np.ndarray],
    pixel_size_um: float,
    postprocess: dict[str, float],
    strip_pixels: int = STRIP_PIXELS,
) -> FrameMeasurements:
    """Measure a label frame.

    Args:
        labels: (Y, X) uint8 class ids on the input's grid.
        intensities: ``(y0, y1) -> (C, y1 - y0, X)`` rows of the input, every channel.
        pixel_size_um: µm per px.
        postprocess: the model's ``min_diameter_um`` and ``split_h_um``.
        strip_pixels: pixels per strip (core rows × width).
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
        )
    result.fiber_length_um = length_px * pixel_size_um
    cells = cell_map(labels, pixel_size_um)
    result.n_cells = cells.n_cells
    result.cells_yx = cells.centroids()
    result.nearest_cell = [cells.nearest(m.y, m.x) for m in result.migrasomes]
    return result
