"""A CSV of migrasome centres and diameters (a point-counting workflow) to discs.

Columns are found by name, case-insensitive, with the unit in the name or given by
``--csv-units``:

- x: ``x``, ``cx``, ``xm``, ``centroid_x``, ``center_x``/``centre_x``, ``pos_x``, ``position_x``;
- y: the same with y;
- diameter: ``diameter``, ``diam``, ``d``, ``feret``; or radius: ``radius``, ``r``;
- units: ``x_um``, ``x_µm``, ``x (µm)``, ``x [um]``, ``x_px``, ``x (pixel)``... A column without
  one uses ``--csv-units px|um``; without that flag the file is refused (a Fiji Results table
  gives X, Y in µm when the image is calibrated and in pixels when it is not).
- napari's Points layer CSV (``axis-0``, ``axis-1`` = y, x in pixels, pixel centres at
  integers) is read too; its points need ``--point-diameter``.

x and y follow Fiji: the image's top-left corner is (0, 0), so pixel i's centre is at i + 0.5 px.
A point list says where the migrasomes are and nothing about cells or fibers, so every other
pixel is 255 (not annotated).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_UNIT = re.compile(
    r"[\s_]*[\(\[]?\s*(um|µm|μm|micron|microns|micrometer|px|pixel|pixels)\s*[\)\]]?\s*$"
)
_PIXEL_WORDS = ("px", "pixel", "pixels")
_X = {"x", "cx", "xm", "centroidx", "centerx", "centrex", "posx", "positionx", "xcoord"}
_Y = {"y", "cy", "ym", "centroidy", "centery", "centrey", "posy", "positiony", "ycoord"}
_DIAMETER = {"diameter", "diam", "d", "feret"}
_RADIUS = {"radius", "r"}


@dataclass
class Point:
    """One migrasome in pixels of its image: centre (x, y) and diameter; ``line`` in the CSV."""

    x_px: float
    y_px: float
    diameter_px: float
    line: int


def _column(header: str) -> tuple[str, str | None]:
    """``(base, unit)``: ``'X (µm)'`` → ``('x', 'um')``, ``'d_px'`` → ``('d', 'px')``."""
    name = header.strip().lstrip("\ufeff").lower()
    unit = None
    match = _UNIT.search(name)
    if match and match.start() > 0:
        unit = "px" if match.group(1) in _PIXEL_WORDS else "um"
        name = name[: match.start()]
    return re.sub(r"[^a-z0-9]", "", name), unit


def read_points(
    path: Path, pixel_size_um: float | None, units: str | None, point_diameter_um: float | None
) -> list[Point]:
    """Migrasomes of a CSV in pixels of an image of ``pixel_size_um``.

    Raises:
        ValueError: every problem in the file (missing columns, no unit, bad numbers), one per
            line, each naming the file (and the CSV line).
    """
    text = path.read_text(encoding="utf-8-sig")
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else "", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(text.splitlines(), dialect))
    if not rows:
        raise ValueError(f"{path}: empty CSV")
    columns = {_column(h)[0]: (i, _column(h)[1]) for i, h in enumerate(rows[0])}
    napari = "axis0" in columns and "axis1" in columns
    if napari:  # napari Points layer: axis-0 = y, axis-1 = x, pixel centres at integers
        x_col, y_col = (*columns["axis1"][:1], "px"), (*columns["axis0"][:1], "px")
        offset = 0.5
    else:
        x_col = next((columns[k] for k in columns if k in _X), None)
        y_col = next((columns[k] for k in columns if k in _Y), None)
        offset = 0.0
    d_col = next((columns[k] for k in columns if k in _DIAMETER), None)
    r_col = next((columns[k] for k in columns if k in _RADIUS), None)
    problems = []
    if x_col is None or y_col is None:
        problems.append(
            f"{path}: no x/y columns in {rows[0]} (expected e.g. x_um,y_um,diameter_um or X,Y)"
        )
    if d_col is None and r_col is None and point_diameter_um is None:
        problems.append(f"{path}: no diameter or radius column, and no --point-diameter")
    if problems:
        raise ValueError("\n".join(problems))
    size_col, factor = (d_col, 1.0) if d_col is not None else (r_col, 2.0)

    def scale(col: tuple[int, str | None], name: str) -> float:
        unit = col[1] or units
        if unit is None:
            raise ValueError(
                f"{path}: column {rows[0][col[0]]!r} has no unit; name it (e.g. {name}_um, "
                f"{name}_px) or pass --csv-units px or --csv-units um"
            )
        if unit == "um" and not pixel_size_um:
            raise ValueError(f"{path}: lengths in µm but the image has no pixel size")
        return 1.0 if unit == "px" else 1.0 / pixel_size_um

    sx, sy = scale(x_col, "x"), scale(y_col, "y")
    if size_col is not None:
        sd = scale(size_col, "diameter") * factor
    else:
        sd = 1.0 / pixel_size_um if pixel_size_um else None
        if sd is None:
            raise ValueError(f"{path}: --point-diameter is in µm but the image has no pixel size")
    points: list[Point] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            x = float(row[x_col[0]]) * sx + offset
            y = float(row[y_col[0]]) * sy + offset
            d = (float(row[size_col[0]]) if size_col is not None else point_diameter_um) * sd
        except (ValueError, IndexError):
            problems.append(f"{path}:{line}: not a number in {row}")
            continue
        if not (np.isfinite([x, y, d]).all() and d > 0):
            problems.append(f"{path}:{line}: needs finite x, y and a positive diameter, got {row}")
            continue
        points.append(Point(x, y, d, line))
    if problems:
        raise ValueError("\n".join(problems))
    return points
