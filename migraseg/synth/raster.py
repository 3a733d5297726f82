"""Scene (µm) to exact label images on a pixel grid.

Mask rules (also in data/README.md), all decided at pixel centres:

- migrasome: inside a migrasome's disc (its true diameter); where two touch, the lower id wins;
- cell: inside a cell outline (lower id wins where cells overlap);
- retraction fiber: within half a mask width of a fiber's centerline. The width is one PSF FWHM in
  confocal (a 50 nm fiber images that wide) and the fiber's true diameter in TEM, never less
  than 1.5 px (so that a fiber stays a connected line);
- background: everything else, distractors included.

Overlaps resolve as migrasome > cell > fiber > background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from migraseg.constants import CELL, FIBER, MIGRASOME
from migraseg.synth.geometry import resample_polyline, window
from migraseg.synth.objects import Scene

MIN_FIBER_HALF_WIDTH_PX = 0.75


@dataclass
class SceneRaster:
    """Label images of one scene, shapes (Y, X), plus the fiber geometry the renderers use."""

    semantic: np.ndarray  # uint8 class ids
    migrasome_ids: np.ndarray  # uint16 instance ids (0 = none)
    cell_ids: np.ndarray  # uint16 cell ids (0 = none)
    cell_depth_um: np.ndarray  # float32 radial distance inside the nearest outline (≤ 0 outside)
    fiber_distance_px: np.ndarray  # float32 distance to the nearest centerline (inf far away)
    fiber_index: np.ndarray  # int32 index into scene.fibers of that centerline (-1 far away)
    fiber_mask: np.ndarray  # bool


def rasterize_cells(scene: Scene, shape: tuple[int, int], pixel_size: float):
    """Cell ids (first wins) and the depth inside the deepest outline, µm."""
    cell_ids = np.zeros(shape, np.uint16)
    depth = np.full(shape, -np.inf, np.float32)
    for cell in scene.cells:
        win = window(cell.center, cell.outline.max_radius + pixel_size, shape, pixel_size)
        if win.empty:
            continue
        d = cell.outline.depth(win.x, win.y).astype(np.float32)
        ids = cell_ids[win.rows, win.cols]
        ids[(d > 0) & (ids == 0)] = cell.id
        np.maximum(depth[win.rows, win.cols], d, out=depth[win.rows, win.cols])
    return cell_ids, depth


def fiber_distances(
    scene: Scene, shape: tuple[int, int], pixel_size: float, band_px: float
) -> tuple[np.ndarray, np.ndarray]:
    """Distance (px) from each pixel centre to the nearest fiber centerline, within ``band_px``.

    Returns ``(distance, index)``: float32 distances (inf beyond the band) and the int32 index
    into ``scene.fibers`` of the nearest fiber (-1 beyond the band).
    """
    distance = np.full(shape, np.inf, np.float32)
    index = np.full(shape, -1, np.int32)
    margin = (band_px + 2) * pixel_size
    lo, hi = -margin, np.array([shape[1], shape[0]]) * pixel_size + margin
    samples, owners = [], []
    for i, fiber in enumerate(scene.fibers):
        near = np.flatnonzero(np.all((fiber.points > lo - 1) & (fiber.points < hi + 1), axis=1))
        if not near.size:
            continue
        piece = fiber.points[max(near[0] - 1, 0) : near[-1] + 2]
        pts = resample_polyline(piece, 0.3 * pixel_size) / pixel_size - 0.5  # (x, y) px
        keep = np.all((pts > lo / pixel_size) & (pts < hi / pixel_size), axis=1)
        samples.append(pts[keep])
        owners.append(np.full(int(keep.sum()), i, np.int32))
    if not samples or not sum(len(s) for s in samples):
        return distance, index
    points, owner = np.vstack(samples), np.concatenate(owners)
    seeds = np.zeros(shape, bool)
    cols = np.clip(np.round(points[:, 0]).astype(int), 0, shape[1] - 1)
    rows = np.clip(np.round(points[:, 1]).astype(int), 0, shape[0] - 1)
    seeds[rows, cols] = True
    reach = 2 * int(np.ceil(band_px)) + 3
    rr, cc = np.nonzero(ndi.maximum_filter(seeds, size=reach))
    dist, nearest = cKDTree(points).query(np.stack([cc, rr], axis=1), distance_upper_bound=band_px)
    found = np.isfinite(dist)
    distance[rr[found], cc[found]] = dist[found]
    index[rr[found], cc[found]] = owner[nearest[found]]
    return distance, index


def rasterize(
    scene: Scene, shape: tuple[int, int], pixel_size: float, fiber_width_um: float | None
) -> SceneRaster:
    """Exact masks of a scene at ``pixel_size`` µm per pixel.

    Args:
        fiber_width_um: mask width of every fiber (confocal: the PSF FWHM), or None for each
            fiber's own diameter (TEM).
    """
    cell_ids, depth = rasterize_cells(scene, shape, pixel_size)
    widths = np.array([fiber_width_um or f.diameter_um for f in scene.fibers] or [0.0], np.float32)
    half_px = np.maximum(widths / pixel_size / 2, MIN_FIBER_HALF_WIDTH_PX)
    distance, index = fiber_distances(scene, shape, pixel_size, float(half_px.max()) + 1.5)
    fiber_mask = (index >= 0) & (distance <= half_px[np.maximum(index, 0)])
    migrasome_ids = np.zeros(shape, np.uint16)
    for m in scene.migrasomes:
        radius = m.diameter_um / 2
        win = window(m.center, radius, shape, pixel_size)
        if win.empty:
            continue
        inside = (win.x - m.center[0]) ** 2 + (win.y - m.center[1]) ** 2 <= radius**2
        ids = migrasome_ids[win.rows, win.cols]
        ids[inside & (ids == 0)] = m.id
    semantic = np.zeros(shape, np.uint8)
    semantic[fiber_mask] = FIBER
    semantic[cell_ids > 0] = CELL
    semantic[migrasome_ids > 0] = MIGRASOME
    return SceneRaster(semantic, migrasome_ids, cell_ids, depth, distance, index, fiber_mask)
