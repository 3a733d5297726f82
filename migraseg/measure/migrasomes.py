"""Migrasome instances of one strip of a label image, measured on the input's grid."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import find_contours, label, regionprops

from migraseg.constants import MIGRASOME
from migraseg.measure.fibers import count_arms, position_class, ring_px
from migraseg.postprocess import migrasome_instances


@dataclass
class Migrasome:
    """One migrasome; coordinates in px of the whole frame (y down, x right, pixel centres)."""

    y: float
    x: float
    area_px: int
    intensity: list[float]  # mean per channel of the input, in the file's units
    position: str  # see migraseg.measure.fibers.POSITIONS
    outline: np.ndarray  # (n, 2) x, y polygon in ImageJ coordinates (pixel corners at integers)


def _occupied_box(mask: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns spanning ``mask``'s True pixels, one pixel wider where possible."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return (
        slice(max(0, rows[0] - 1), min(mask.shape[0], rows[-1] + 2)),
        slice(max(0, cols[0] - 1), min(mask.shape[1], cols[-1] + 2)),
    )


def _outline(region_image: np.ndarray, top: int, left: int) -> np.ndarray:
    """Longest iso-contour at 0.5 of a region's mask, as ImageJ (x, y) coordinates."""
    contours = find_contours(np.pad(region_image, 1).astype(np.float32), 0.5)
    rc = max(contours, key=len)
    return np.stack([rc[:, 1] - 1 + left + 0.5, rc[:, 0] - 1 + top + 0.5], axis=1)


def measure_strip(
    labels: np.ndarray,
    skeleton: np.ndarray,
    intensities: Callable[[], np.ndarray],
    pixel_size_um: float,
    postprocess: dict[str, float],
    core: tuple[int, int],
    row_offset: int,
) -> list[Migrasome]:
    """Migrasomes whose centroid lies in rows ``core`` of a strip of a label image.

    Args:
        labels: (h, X) uint8 class ids of the strip (core rows plus a halo above and below).
        skeleton: (h, X) bool fiber skeleton of the strip.
        intensities: returns the strip's input (C, h, X); called only if there are migrasomes.
        pixel_size_um: µm per px.
        postprocess: ``min_diameter_um`` and ``split_h_um`` of the model.
        core: rows ``[start, stop)`` of the strip this call is responsible for.
        row_offset: the strip's first row in the frame.
    """
    mask = labels == MIGRASOME
    if not mask.any():
        return []
    rows, cols = _occupied_box(mask)
    ids = migrasome_instances(
        labels[rows, cols], pixel_size_um, postprocess["min_diameter_um"], postprocess["split_h_um"]
    )
    clusters = label(ids > 0, connectivity=2)
    skeleton = skeleton[rows, cols]
    channels_last = np.moveaxis(intensities()[:, rows, cols], 0, -1)
    ring = ring_px(pixel_size_um)
    boxes, arms = ndi.find_objects(clusters), {}
    found = []
    for region in regionprops(ids, intensity_image=channels_last):
        cy, cx = region.centroid
        if not core[0] <= cy + rows.start < core[1]:
            continue
        cluster = int(clusters[region.coords[0, 0], region.coords[0, 1]])
        if cluster not in arms:
            box = boxes[cluster - 1]
            r0, r1 = max(0, box[0].start - ring - 1), box[0].stop + ring + 1
            c0, c1 = max(0, box[1].start - ring - 1), box[1].stop + ring + 1
            group = clusters[r0:r1, c0:c1] == cluster
            arms[cluster] = count_arms(group, skeleton[r0:r1, c0:c1], ring)
        top, left = region.bbox[0] + rows.start + row_offset, region.bbox[1] + cols.start
        found.append(
            Migrasome(
                y=cy + rows.start + row_offset,
                x=cx + cols.start,
                area_px=int(region.area),
                intensity=[float(v) for v in np.atleast_1d(region.intensity_mean)],
                position=position_class(arms[cluster]),
                outline=_outline(region.image, top, left),
            )
        )
    return found
