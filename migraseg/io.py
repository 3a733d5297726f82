"""TIFF reading and writing with pixel size. The only module that imports tifffile.

Every reader returns ``(array, meta)``. ``meta["pixel_size_um"]`` is the lateral pixel size in
micrometres read from the file (OME ``PhysicalSizeX``, the ImageJ unit with the resolution tags,
or resolution tags in centimetres/inches), or ``None`` when the file does not say.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from migraseg.utils.files import atomic_path

_UNIT_TO_UM = {
    "um": 1.0,
    "µm": 1.0,
    "μm": 1.0,
    "micron": 1.0,
    "microns": 1.0,
    "micrometer": 1.0,
    "nm": 1e-3,
    "nanometer": 1e-3,
    "mm": 1e3,
    "millimeter": 1e3,
    "m": 1e6,
    "Å": 1e-4,
    "A": 1e-4,
}
# Resolution tags at these dots-per-inch are screen/print defaults, not a calibration.
_DISPLAY_DPI = {1.0, 72.0, 96.0, 150.0, 300.0}


class ImageReadError(ValueError):
    """A file could not be read as an image; the message names the file and the cause."""


def _ome_pixel_size_um(ome_xml: str) -> float | None:
    root = ET.fromstring(ome_xml)
    pixels = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
    if pixels is None or pixels.get("PhysicalSizeX") is None:
        return None
    unit = pixels.get("PhysicalSizeXUnit", "µm")
    return float(pixels.get("PhysicalSizeX")) * _UNIT_TO_UM.get(unit, 1.0)


def _ome_channel_names(ome_xml: str) -> list[str] | None:
    root = ET.fromstring(ome_xml)
    names = [el.get("Name") for el in root.iter() if el.tag.endswith("Channel")]
    return names if names and all(names) else None


def pixel_size_from_tiff(tif: tifffile.TiffFile) -> float | None:
    """Return the pixel size in µm recorded in an open TIFF, or None if it records none."""
    if tif.is_ome and tif.ome_metadata:
        size = _ome_pixel_size_um(tif.ome_metadata)
        if size:
            return size
    page = tif.pages.first
    if "XResolution" not in page.tags:
        return None
    x_res = float(page.resolution[0])
    if x_res <= 0:
        return None
    unit = int(page.resolutionunit)
    ij_unit = (tif.imagej_metadata or {}).get("unit") if tif.is_imagej else None
    if ij_unit is not None:
        ij_unit = ij_unit.replace("\\u00B5", "µ")
        if ij_unit in _UNIT_TO_UM:
            return _UNIT_TO_UM[ij_unit] / x_res
        return None
    if unit == 3:  # centimetre
        return 1e4 / x_res
    if unit == 2 and x_res not in _DISPLAY_DPI:  # inch
        return 25400.0 / x_res
    return None


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """Read the first series of a TIFF.

    Returns:
        ``(array, meta)``: the array as stored (any dtype, axes in ``meta["axes"]``, e.g. "YX",
        "CYX", "TYX", "TZCYX"); meta has ``path``, ``axes``, ``pixel_size_um`` (float or None)
        and ``channel_names`` (list or None).

    Raises:
        ImageReadError: the file is missing, not a TIFF, or truncated.
    """
    path = Path(path)
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            array = series.asarray()
            axes = series.axes
            pixel_size = pixel_size_from_tiff(tif)
            channels = _ome_channel_names(tif.ome_metadata) if tif.is_ome else None
            if channels is None and tif.is_imagej:
                labels = (tif.imagej_metadata or {}).get("Labels")
                channels = list(labels) if isinstance(labels, list | tuple) else None
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except Exception as err:  # tifffile raises many types for corrupt files
        raise ImageReadError(f"{path}: cannot read as TIFF ({type(err).__name__}: {err})") from err
    meta = {"path": str(path), "axes": axes, "pixel_size_um": pixel_size, "channel_names": channels}
    return array, meta


_IMAGEJ_DTYPES = (np.uint8, np.uint16, np.float32)


def write_tiff(
    path: str | os.PathLike,
    array: np.ndarray,
    pixel_size_um: float | None,
    axes: str = "YX",
    compression: str | None = "zlib",
) -> Path:
    """Write ``array`` atomically as an ImageJ-compatible TIFF calibrated in µm.

    uint8, uint16 and float32 arrays are written as ImageJ hyperstacks (Fiji and napari read the
    scale); other dtypes (uint32 instance masks) as plain TIFFs with resolution in centimetres.
    """
    if array.ndim != len(axes):
        raise ValueError(f"{path}: array has {array.ndim} dims but axes are {axes!r}")
    kwargs: dict[str, Any] = {"compression": compression, "metadata": {"axes": axes}}
    if array.dtype.type in _IMAGEJ_DTYPES:
        kwargs["imagej"] = True
        if pixel_size_um:
            kwargs["resolution"] = (1.0 / pixel_size_um, 1.0 / pixel_size_um)
            kwargs["metadata"]["unit"] = "um"
    elif pixel_size_um:
        kwargs["resolution"] = (1e4 / pixel_size_um, 1e4 / pixel_size_um)
        kwargs["resolutionunit"] = "CENTIMETER"
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, array, **kwargs)
    return Path(path)
