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
from skimage.measure import regionprops

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

    def cut_by_border(self) -> set[int]:
        """Ids of the cells touching the image's edge (on the subsampled grid): only part of
        such a cell is in the image, so its area and migrasome count are not the cell's."""
        ids = self.ids
        edges = np.concatenate([ids[0], ids[-1], ids[:, 0], ids[:, -1]])
        return {int(i) for i in np.unique(edges) if i}

    def fill(self, out: np.ndarray, rows: int = 256) -> None:
        """Write the ids onto the full-resolution grid ``out`` (Y, X), ``rows`` grid rows at a
        time (nearest neighbour), so no full-size temporary is made."""
        f, (height, width) = self.factor, out.shape
        for i in range(0, self.ids.shape[0], rows):
            block = self.ids[i : i + rows].repeat(f, 0).repeat(f, 1)[:, :width]
            out[i * f : i * f + len(block)] = block[: height - i * f]

    def rows(self, pixel_size_um: float) -> list[dict[str, float | int | bool]]:
        """One dict per cell: ``id``, centroid ``x_px, y_px`` (array indices) and ``x_um, y_um``
        (from the top-left corner), ``area_um2`` and ``cut_by_border``."""
        cut, f = self.cut_by_border(), self.factor
        found = []
        for region in regionprops(self.ids):
            cy, cx = (c * f + (f - 1) / 2 for c in region.centroid)
            found.append(
                {
                    "id": region.label,
                    "x_px": round(cx, 2),
                    "y_px": round(cy, 2),
                    "x_um": round((cx + 0.5) * pixel_size_um, 4),
                    "y_um": round((cy + 0.5) * pixel_size_um, 4),
                    "area_um2": round(region.area * (f * pixel_size_um) ** 2, 3),
                    "cut_by_border": region.label in cut,
                }
            )
        return found


def cell_map(labels: np.ndarray, pixel_size_um: float) -> CellMap:
    """The cells of ``labels`` (Y, X) (:func:`~migraseg.postprocess.cell_instances`)."""
    factor = max(1, math.ceil(max(labels.shape) / MAX_SIDE))
    ids = cell_instances(labels[::factor, ::factor], pixel_size_um * factor)
    return CellMap(ids, factor, int(ids.max(initial=0)))
