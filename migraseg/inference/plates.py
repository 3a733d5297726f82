"""OME-Zarr HCS plates as inputs: every field of every well, read like one image file.

A plate is a folder ``<name>.zarr`` whose metadata lists its wells (``row/column``), each
well lists its fields (images), so a field is always ``<plate>.zarr/<row>/<column>/<field>``.
:func:`plate_fields` lists them (naming missing wells and unreadable fields instead of
stopping), :func:`field_stem` names a field's outputs ``<plate>_<row>_<column>_<field>``, and
:class:`PlateImage` reads a field's full-resolution level part by part, with the interface of
:class:`migraseg.io.LazyTiff` (axes, shape, dtype, pixel size, channel names, ``read``).

Metadata and pixels are read with ome-zarr-py (the ``plates`` extra), imported only when a
plate is met, so TIFF users do not need it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from migraseg.constants import SITES
from migraseg.io import ImageReadError
from migraseg.measure.tables import read_csv, write_csv

# OME-NGFF axis units (UDUNITS names) → µm, and → minutes
LENGTH_UM = {
    "angstrom": 1e-4, "nanometer": 1e-3, "micrometer": 1.0, "micron": 1.0,
    "millimeter": 1e3, "centimeter": 1e4, "meter": 1e6,
}  # fmt: skip
TIME_MIN = {"millisecond": 1 / 60000, "second": 1 / 60, "minute": 1.0, "hour": 60.0}
PLATE_SUFFIXES = (".ome.zarr", ".zarr")


def ome_zarr():
    """The ome_zarr package (``io`` and ``format``), or a clear error naming the extra."""
    try:
        import ome_zarr.format
        import ome_zarr.io
    except ImportError as err:
        raise ValueError(
            "reading OME-Zarr plates needs ome-zarr-py: pip install 'migraseg[plates]'"
        ) from err
    return ome_zarr


def location(path: Path):
    """ome-zarr's ZarrLocation of a group (None if there is none), opened as the OME-Zarr version
    its zarr format holds (0.5 in zarr 3, else 0.4), so ome-zarr logs no version mismatch."""
    formats = ome_zarr().format
    fmt = formats.FormatV05() if (path / "zarr.json").is_file() else formats.FormatV04()
    return ome_zarr().io.parse_url(path, fmt=fmt)


def attributes(path: Path) -> dict[str, Any] | None:
    """The OME attributes of a zarr group (OME-Zarr 0.4 or 0.5), or None if it is none."""
    found = location(path)
    return None if found is None else dict(found.root_attrs)


def is_zarr(path: Path) -> bool:
    """Whether ``path`` is a ``*.zarr`` folder (taken as a plate; no reading yet)."""
    return path.name.lower().endswith(".zarr") and path.is_dir()


def plate_name(path: Path) -> str:
    """``screen.ome.zarr`` → ``screen``."""
    name = path.name
    for suffix in PLATE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def field_parts(path: Path) -> tuple[Path, str, str, str] | None:
    """``(plate, row, column, field)`` when ``path`` is a plate's field, else None (from the
    path alone: fields are ``<plate>.zarr/<row>/<column>/<field>`` by the OME-Zarr spec)."""
    if len(path.parts) < 4 or not path.parents[2].name.lower().endswith(".zarr"):
        return None
    if path.suffix.lower() in (".tif", ".tiff"):  # a TIFF file kept inside a zarr folder
        return None
    return path.parents[2], path.parent.parent.name, path.parent.name, path.name


def field_stem(path: Path) -> str | None:
    """``screen.zarr/A/1/0`` → ``screen_A_1_0`` (None if not a field)."""
    parts = field_parts(path)
    return None if parts is None else "_".join([plate_name(parts[0]), *parts[1:]])


def field_keys(path: Path) -> dict[str, str]:
    """The summary's ``image``, ``plate``, ``well`` and ``field`` of an input (plain files:
    their name and empty plate, well and field)."""
    parts = field_parts(path)
    if parts is None:
        return {"image": path.name, "plate": "", "well": "", "field": ""}
    plate, row, column, field = parts
    return {
        "image": "/".join([plate.name, row, column, field]),
        "plate": plate_name(plate),
        "well": f"{row}{column}",
        "field": field,
    }


def input_name(path: Path) -> str:
    """How an input is named in messages and the summary's ``image`` column."""
    return field_keys(path)["image"]


def plate_fields(plate: Path) -> tuple[list[Path], list[str]]:
    """Every field of every well of ``plate``, in the metadata's order, and a warning per
    missing well or unreadable field (those are left out; the rest goes on).

    Raises:
        ValueError: ``plate`` has no plate metadata, or ome-zarr-py is missing.
    """
    wells = (attributes(plate) or {}).get("plate", {}).get("wells")
    if wells is None:
        raise ValueError(
            "not an OME-Zarr plate (no plate metadata): migraseg-predict reads TIFF files and "
            "OME-Zarr plates"
        )
    fields: list[Path] = []
    warnings: list[str] = []
    for well in wells:
        where = plate / well["path"]
        images = (attributes(where) or {}).get("well", {}).get("images")
        if images is None:
            warnings.append(f"{where}: well {well['path']} listed by the plate is missing; skipped")
            continue
        for image in images:
            field = where / image["path"]
            if "multiscales" not in (attributes(field) or {}):
                warnings.append(f"{field}: field {image['path']} of well {well['path']} is "
                                "missing or has no image metadata; skipped")  # fmt: skip
            else:
                fields.append(field)
    return fields, warnings


