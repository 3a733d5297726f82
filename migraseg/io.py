"""TIFF reading and writing with pixel size. The only module that imports tifffile.

Every reader returns ``(array, meta)``. ``meta["pixel_size_um"]`` is the lateral pixel size in
micrometres read from the file (OME ``PhysicalSizeX``, the ImageJ unit with the resolution tags,
or resolution tags in centimetres/inches), or ``None`` when the file does not say.

:class:`LazyTiff` reads any part of a file without loading the rest, so images far larger than
memory can be processed strip by strip: uncompressed contiguous files through a memory map that
is unmapped after every read (the resident set stays bounded), compressed or tiled files through
tifffile's zarr store, which decodes only the strips or tiles a read touches.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
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
    "cm": 1e4,
    "centimeter": 1e4,
    "m": 1e6,
    "Å": 1e-4,
    "A": 1e-4,
}
# Resolution tags at these dots-per-inch are screen/print defaults (what GIMP, Photoshop and
# scanners write, in inches or centimetres), not a calibration: read literally they would mean
# pixels of 42–350 µm, which no migrasome image has.
_DISPLAY_DPI = (1.0, 72.0, 96.0, 150.0, 200.0, 300.0, 600.0, 1200.0)
_CM_PER_INCH = 2.54


def is_display_dpi(dots_per_inch: float) -> bool:
    """Whether a resolution is a screen or print default (within 0.5 %, as a round trip through
    centimetres stored as a rational leaves it) rather than a calibration."""
    return any(abs(dots_per_inch - dpi) <= 0.005 * dpi for dpi in _DISPLAY_DPI)


class ImageReadError(ValueError):
    """A file could not be read as an image; the message names the file and the cause."""


def _ome_pixel_size_um(ome_xml: str) -> float | None:
    root = ET.fromstring(ome_xml)
    pixels = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
    if pixels is None or pixels.get("PhysicalSizeX") is None:
        return None
    unit = pixels.get("PhysicalSizeXUnit", "µm")  # OME's default unit
    if unit not in _UNIT_TO_UM:  # "pixel", "reference frame", ...: not a physical size
        return None
    return float(pixels.get("PhysicalSizeX")) * _UNIT_TO_UM[unit]


def _ome_channel_names(ome_xml: str) -> list[str] | None:
    root = ET.fromstring(ome_xml)
    names = [el.get("Name") for el in root.iter() if el.tag.endswith("Channel")]
    return names if names and all(names) else None


# seconds per unit of OME TimeIncrementUnit (default "s") and ImageJ tunit (default "sec")
_TIME_UNIT_TO_S = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "ms": 1e-3,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
}


def frame_interval_from_tiff(tif: tifffile.TiffFile) -> float | None:
    """Minutes between time points: OME ``Pixels/@TimeIncrement`` or ImageJ ``finterval``
    (None when the file records neither, or in a unit that is not a time)."""
    value, unit = None, "s"
    if tif.is_ome and tif.ome_metadata:
        root = ET.fromstring(tif.ome_metadata)
        pixels = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
        if pixels is not None and pixels.get("TimeIncrement"):
            value, unit = pixels.get("TimeIncrement"), pixels.get("TimeIncrementUnit", "s")
    if value is None and tif.is_imagej:
        meta = tif.imagej_metadata or {}
        value, unit = meta.get("finterval"), meta.get("tunit", "sec")
    seconds = _TIME_UNIT_TO_S.get(str(unit).strip().lower())
    if value is None or seconds is None or float(value) <= 0:
        return None
    return float(value) * seconds / 60


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
    if unit == 3 and not is_display_dpi(x_res * _CM_PER_INCH):  # centimetre
        return 1e4 / x_res
    if unit == 2 and not is_display_dpi(x_res):  # inch
        return 25400.0 / x_res
    return None


def channel_names_from_tiff(tif: tifffile.TiffFile) -> list[str] | None:
    """Channel names from OME ``Channel/@Name`` or ImageJ ``Labels``, or None."""
    channels = _ome_channel_names(tif.ome_metadata) if tif.is_ome and tif.ome_metadata else None
    if channels is None and tif.is_imagej:
        labels = (tif.imagej_metadata or {}).get("Labels")
        channels = list(labels) if isinstance(labels, list | tuple) else None
    return channels


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
            channels = channel_names_from_tiff(tif)
    except Exception as err:  # tifffile raises many types for corrupt files
        raise tiff_error(path, err) from err
    meta = {"path": str(path), "axes": axes, "pixel_size_um": pixel_size, "channel_names": channels}
    return array, meta


def tiff_error(path: str | os.PathLike, err: Exception) -> ImageReadError:
    """The one message for a TIFF that cannot be opened or parsed."""
    if isinstance(err, FileNotFoundError):
        return ImageReadError(f"{path}: file not found")
    return ImageReadError(f"{path}: cannot read as TIFF ({type(err).__name__}: {err})")


_IMAGEJ_DTYPES = (np.uint8, np.uint16, np.float32)


def _imagej_kwargs(
    pixel_size_um: float | None, axes: str, frame_interval_min: float | None = None
) -> dict[str, Any]:
    """tifffile keywords for an ImageJ hyperstack calibrated in µm (Fiji and napari read it),
    and in time (``finterval``, seconds) when a time-lapse's frame interval is given."""
    kwargs: dict[str, Any] = {"metadata": {"axes": axes}}
    if pixel_size_um:
        kwargs["resolution"] = (1.0 / pixel_size_um, 1.0 / pixel_size_um)
        kwargs["metadata"]["unit"] = "um"
    if frame_interval_min:
        kwargs["metadata"]["finterval"] = frame_interval_min * 60
    return kwargs


