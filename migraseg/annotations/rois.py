"""Fiji/ImageJ ROI sets (``.zip`` or ``.roi``, read with roifile) to labelled objects.

What each ROI becomes (docs/annotations.md has the table):

- its class: ``--roi-class`` if given, else the first of its name, group and stroke colour that
  names one (:func:`migraseg.annotations.classes.class_hint`), else a default by type: ovals and
  ellipses are migrasomes, freehand and traced outlines are cells, lines are fibers;
  rectangles, polygons and composite shapes have no default;
- its pixels: areas (oval, ellipse, rectangle, polygon, freehand, traced, composite) are filled;
  lines (straight, segmented, freehand) are drawn ``fiber_width_px`` wide; a straight line of
  class migrasome is that migrasome's diameter (a disc on its midpoint); points become discs of
  ``point_diameter_px`` when one is given.

ROIs that cannot be mapped (text, arrows, angles, images, points without a diameter, a line
named as a cell, an area with no class, one outside the image) are skipped with a message that
names the ROI; the rest are converted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from roifile import ROI_SUBTYPE, ROI_TYPE, ImagejRoi

from migraseg.annotations.classes import class_hint
from migraseg.annotations.raster import (
    LabelObject,
    ellipse_pixels,
    polygon_pixels,
    polyline_pixels,
)
from migraseg.constants import CELL, CLASS_NAMES, FIBER, MIGRASOME

_AREAS = (ROI_TYPE.RECT, ROI_TYPE.OVAL, ROI_TYPE.POLYGON, ROI_TYPE.FREEHAND, ROI_TYPE.TRACED)
_LINES = (ROI_TYPE.LINE, ROI_TYPE.POLYLINE, ROI_TYPE.FREELINE)
_TYPE_NAMES = {
    ROI_TYPE.RECT: "rectangle",
    ROI_TYPE.OVAL: "oval",
    ROI_TYPE.POLYGON: "polygon",
    ROI_TYPE.FREEHAND: "freehand",
    ROI_TYPE.TRACED: "traced",
    ROI_TYPE.LINE: "straight line",
    ROI_TYPE.POLYLINE: "segmented line",
    ROI_TYPE.FREELINE: "freehand line",
    ROI_TYPE.ANGLE: "angle",
    ROI_TYPE.POINT: "point",
    ROI_TYPE.NOROI: "no-ROI",
}


@dataclass
class RoiOptions:
    """How ROIs become objects; lengths in pixels of the image they belong to."""

    fiber_width_px: float
    point_diameter_px: float | None = None
    roi_class: int | None = None  # overrides every hint
    groups: Mapping[int, int] = field(default_factory=dict)
    colours: Mapping[str, int] = field(default_factory=dict)


def read_rois(path: Path) -> list[ImagejRoi]:
    """All ROIs of a ``.zip`` set or a single ``.roi`` file.

    Raises:
        ValueError: the file is not an ImageJ ROI (set), naming it.
    """
    try:
        rois = ImagejRoi.fromfile(path)
    except Exception as err:  # roifile raises ValueError, zipfile.BadZipFile, struct.error ...
        raise ValueError(f"{path}: cannot read as an ImageJ ROI file ({err})") from err
    return rois if isinstance(rois, list) else [rois]


def roi_label(roi: ImagejRoi, index: int) -> str:
    """How messages name a ROI: its name (or Fiji's automatic name), type and position."""
    name = roi.name or roi.autoname
    return f"ROI {index + 1} {name!r} ({describe_type(roi)})"


def describe_type(roi: ImagejRoi) -> str:
    if roi.subtype == ROI_SUBTYPE.TEXT:
        return "text"
    if roi.subtype == ROI_SUBTYPE.ARROW:
        return "arrow"
    if roi.subtype == ROI_SUBTYPE.IMAGE:
        return "image"
    if roi.subtype == ROI_SUBTYPE.ELLIPSE:
        return "ellipse"
    if roi.composite:
        return "composite"
    return _TYPE_NAMES.get(roi.roitype, f"type {int(roi.roitype)}")


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _bounds(roi: ImagejRoi) -> tuple[float, float, float, float]:
    """``(left, top, right, bottom)`` of a rectangle or oval, subpixel when stored."""
    if roi.subpixelrect:
        return roi.xd, roi.yd, roi.xd + roi.widthd, roi.yd + roi.heightd
    return float(roi.left), float(roi.top), float(roi.right), float(roi.bottom)


def _default_class(roi: ImagejRoi) -> int | None:
    if roi.subtype == ROI_SUBTYPE.ELLIPSE or roi.roitype == ROI_TYPE.OVAL:
        return MIGRASOME
    if roi.composite:
        return None
    if roi.roitype in (ROI_TYPE.FREEHAND, ROI_TYPE.TRACED):
        return CELL
    if roi.roitype in _LINES:
        return FIBER
    if roi.roitype == ROI_TYPE.POINT:
        return MIGRASOME
    return None


def _pixels(roi: ImagejRoi, class_id: int, shape: tuple[int, int], options: RoiOptions):
    """The ROI's pixels, or a reason why it has none."""
    kind = describe_type(roi)
    if roi.roitype == ROI_TYPE.POINT:
        if not options.point_diameter_px:
            return None, "a point has no diameter (pass --point-diameter to draw points as discs)"
        if class_id != MIGRASOME:
            return None, f"a point cannot be a {CLASS_NAMES[class_id]} (only a migrasome)"
        radius = options.point_diameter_px / 2
        # ImageJ stores points in pixel-centre coordinates (point i is pixel i's centre)
        centres = np.asarray(roi.coordinates(), np.float64) + 0.5
        parts = [ellipse_pixels(x, y, radius, radius, shape) for x, y in centres]
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])), ""
    if roi.roitype in _LINES:
        points = roi.coordinates()
        if roi.roitype == ROI_TYPE.LINE and class_id == MIGRASOME:  # a measured diameter
            (x1, y1), (x2, y2) = points
            radius = float(np.hypot(x2 - x1, y2 - y1)) / 2
            return ellipse_pixels((x1 + x2) / 2, (y1 + y2) / 2, radius, radius, shape), ""
        if class_id in (MIGRASOME, CELL):
            what = "a straight line (its diameter)" if class_id == MIGRASOME else "an area ROI"
            return None, f"{_a(kind)} cannot be a {CLASS_NAMES[class_id]} (draw {what})"
        return polyline_pixels(points, options.fiber_width_px, shape), ""
    if roi.roitype == ROI_TYPE.OVAL and not roi.composite:
        left, top, right, bottom = _bounds(roi)
        cx, cy, rx, ry = (
            (left + right) / 2,
            (top + bottom) / 2,
            (right - left) / 2,
            (bottom - top) / 2,
        )
        return ellipse_pixels(cx, cy, rx, ry, shape), ""
    if roi.composite:
        return polygon_pixels(roi.coordinates(multi=True), shape), ""
    if roi.roitype == ROI_TYPE.RECT:
        left, top, right, bottom = _bounds(roi)
        corners = np.array([[left, top], [right, top], [right, bottom], [left, bottom]])
        return polygon_pixels([corners], shape), ""
    return polygon_pixels([roi.coordinates()], shape), ""