def scale_of(multiscale: dict[str, Any], n_axes: int) -> list[float]:
    """The full-resolution level's scale per axis (dataset and multiscale-wide transforms)."""
    scale = [1.0] * n_axes
    transforms = [
        *multiscale["datasets"][0].get("coordinateTransformations", []),
        *multiscale.get("coordinateTransformations", []),
    ]
    for transform in transforms:
        if transform.get("type") == "scale":
            scale = [a * b for a, b in zip(scale, transform["scale"], strict=True)]
    return scale


class PlateImage:
    """One field of a plate, read part by part like :class:`migraseg.io.LazyTiff`.

    ``pixel_size_um`` comes from the x axis's scale when its unit is a length (else None: pass
    ``--pixel-size``), ``frame_interval_min`` from the t axis's, ``channel_names`` from the
    omero channel labels.

    Raises:
        ImageReadError: the field's image metadata or arrays cannot be read.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            group = location(self.path)
            multiscale = dict(group.root_attrs)["multiscales"][0]
            names = [a["name"].lower() for a in multiscale["axes"]]
            self.axes = "".join(n.upper() if n in "tczyx" else "Q" for n in names)
            self._array = group.load(multiscale["datasets"][0]["path"])
            self.shape, self.dtype = tuple(self._array.shape), self._array.dtype
            scale = scale_of(multiscale, len(names))
            units = [a.get("unit", "") for a in multiscale["axes"]]
            self.pixel_size_um = self.per_unit(scale, units, names, "x", LENGTH_UM)
            self.frame_interval_min = self.per_unit(scale, units, names, "t", TIME_MIN)
            channels = dict(group.root_attrs).get("omero", {}).get("channels", [])
            self.channel_names = [c.get("label", "") for c in channels] or None
        except ValueError:
            raise
        except Exception as err:
            raise ImageReadError(f"{self.path}: unreadable OME-Zarr image ({err})") from err

    @staticmethod
    def per_unit(scale, units, names, axis: str, factors: dict[str, float]) -> float | None:
        if axis not in names or units[names.index(axis)] not in factors:
            return None
        return scale[names.index(axis)] * factors[units[names.index(axis)]]

    def read(self, selection: tuple[int | slice, ...]) -> np.ndarray:
        """A copy of ``array[selection]`` of the full-resolution level.

        Raises:
            ImageReadError: a chunk is missing or cannot be decoded.
        """
        try:
            return np.asarray(self._array[selection].compute())
        except Exception as err:
            raise ImageReadError(f"{self.path}: cannot read pixel data ({err})") from err

    def close(self) -> None:
        pass

    def __enter__(self) -> PlateImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


PLATE_SUMMARY = "plate_summary.csv"
PLATE_COLUMNS = [
    "plate", "well", "n_fields", "n_frames", "n_migrasomes", "n_cells", "n_whole_cells",
    "n_migrasomes_of_whole_cells", "migrasomes_per_cell", "fiber_length_um",
    "migrasomes_per_100um_fiber", "median_diameter_um", *(f"n_{site}" for site in SITES),
]  # fmt: skip
SUMMED = [
    "n_migrasomes", "n_cells", "n_whole_cells", "n_migrasomes_of_whole_cells", "fiber_length_um",
    *(f"n_{site}" for site in SITES),
]  # fmt: skip


def plate_summary(rows: list[dict[str, Any]], out_dir: Path) -> list[dict[str, Any]]:
    """One row per well of the summary ``rows`` (per frame) that come from plates: counts summed
    over its fields and frames, ratios of the sums, and the median diameter of all its
    migrasomes (read from the fields' ``<stem>_migrasomes.csv`` in ``out_dir``)."""
    wells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("well"):
            wells.setdefault((row["plate"], row["well"]), []).append(row)
    table = []
    for (plate, well), frames in wells.items():
        total = {key: sum(float(r[key] or 0) for r in frames) for key in SUMMED}
        images = list(dict.fromkeys(r["image"] for r in frames))
        diameters = [
            float(m["diameter_um"])
            for image in images
            for m in read_csv(out_dir / f"{field_stem(Path(image))}_migrasomes.csv")
        ]
        whole, fiber = total["n_whole_cells"], total["fiber_length_um"]
        table.append(
            {
                "plate": plate,
                "well": well,
                "n_fields": len(images),
                "n_frames": len(frames),
                **{k: round(v, 2) if k == "fiber_length_um" else int(v) for k, v in total.items()},
                "migrasomes_per_cell": (
                    total["n_migrasomes_of_whole_cells"] / whole if whole else math.nan
                ),
                "migrasomes_per_100um_fiber": (
                    100 * total["n_migrasomes"] / fiber if fiber else math.nan
                ),
                "median_diameter_um": float(np.median(diameters)) if diameters else math.nan,
            }
        )
    return table


def write_plate_summary(rows: list[dict[str, Any]], out_dir: Path, name: str) -> Path | None:
    """Write ``name`` (see :func:`plate_summary`) when any of ``rows`` comes from a plate."""
    table = plate_summary(rows, out_dir)
    return write_csv(out_dir / name, table, PLATE_COLUMNS) if table else None