def write_tiff(
    path: str | os.PathLike,
    array: np.ndarray,
    pixel_size_um: float | None,
    axes: str = "YX",
    compression: str | None = "zlib",
    frame_interval_min: float | None = None,
) -> Path:
    """Write ``array`` atomically as an ImageJ-compatible TIFF calibrated in µm (and in minutes
    per frame when ``frame_interval_min`` is given).

    uint8, uint16 and float32 arrays are written as ImageJ hyperstacks (Fiji and napari read the
    scale); other dtypes (uint32 instance masks) as plain TIFFs with resolution in centimetres.
    """
    if array.ndim != len(axes):
        raise ValueError(f"{path}: array has {array.ndim} dims but axes are {axes!r}")
    kwargs: dict[str, Any] = {"compression": compression, "metadata": {"axes": axes}}
    if array.dtype.type in _IMAGEJ_DTYPES:
        kwargs.update(imagej=True, **_imagej_kwargs(pixel_size_um, axes, frame_interval_min))
    elif pixel_size_um:
        kwargs["resolution"] = (1e4 / pixel_size_um, 1e4 / pixel_size_um)
        kwargs["resolutionunit"] = "CENTIMETER"
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, array, **kwargs)
    return Path(path)


def write_tiff_pages(
    path: str | os.PathLike,
    pages: Iterable[np.ndarray],
    shape: tuple[int, ...],
    dtype: np.dtype | type,
    pixel_size_um: float | None,
    axes: str,
    compression: str | None = "zlib",
    display: dict[str, Any] | None = None,
) -> Path:
    """Write an ImageJ hyperstack atomically from its (Y, X) planes in C order, one at a time.

    Only one plane is held in memory, so a long time-lapse is written as it is computed; if
    ``pages`` raises, no output file appears. ``display``: extra ImageJ metadata for how Fiji
    shows it (tifffile's ``LUTs``, ``Ranges``, ``min``, ``max``, ``Info``).
    """
    if len(shape) != len(axes) or np.dtype(dtype).type not in _IMAGEJ_DTYPES:
        raise ValueError(f"{path}: cannot write shape {shape} ({np.dtype(dtype)}) as {axes!r}")
    with atomic_path(path) as tmp, tifffile.TiffWriter(tmp, imagej=True) as writer:
        kwargs = _imagej_kwargs(pixel_size_um, axes)
        kwargs["metadata"].update(display or {})
        writer.write(iter(pages), shape=shape, dtype=dtype, compression=compression, **kwargs)
    return Path(path)


