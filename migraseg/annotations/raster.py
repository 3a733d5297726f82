"""Shapes in pixel coordinates to pixel sets, decided at pixel centres, and label images from
pixel sets.

Coordinates follow ImageJ: ``(x, y)`` in pixels, the image's top-left corner is ``(0, 0)``, so
pixel ``(row, col)`` covers ``[col, col + 1) × [row, row + 1)`` and its centre is
``(col + 0.5, row + 0.5)``. A pixel belongs to a shape when its centre does (as in the
simulator's masks, data/README.md). Every function returns ``(rows, cols)`` index arrays
clipped to the image, empty when the shape misses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from migraseg.constants import BACKGROUND, CELL, FIBER, MIGRASOME

Pixels = tuple[np.ndarray, np.ndarray]
# A fiber mask is never narrower than this (as in the simulator), so that it stays connected.
MIN_FIBER_HALF_WIDTH_PX = 0.75
# Paint order: later classes win where objects overlap (migrasome > cell > fiber > background).
_PAINT_ORDER = (BACKGROUND, FIBER, CELL, MIGRASOME)


def _empty() -> Pixels:
    return np.zeros(0, np.intp), np.zeros(0, np.intp)


def _window(lo_x: float, lo_y: float, hi_x: float, hi_y: float, shape: tuple[int, int]):
    """Rows and columns whose centres may lie in ``[lo, hi]``, clipped; None if none."""
    c0, c1 = max(int(np.floor(lo_x - 0.5)), 0), min(int(np.ceil(hi_x - 0.5)), shape[1] - 1)
    r0, r1 = max(int(np.floor(lo_y - 0.5)), 0), min(int(np.ceil(hi_y - 0.5)), shape[0] - 1)
    if c0 > c1 or r0 > r1:
        return None
    return np.arange(r0, r1 + 1), np.arange(c0, c1 + 1)


def ellipse_pixels(cx: float, cy: float, rx: float, ry: float, shape: tuple[int, int]) -> Pixels:
    """Pixels whose centres lie in the axis-aligned ellipse (a disc when ``rx == ry``)."""
    if rx <= 0 or ry <= 0:
        return _empty()
    win = _window(cx - rx, cy - ry, cx + rx, cy + ry, shape)
    if win is None:
        return _empty()
    rows, cols = win
    dy = (rows[:, None] + 0.5 - cy) / ry
    dx = (cols[None, :] + 0.5 - cx) / rx
    rr, cc = np.nonzero(dx**2 + dy**2 <= 1.0)
    return rows[rr], cols[cc]


def polygon_pixels(rings: list[np.ndarray], shape: tuple[int, int]) -> Pixels:
    """Pixels whose centres lie inside the polygon(s); several rings combine even–odd (holes).

    A scanline fill: each row's centre line crosses the edges at sorted x positions, and the
    centres between the 1st and 2nd, 3rd and 4th, ... crossing are inside. Edges are half-open
    in y and runs half-open in x, so a centre exactly on an outline is decided the same way
    everywhere. Time grows with the outline and the filled area, not their product.

    Args:
        rings: (N, 2) arrays of (x, y) vertices, N ≥ 3.
    """
    rows, xs = [], []
    for ring in rings:
        a = np.asarray(ring, np.float64)
        if len(a) < 3:
            continue
        b = np.roll(a, -1, axis=0)
        lo, hi = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
        first = np.clip(np.ceil(lo - 0.5).astype(np.int64), 0, shape[0])  # centre ≥ lo
        stop = np.clip(np.ceil(hi - 0.5).astype(np.int64), 0, shape[0])  # centre < hi
        count = np.maximum(stop - first, 0)
        edge = np.repeat(np.arange(len(a)), count)
        row = first[edge] + np.arange(edge.size) - np.repeat(np.cumsum(count) - count, count)
        t = (row + 0.5 - a[edge, 1]) / (b[edge, 1] - a[edge, 1])
        rows.append(row)
        xs.append(a[edge, 0] + t * (b[edge, 0] - a[edge, 0]))
    if not rows or not sum(r.size for r in rows):
        return _empty()
    row, x = np.concatenate(rows), np.concatenate(xs)
    order = np.lexsort((x, row))  # every row holds an even number of crossings
    row, x = row[order], x[order]
    run_row = row[0::2]
    start = np.clip(np.ceil(x[0::2] - 0.5).astype(np.int64), 0, shape[1])  # centre ≥ x_in
    end = np.clip(np.ceil(x[1::2] - 0.5).astype(np.int64), 0, shape[1])  # centre < x_out
    length = np.maximum(end - start, 0)
    rr = np.repeat(run_row, length)
    cc = (
        np.repeat(start, length)
        + np.arange(rr.size)
        - np.repeat(np.cumsum(length) - length, length)
    )
    return rr.astype(np.intp), cc.astype(np.intp)


def polyline_pixels(points: np.ndarray, width_px: float, shape: tuple[int, int]) -> Pixels:
    """Pixels whose centres lie within ``width_px / 2`` (at least 0.75 px) of the polyline.

    Args:
        points: (N, 2) array of (x, y) vertices, N ≥ 1 (one point draws a dot).
    """
    pts = np.asarray(points, np.float64)
    half = max(width_px / 2, MIN_FIBER_HALF_WIDTH_PX)
    lo, hi = pts.min(axis=0) - half, pts.max(axis=0) + half
    win = _window(lo[0], lo[1], hi[0], hi[1], shape)
    if win is None:
        return _empty()
    rows, cols = win
    px = cols[None, :] + 0.5
    py = rows[:, None] + 0.5
    best = np.full((rows.size, cols.size), np.inf)
    segments = pairwise(pts) if len(pts) > 1 else [(pts[0], pts[0])]
    for a, b in segments:
        d = b - a
        length2 = float(d @ d)
        t = (
            0.0
            if length2 == 0
            else np.clip(((px - a[0]) * d[0] + (py - a[1]) * d[1]) / length2, 0, 1)
        )
        dist2 = (px - a[0] - t * d[0]) ** 2 + (py - a[1] - t * d[1]) ** 2
        np.minimum(best, dist2, out=best)
    rr, cc = np.nonzero(best <= half**2)
    return rows[rr], cols[cc]


@dataclass
class LabelObject:
    """One annotated object: its class, its pixels and where it came from (for messages)."""

    class_id: int
    pixels: Pixels
    source: str


def compose(
    shape: tuple[int, int], objects: list[LabelObject], unannotated: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Paint objects into a class mask and number the migrasomes and cells.

    Overlaps resolve as migrasome > cell > fiber > background; between two objects of one class
    the earlier keeps the shared pixels (lower instance id, as in the simulator).

    Returns:
        ``(mask, migrasome_ids, cell_ids)``: (Y, X) uint8 class ids with ``unannotated`` where no
        object lies; uint16 (uint32 past 65535 objects) instance ids, 0 = none, or None when
        there is no migrasome (cell) object.
    """
    mask = np.full(shape, unannotated, np.uint8)
    for class_id in _PAINT_ORDER:
        for obj in objects:
            if obj.class_id == class_id:
                mask[obj.pixels] = class_id
    return mask, _instances(shape, objects, MIGRASOME), _instances(shape, objects, CELL)


def _instances(shape: tuple[int, int], objects: list[LabelObject], class_id: int):
    members = [o for o in objects if o.class_id == class_id]
    if not members:
        return None
    ids = np.zeros(shape, np.uint16 if len(members) < 2**16 else np.uint32)
    for i, obj in enumerate(reversed(members)):  # reversed: the earliest object paints last
        ids[obj.pixels] = len(members) - i
    return ids
