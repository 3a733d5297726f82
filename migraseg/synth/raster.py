"""Scene (µm) to exact label images on a pixel grid.

Mask rules (also in data/README.md): a pixel is migrasome if it lies in a migrasome disc, else cell
if inside a cell outline, else retraction fiber if within half a fiber mask width of a fiber's
centerline, else background. Fibers are masked at ``fiber_width_um`` (one PSF FWHM in confocal),
not at their true 50 nm, because that is the width they image at.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage import draw

from migraseg.constants import CELL, FIBER, MIGRASOME
from migraseg.synth.scene import Scene


@dataclass
class SceneRaster:
    """Label images of one scene. Shapes (Y, X)."""

    semantic: np.ndarray  # uint8 class ids
    migrasome_ids: np.ndarray  # uint16 instance ids (0 = none)
    cell_ids: np.ndarray  # uint16 cell instance ids (0 = none)
    fiber_centerline: np.ndarray  # float32 anti-aliased centerline coverage in [0, 1]
    fiber_mask: np.ndarray  # bool


def _to_px(points_um: np.ndarray, pixel_size: float) -> np.ndarray:
    """(x, y) µm → (row, col) pixel coordinates with pixel centres at integers."""
    return points_um[:, ::-1] / pixel_size - 0.5


def draw_centerlines(scene: Scene, shape: tuple[int, int], pixel_size: float) -> np.ndarray:
    """Anti-aliased fiber centerlines, one pixel wide."""
    out = np.zeros(shape, np.float32)
    margin = 2
    for fiber in scene.fibers:
        rc = _to_px(fiber.points, pixel_size)
        for (r0, c0), (r1, c1) in itertools.pairwise(rc):
            if max(r0, r1) < -margin or min(r0, r1) > shape[0] + margin:
                continue
            if max(c0, c1) < -margin or min(c0, c1) > shape[1] + margin:
                continue
            rr, cc, val = draw.line_aa(round(r0), round(c0), round(r1), round(c1))
            keep = (rr >= 0) & (rr < shape[0]) & (cc >= 0) & (cc < shape[1])
            np.maximum.at(out, (rr[keep], cc[keep]), val[keep].astype(np.float32))
    return out


def rasterize(
    scene: Scene, shape: tuple[int, int], pixel_size: float, fiber_width_um: float
) -> SceneRaster:
    """Exact masks of a scene at ``pixel_size`` µm per pixel."""
    cell_ids = np.zeros(shape, np.uint16)
    for i, cell in enumerate(scene.cells, start=1):
        rr, cc = draw.polygon(*_to_px(cell.polygon, pixel_size).T + 0.5, shape=shape)
        cell_ids[rr, cc] = np.where(cell_ids[rr, cc] == 0, i, cell_ids[rr, cc])
    centerline = draw_centerlines(scene, shape, pixel_size)
    half_width_px = max(fiber_width_um / pixel_size / 2, 0.5)
    fiber_mask = ndi.distance_transform_edt(centerline < 0.5) <= half_width_px
    migrasome_ids = np.zeros(shape, np.uint16)
    for m in scene.migrasomes:
        row, col = m.center[::-1] / pixel_size - 0.5
        rr, cc = draw.disk((row, col), m.diameter_um / pixel_size / 2, shape=shape)
        free = migrasome_ids[rr, cc] == 0
        migrasome_ids[rr[free], cc[free]] = m.instance_id
    semantic = np.zeros(shape, np.uint8)
    semantic[fiber_mask] = FIBER
    semantic[cell_ids > 0] = CELL
    semantic[migrasome_ids > 0] = MIGRASOME
    return SceneRaster(semantic, migrasome_ids, cell_ids, centerline, fiber_mask)