def create_tiff_memmap(
    path: str | os.PathLike,
    shape: tuple[int, ...],
    dtype: np.dtype | type,
    pixel_size_um: float | None,
    axes: str,
) -> np.memmap:
    """An uncompressed ImageJ hyperstack on disk, opened as a writable memory map.

    Write it through a temporary path (:func:`atomic_path`) and ``flush()`` it before renaming.
    """
    kwargs = _imagej_kwargs(pixel_size_um, axes)
    return tifffile.memmap(path, shape=shape, dtype=dtype, imagej=True, **kwargs)


def check_one_frame_size(tif: tifffile.TiffFile) -> None:
    """Refuse a plain multi-page TIFF whose pages differ in size (tifffile splits it into one
    series per size, and only the first would be read: the rest of the stack would be lost).

    Raises:
        ImageReadError: naming the file and the sizes found.
    """
    plain = [s for s in tif.series if s.kind in ("generic", "shaped")]
    if len(plain) < 2 or len(plain) != len(tif.series):
        return
    sizes = {tuple(n for a, n in zip(s.axes, s.shape, strict=True) if a in "YX") for s in plain}
    if len(sizes) > 1:
        listed = ", ".join(f"{x}×{y}" for y, x in sorted(sizes))
        raise ImageReadError(
            f"{tif.filehandle.path}: frames of different sizes ({listed} px): every frame of a "
            "stack must have one size"
        )


class LazyTiff:
    """The first series of a TIFF, read part by part (use as a context manager).

    Attributes:
        path, axes (tifffile's axis codes, e.g. "TZCYX", "YXS", "IYX"), shape, dtype,
        pixel_size_um (µm or None), channel_names (list or None), frame_interval_min (minutes
        between time points, or None).

    Raises:
        ImageReadError: the file is missing, not a TIFF, or its structure is unreadable.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self._tif = tifffile.TiffFile(self.path)
        except Exception as err:
            raise tiff_error(self.path, err) from err
        try:
            series = self._tif.series[0]
            check_one_frame_size(self._tif)
            self.axes, self.shape, self.dtype = series.axes, tuple(series.shape), series.dtype
            self.pixel_size_um = pixel_size_from_tiff(self._tif)
            self.channel_names = channel_names_from_tiff(self._tif)
            self.frame_interval_min = frame_interval_from_tiff(self._tif)
            self._offset = series.dataoffset  # set only for uncompressed contiguous data
            self._zarr = None
            if self._offset is None:
                import zarr  # ~0.13 s to import; only compressed or tiled files need it

                self._zarr = zarr.open(series.aszarr(), mode="r")
        except ImageReadError:
            self._tif.close()
            raise
        except Exception as err:
            self._tif.close()
            raise tiff_error(self.path, err) from err

    def read(self, selection: tuple[int | slice, ...]) -> np.ndarray:
        """A copy of ``array[selection]`` in native byte order, reading only what it needs.

        Raises:
            ImageReadError: the data on disk is truncated or cannot be decoded.
        """
        try:
            if self._offset is not None:
                on_disk = self.dtype.newbyteorder(self._tif.byteorder)
                mapped = np.memmap(
                    self.path, on_disk, mode="r", offset=self._offset, shape=self.shape
                )
                part = np.array(mapped[selection])
                del mapped  # unmap at once: mapped pages would otherwise count as resident
            else:
                part = np.asarray(self._zarr[selection])
        except Exception as err:
            raise ImageReadError(f"{self.path}: cannot read pixel data ({err})") from err
        return part.astype(part.dtype.newbyteorder("="), copy=False)  # native byte order

    def close(self) -> None:
        self._tif.close()

    def __enter__(self) -> LazyTiff:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
