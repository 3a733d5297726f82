"""Migrasome instances of one strip of a label image, measured on the input's grid."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import find_contours, regionprops

from migraseg.constants import MIGRASOME
from migraseg.measure.fibers import count_arms, ring_px, site_of
from migraseg.postprocess import grown_box, migrasome_instances, object_scores


@dataclass
class Migrasome:
    """One migrasome; ``y``, ``x`` are its centroid as array indices of the whole frame (y down,
    x right, pixel *centres* at integers)."""

    y: float
    x: float
    area_px: int
    intensity: list[float]  # mean per channel of the input, in the file's raw counts
    site: str  # tip, branch, along or detached (migraseg.measure.fibers.site_of)
    outline: np.ndarray  # (n, 2) x, y polygon in ImageJ coordinates (pixel corners at integers)
    circularity: float  # 4π area / perimeter², 1 for a disc (capped at 1: small discs' perimeters
    # are underestimated on the pixel grid)
    score: float  # mean migrasome probability over its pixels (NaN when none was given)

    def centroid_um(self, pixel_size_um: float) -> tuple[float, float]:
        """Centroid (x, y) in µm from the image's top-left *corner*: ``(index + 0.5) × pixel
        size``, the convention of the outlines, Fiji's µm coordinates and the simulator's truth.
        """
        return (self.x + 0.5) * pixel_size_um, (self.y + 0.5) * pixel_size_um


def circularity(area_px: float, perimeter_px: float) -> float:
    """4π area / perimeter², capped at 1 (a 1-px object, with no perimeter, counts as round)."""
    return min(1.0, 4 * math.pi * area_px / perimeter_px**2) if perimeter_px else 1.0


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
    probability: np.ndarray | None = None,
) -> list[Migrasome]:
    """Migrasomes whose centroid lies in rows ``core`` of a strip of a label image.

    Each cluster of migrasome pixels (a connected region, holes filled) is decoded into
    instances on its own small crop: the same result as decoding the whole strip, since the
    decoding never reaches across background, at a fraction of the cost and memory.

    Args:
        labels: (h, X) uint8 class ids of the strip (core rows plus a halo above and below).
        skeleton: (h, X) bool fiber skeleton of the strip.
        intensities: returns the strip's input (C, h, X); called only if there are migrasomes.
        pixel_size_um: µm per px.
        postprocess: ``min_diameter_um`` and ``split_h_um`` of the model.
        core: rows ``[start, stop)`` of the strip this call is responsible for.
        row_offset: the strip's first row in the frame.
        probability: (h, X) uint8 migrasome probability × 255 of the strip, for ``score``.
    """
    mask = labels == MIGRASOME
    if not mask.any():
        return []
    clusters, _ = ndi.label(ndi.binary_fill_holes(mask), structure=np.ones((3, 3)))
    image = np.moveaxis(intensities(), 0, -1)  # (h, X, C)
    ring = ring_px(pixel_size_um)
    found = []
    for index, box in enumerate(ndi.find_objects(clusters), start=1):
        if box[0].stop <= core[0] or box[0].start >= core[1]:
            continue
        crop = grown_box(box, ring + 1, mask.shape)
        own = (clusters[crop] == index) & mask[crop]
        ids = migrasome_instances(
            own.astype(np.uint8) * MIGRASOME,
            pixel_size_um,
            postprocess["min_diameter_um"],
            postprocess["split_h_um"],
        )
        if not ids.any():
            continue
        arms = count_arms(ids > 0, skeleton[crop], ring)
        top, left = crop[0].start, crop[1].start
        scores = None if probability is None else object_scores(ids, probability[crop])
        for region in regionprops(ids, intensity_image=image[crop]):
            cy, cx = region.centroid
            if not core[0] <= cy + top < core[1]:
                continue
            r0, c0 = region.bbox[:2]
            score = math.nan if scores is None else float(scores[region.label - 1])
            found.append(
                Migrasome(
                    y=cy + top + row_offset,
                    x=cx + left,
                    area_px=int(region.area),
                    intensity=[float(v) for v in np.atleast_1d(region.intensity_mean)],
                    site=site_of(arms),
                    outline=_outline(region.image, r0 + top + row_offset, c0 + left),
                    circularity=circularity(region.area, region.perimeter),
                    score=score,
                )
            )
    return found
