"""napari readers and writers for migraseg's outputs.

Dropping ``<stem>_labels.tif`` (as ``migraseg-predict`` writes it) opens the class labels with
the file's pixel size as the layer's scale and, when ``<stem>_migrasomes.csv`` lies beside it,
the migrasomes as a Points layer with their table as properties. Labels layers are written back
as calibrated TIFFs (Fiji reads the scale too).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from migraseg.constants import CLASS_NAMES, IGNORE_LABEL
from migraseg.io import read_image, write_tiff
from migraseg.visualize import CLASS_COLOURS, UNANNOTATED_COLOUR

LABELS_SUFFIX = "_labels.tif"
# migraseg-predict's CSV columns that the points' properties name otherwise
RENAMED = {"nearest_cell_id": "cell"}
NUMERIC = ("id", "frame", "x_px", "y_px", "x_um", "y_um", "area_um2", "diameter_um", "cell")

LayerData = tuple[Any, dict[str, Any], str]


def class_colours() -> dict[int | None, np.ndarray]:
    """Label id → RGBA in [0, 1]: the classes' colours (as migraseg's panels), background and
    unknown ids transparent, 255 "not annotated" gray."""
    colours: dict[int | None, np.ndarray] = {None: np.zeros(4), 0: np.zeros(4)}
    for index, rgb in enumerate(CLASS_COLOURS[1:], start=1):
        colours[index] = np.append(rgb / 255, 1.0)
    colours[IGNORE_LABEL] = np.append(UNANNOTATED_COLOUR / 255, 1.0)
    return colours


def class_features() -> dict[str, list]:
    """Labels-layer features: the class name of each id (napari shows it under the cursor)."""
    return {
        "index": [*range(len(CLASS_NAMES)), IGNORE_LABEL],
        "class": [*CLASS_NAMES, "not_annotated"],
    }


def labels_kwargs(name: str, scale: tuple[float, ...]) -> dict[str, Any]:
    """Keyword arguments of a class Labels layer (colours, class names, scale)."""
    from napari.utils.colormaps import DirectLabelColormap

    return {
        "name": name,
        "scale": scale,
        "colormap": DirectLabelColormap(color_dict=class_colours()),
        "features": class_features(),
        "opacity": 0.6,
    }


def get_reader(path: str | list[str]) -> Callable[[str], list[LayerData]] | None:
    """napari reader hook: migraseg's ``*_labels.tif`` only."""
    if isinstance(path, list) or not str(path).lower().endswith(LABELS_SUFFIX):
        return None
    return read_labels


def read_migrasome_csv(path: Path) -> dict[str, np.ndarray]:
    """Columns of a ``<stem>_migrasomes.csv`` under the agreed names (numbers as floats)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0]) if rows else []
    columns = {}
    for source in header:
        name = RENAMED.get(source, source)
        values = [row[source] for row in rows]
        if name in NUMERIC:
            columns[name] = np.array([float(v) if v != "" else np.nan for v in values])
        else:
            columns[name] = np.array(values)
    return columns


def read_labels(path: str) -> list[LayerData]:
    """The labels (and migrasomes, when their CSV is beside) of one ``*_labels.tif``."""
    labels_path = Path(path)
    array, meta = read_image(labels_path)
    pixel = meta["pixel_size_um"] or 1.0
    scale = (1.0,) * (array.ndim - 2) + (pixel, pixel)
    stem = labels_path.name[: -len(LABELS_SUFFIX)]
    layers: list[LayerData] = [(array, labels_kwargs(f"{stem} classes", scale), "labels")]
    table = labels_path.with_name(f"{stem}_migrasomes.csv")
    if table.is_file():
        columns = read_migrasome_csv(table)
        if "x_px" in columns and "y_px" in columns:
            coords = [columns["y_px"], columns["x_px"]]
            if array.ndim == 3:
                coords.insert(0, columns.get("frame", np.zeros_like(columns["x_px"])))
            points = np.stack(coords, axis=1) if len(columns["x_px"]) else np.zeros((0, array.ndim))
            layers.append((points, points_kwargs(f"{stem} migrasomes", scale, columns), "points"))
    return layers


def points_kwargs(name: str, scale: tuple[float, ...], properties: dict) -> dict[str, Any]:
    """Keyword arguments of the migrasome Points layer."""
    return {
        "name": name,
        "scale": scale,
        "properties": properties,
        "size": 6,
        "symbol": "ring",
        "face_color": "transparent",
        "border_color": "yellow",
    }


def write_labels(path: str, data: np.ndarray, meta: dict[str, Any]) -> list[str]:
    """napari writer hook: a Labels layer as a calibrated uint8 TIFF (Y×X or T×Y×X)."""
    array = np.asarray(data)
    if array.max(initial=0) > 255 or array.min(initial=0) < 0:
        raise ValueError(f"{path}: labels must be 0–255 to be written as class ids")
    scale = meta.get("scale") or (1.0, 1.0)
    pixel = float(scale[-1]) if float(scale[-1]) != 1.0 else None
    axes = {2: "YX", 3: "TYX", 4: "TZYX"}.get(array.ndim)
    if axes is None:
        raise ValueError(f"{path}: labels of {array.ndim} dimensions cannot be written")
    write_tiff(path, array.astype(np.uint8), pixel, axes)
    return [path]
