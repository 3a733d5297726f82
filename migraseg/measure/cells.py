"""Cells of a label image: how many, and which one is nearest to a point.

Cells are decoded by :func:`migraseg.postprocess.cell_instances`, the rule evaluation uses too
(8-connected, holes filled, ≥ 5 µm², touching cells counted as one). Cells are tens of µm
across, so they are labelled on a grid subsampled to at most ``MAX_SIDE`` px per side: a
16k × 16k frame costs a 4k × 4k labelling (≈ 200 MB with the nearest-cell index), not a
full-size one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from migraseg.postprocess import cell_instances

MAX_SIDE = 4096


@dataclass
class CellMap:
    """Cell ids (1..n) on a grid subsampled by ``factor``; 0 = no cell."""

    ids: np.ndarray  # (⌈Y/factor⌉, ⌈X/factor⌉) int32
    factor: int
    n_cells: int
    _nearest: np.ndarray | None = None  # (2, ...) index of the nearest cell pixel

    def nearest(self, y: float, x: float) -> int:
        """Id of the cell nearest to the point (y, x) in full-resolution px (0 if none)."""
        if not self.n_cells:
            return 0
        if self._nearest is None:
            self._nearest = ndi.distance_transform_edt(
                self.ids == 0, return_distances=False, return_indices=True
            )
        cy = min(int(y / self.factor), self.ids.shape[0] - 1)
        cx = min(int(x / self.factor), self.ids.shape[1] - 1)
        return int(self.ids[self._nearest[0][cy, cx], self._nearest[1][cy, cx]])

    def centroids(self) -> list[tuple[float, float]]:
        """(y, x) centroid of each cell 1..n in full-resolution px (time-lapse tracking)."""
        found = ndi.center_of_mass(self.ids > 0, self.ids, range(1, self.n_cells + 1))
        middle = (self.factor - 1) / 2  # a grid pixel's centre in full-resolution px
        return [(y * self.factor + middle, x * self.factor + middle) for y, x in found]


def cell_map(labels: np.ndarray, pixel_size_um: float) -> CellMap:
    """The cells of ``labels`` (Y, X) (:func:`~migraseg.postprocess.cell_instances`)."""
    factor = max(1, math.ceil(max(labels.shape) / MAX_SIDE))
    ids = cell_instances(labels[::factor, ::factor], pixel_size_um * factor)
    return CellMap(ids, factor, int(ids.max(initial=0)))