def rois_to_objects(
    rois: list[ImagejRoi], shape: tuple[int, int], options: RoiOptions, source: str
) -> tuple[list[LabelObject], list[str]]:
    """Objects for the ROIs that can be mapped, and one message per ROI that was skipped.

    Args:
        shape: (Y, X) of the image the ROIs were drawn on.
        source: the file name, prefixed to every message.
    """
    objects: list[LabelObject] = []
    skipped: list[str] = []
    for i, roi in enumerate(rois):
        label = f"{source}: {roi_label(roi, i)}"
        kind = describe_type(roi)
        unmappable = roi.subtype in (ROI_SUBTYPE.TEXT, ROI_SUBTYPE.ARROW, ROI_SUBTYPE.IMAGE) or (
            roi.roitype not in (*_AREAS, *_LINES, ROI_TYPE.POINT) and not roi.composite
        )
        if unmappable:
            skipped.append(f"{label}: skipped, {_a(kind)} cannot be mapped to a class")
            continue
        if options.roi_class is not None:
            class_id, how = options.roi_class, "--roi-class"
        else:
            try:
                class_id, how = class_hint(
                    roi.name,
                    roi.group,
                    roi.hexcolor(roi.stroke_color),
                    options.groups,
                    options.colours,
                )
            except ValueError as err:
                skipped.append(f"{label}: skipped, {err}")
                continue
            if class_id is None:
                class_id, how = _default_class(roi), "type"
            if class_id is None:
                skipped.append(
                    f"{label}: skipped, {_a(kind)} has no class in its name, group or colour "
                    "(name it e.g. 'cell', or pass --roi-class)"
                )
                continue
        try:
            pixels, reason = _pixels(roi, class_id, shape, options)
        except (NotImplementedError, RuntimeError, ValueError) as err:  # e.g. curved composites
            pixels, reason = None, f"its outline cannot be read ({err})"
        if pixels is None:
            skipped.append(f"{label}: skipped, {reason}")
            continue
        if not pixels[0].size:
            skipped.append(
                f"{label}: skipped, it covers no pixel centre of the {shape[1]}×{shape[0]} image"
            )
            continue
        objects.append(LabelObject(class_id, pixels, f"{label} as {CLASS_NAMES[class_id]} ({how})"))
    return objects, skipped
