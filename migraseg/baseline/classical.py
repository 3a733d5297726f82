"""The classical baseline: what a careful Fiji user would do, in scikit-image.

1. Normalise (1st/99.8th percentile) and subtract the background (a grey opening with a disc
   far larger than any migrasome or fiber, on a 1 µm grid: Fiji's rolling ball, coarsely).
2. Cells: grey opening with a 3 µm square (removes fibers and migrasomes, keeps cell bodies),
   smooth (σ = 1 µm), threshold, fill holes, drop small components.
3. Migrasomes: bright objects outside cells (ring lumens filled) that are blob-like (their peak
   scale-normalised Laplacian of Gaussian over the migrasome radii clears a threshold) and
   round; touching ones split by a distance-transform watershed.
4. Retraction fibers: Sato ridge filter at the fiber's imaged width, hysteresis threshold,
   outside cells and migrasomes, short fragments dropped.

Dark objects on a light background (TEM) are inverted first: ``polarity`` is ``bright``
(fluorescence), ``dark`` or ``auto`` (dark when the image's background mode, the peak of its
histogram, is in the upper half of its range). :func:`default_params` gives each modality its
starting point: TEM starts from ``dark`` (negative stain images light objects: ``auto`` or
``bright``) and sizes for 50 nm fibers and fields of a few µm.

Thresholds are in robust z-units (median and MAD of each response over the image), so they
carry over between images of different brightness; sizes are in µm, so they carry over between
pixel sizes. Only the five thresholds are tuned (:mod:`migraseg.baseline.tuning`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.filters import apply_hysteresis_threshold, sato
from skimage.transform import resize

from migraseg.constants import CELL, FIBER, MIGRASOME, MIGRASOME_POSTPROCESS
from migraseg.normalization import percentile_normalize
from migraseg.postprocess import EIGHT_CONNECTED, decode_instances

POLARITIES = ("bright", "dark", "auto")


@dataclass(frozen=True)
class ClassicalParams:
    """Parameters of the classical pipeline; lengths in µm, thresholds in robust z-units."""

    background_radius_um: float = 20.0
    cell_sigma_um: float = 1.0
    cell_z: float = 10.0
    cell_opening_um: float = 3.0
    cell_min_area_um2: float = 50.0
    fiber_sigmas_um: tuple[float, ...] = (0.1, 0.2)
    fiber_low_z: float = 3.0
    fiber_high_z: float = 8.0
    fiber_min_length_um: float = 1.0
    fiber_margin_um: float = 0.2
    blob_radii_um: tuple[float, ...] = (0.25, 0.4, 0.6, 0.85, 1.2, 1.5)
    blob_z: float = 20.0
    bright_sigma_um: float = 0.07
    migrasome_z: float = 15.0
    min_diameter_um: float = MIGRASOME_POSTPROCESS["min_diameter_um"]
    max_diameter_um: float = 3.5
    split_h_um: float = MIGRASOME_POSTPROCESS["split_h_um"]
    max_elongation: float = 2.5
    polarity: str = "bright"  # bright objects (fluorescence), dark objects (TEM) or auto
    cells_are_not_discs: bool = False  # drop migrasome-like discs from the cell mask (TEM)
    cell_presmooth_um: float = 0.0  # smooth before the cell opening (noisy TEM)
    cell_min_mad: float = 1e-6  # floor of the cell response's MAD, in normalised intensity
    cell_zero_percentile: float = 50.0  # the cell response's zero (TEM: the background's level)
    blob_downsample: bool = False  # wide blob scales on a coarser grid (TEM: σ of tens of px)
    outline_um: float = 0.0  # > 0: migrasomes may be membrane outlines (TEM), gaps this wide

    def __post_init__(self) -> None:
        if self.polarity not in POLARITIES:
            raise ValueError(f"polarity must be one of {POLARITIES}, got {self.polarity!r}")

    def to_dict(self) -> dict[str, float | list[float]]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> ClassicalParams:
        """Build from a dict (e.g. classical_params.json); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(
                f"unknown classical parameters {sorted(unknown)}; known: {sorted(known)}"
            )
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


# TEM: objects are dark (stained membranes); fibers are 40–70 nm tubes, not a 0.2 µm PSF; a
# micrograph shows a few µm, so a cell in view may be only a few µm² of it.
TEM_CHANGES: dict[str, object] = {
    "polarity": "dark",  # auto misreads micrographs mostly filled by a cell
    "cells_are_not_discs": True,  # a large migrasome fills much of a micrograph
    "outline_um": 0.06,
    "blob_downsample": True,
    "cell_presmooth_um": 0.1,
    # thresholds start inside TEM's grid (tuning.TEM_GRID), where coordinate search can move
    "cell_z": 2.0,
    "migrasome_z": 2.0,
    "blob_z": 1.0,
    "fiber_low_z": 2.0,
    "fiber_high_z": 4.0,
    "cell_min_mad": 0.03,  # a micrograph without a cell is flat: no cell there
    "cell_zero_percentile": 2.0,  # a cell may fill most of a micrograph
    "background_radius_um": 4.0,  # a micrograph is a few µm across
    "cell_sigma_um": 0.3,
    "cell_opening_um": 3.5,  # wider than the largest migrasome
    "cell_min_area_um2": 1.0,
    "fiber_sigmas_um": (0.02, 0.04),
    "fiber_min_length_um": 0.3,
    "fiber_margin_um": 0.05,
    "bright_sigma_um": 0.03,
}


def default_params(modality: str = "confocal") -> ClassicalParams:
    """The untuned starting point for a modality (``confocal`` or ``tem``)."""
    return replace(ClassicalParams(), **TEM_CHANGES) if modality == "tem" else ClassicalParams()


def objects_are_dark(gray: np.ndarray) -> bool:
    """Whether a normalised image (Y, X; 0–1 between its low and high percentiles) shows dark
    objects on a light background: the peak of its (lightly smoothed) histogram, which is the
    background wherever it covers the largest uniform area, lies in the upper half. Wrong when
    an object (a cell) fills most of the frame."""
    step = max(1, max(gray.shape) // 256)
    small = ndi.gaussian_filter(gray[::step, ::step], 1.0)
    hist, edges = np.histogram(np.clip(small, 0, 1), bins=32, range=(0, 1))
    peak = int(np.argmax(ndi.uniform_filter1d(hist.astype(float), 3)))
    return bool((edges[peak] + edges[peak + 1]) / 2 > 0.5)


@dataclass
class Responses:
    """Filter responses of one image, computed once and thresholded many times when tuning."""

    pixel_size_um: float
    cell: np.ndarray  # (Y, X) background-subtracted intensity, opened, smoothed; z-units
    ridge: np.ndarray  # (Y, X) Sato response, z-units
    blob: np.ndarray  # (Y, X) max over scales of the scale-normalised -LoG, z-units
    bright: np.ndarray  # (Y, X) lightly smoothed intensity, z-units


def fill_small_holes(mask: np.ndarray, max_area_px: float) -> np.ndarray:
    """``mask`` (Y, X) bool with its holes of at most ``max_area_px`` pixels filled."""
    holes = ndi.binary_fill_holes(mask) & ~mask
    labels, _ = ndi.label(holes)
    small = np.bincount(labels.ravel()) <= max_area_px
    small[0] = False
    return mask | small[labels]


def drop_small_components(mask: np.ndarray, min_area_px: float) -> np.ndarray:
    """``mask`` (Y, X) bool without its 8-connected components smaller than ``min_area_px``."""
    labels, _ = ndi.label(mask, structure=EIGHT_CONNECTED)
    keep = np.bincount(labels.ravel()) >= min_area_px
    keep[0] = False
    return keep[labels]


def robust_z(
    values: np.ndarray, min_mad: float = 1e-6, zero_percentile: float = 50.0
) -> np.ndarray:
    """(values − median) / (1.4826 · MAD): z-units that ignore the few bright objects.

    ``min_mad`` floors the MAD, so that a nearly flat map does not blow up; ``zero_percentile``
    < 50 measures from a low percentile instead of the median (the background, even where an
    object fills most of the image).
    """
    median = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - median)))
    zero = median if zero_percentile == 50.0 else float(np.percentile(values, zero_percentile))
    return ((values - zero) / max(mad, min_mad)).astype(np.float32)


def subtract_background(image: np.ndarray, pixel_size_um: float, radius_um: float) -> np.ndarray:
    """Image (Y, X) minus a smooth background: a grey opening with a disc of ``radius_um`` on a
    grid of about 1 µm (an eighth of the radius, if smaller), smoothed and resized back."""
    factor = max(1, round(min(1.0, radius_um / 8) / pixel_size_um))
    small_shape = (max(1, image.shape[0] // factor), max(1, image.shape[1] // factor))
    small = resize(image, small_shape, order=1, anti_aliasing=True, preserve_range=True)
    r = max(1, round(radius_um / (factor * pixel_size_um)))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    opened = ndi.grey_opening(small, footprint=yy**2 + xx**2 <= r * r, mode="reflect")
    smooth = ndi.uniform_filter(opened, 2 * r + 1, mode="reflect")
    return image - resize(smooth, image.shape, order=1, preserve_range=True)


def scaled_log(image: np.ndarray, sigma_px: float, downsample: bool = False) -> np.ndarray:
    """Scale-normalised negative Laplacian of Gaussian, ``-σ² ∇²G_σ * image`` (Y, X).

    With ``downsample``, a wide σ is computed on an image shrunk by ⌊σ/4⌋ and resized back (the
    scale-normalised response does not change with the grid; 5–10× faster for TEM's σ of tens
    of pixels).
    """
    step = int(sigma_px // 4) if downsample else 1
    if step < 2:
        return -ndi.gaussian_laplace(image, sigma_px) * sigma_px**2
    h, w = image.shape
    small = cv2.resize(image, (max(w // step, 1), max(h // step, 1)), interpolation=cv2.INTER_AREA)
    s = sigma_px / step
    response = -ndi.gaussian_laplace(small, s) * s**2
    return cv2.resize(response, (w, h), interpolation=cv2.INTER_LINEAR)


def compute_responses(
    image: np.ndarray, pixel_size_um: float, params: ClassicalParams
) -> Responses:
    """All filter responses of a raw image (C, Y, X); channels are averaged.

    Shape: image (C, Y, X) any dtype → Responses of (Y, X) float32 maps.
    """
    gray = percentile_normalize(image).mean(axis=0)
    dark = params.polarity == "dark" or (params.polarity == "auto" and objects_are_dark(gray))
    if dark:
        gray = 1 - gray
    flat = subtract_background(gray, pixel_size_um, params.background_radius_um)
    px = pixel_size_um
    radii = np.asarray(params.blob_radii_um) / px
    sigmas = np.maximum(radii / np.sqrt(2), 0.7)
    smoothed = (
        ndi.gaussian_filter(flat, params.cell_presmooth_um / px)
        if params.cell_presmooth_um
        else flat
    )
    opened = ndi.grey_opening(smoothed, size=max(1, round(params.cell_opening_um / px)))
    log = np.max([scaled_log(flat, s, params.blob_downsample) for s in sigmas], axis=0)
    ridge = sato(
        flat, sigmas=[max(s / px, 0.7) for s in params.fiber_sigmas_um], black_ridges=False
    )
    return Responses(
        pixel_size_um=px,
        cell=robust_z(
            ndi.gaussian_filter(opened, params.cell_sigma_um / px),
            params.cell_min_mad,
            params.cell_zero_percentile,
        ),
        ridge=robust_z(ridge),
        blob=robust_z(log),
        bright=robust_z(ndi.gaussian_filter(flat, params.bright_sigma_um / px)),
    )


def disc_like(ids: np.ndarray, max_diameter_px: float, max_elongation: float) -> np.ndarray:
    """Per id of ``ids`` (Y, X): whether the object is a disc no wider than ``max_diameter_px``
    (its area over the area of its largest inscribed disc at most ``max_elongation``)."""
    inside = ids > 0
    inscribed = np.zeros(ids.max() + 1)
    np.maximum.at(inscribed, ids[inside], ndi.distance_transform_edt(inside)[inside])
    area = np.bincount(ids.ravel(), minlength=len(inscribed))
    elongation = area / np.maximum(np.pi * inscribed**2, 1e-9)
    disc = (area <= np.pi * (max_diameter_px / 2) ** 2) & (elongation <= max_elongation)
    border = np.unique(np.concatenate([ids[0], ids[-1], ids[:, 0], ids[:, -1]]))
    disc[border] = False  # cut by the frame: its shape is unknown
    disc[0] = False
    return disc


def cell_mask(resp: Responses, params: ClassicalParams) -> np.ndarray:
    """Cells: thresholded ``cell`` response, holes filled, small components dropped (and, with
    ``cells_are_not_discs``, components shaped like a migrasome)."""
    min_area = params.cell_min_area_um2 / resp.pixel_size_um**2
    ids = decode_instances(resp.cell > params.cell_z, min_area)
    if params.cells_are_not_discs and ids.max():
        ids[disc_like(ids, params.max_diameter_um / resp.pixel_size_um, 1.6)[ids]] = 0
    return ids > 0


def migrasome_ids(resp: Responses, params: ClassicalParams, cells: np.ndarray) -> np.ndarray:
    """Migrasome instances: bright objects outside cells (``bright`` > ``migrasome_z``, ring
    lumens filled) that are blob-like (peak LoG response ≥ ``blob_z``), touching ones split by
    a distance-map watershed; none larger than ``max_diameter_um`` or more elongated than
    ``max_elongation`` (area over the area of its largest inscribed disc: 1 for a disc,
    large for a bright fiber segment)."""
    px = resp.pixel_size_um
    max_area = np.pi * (params.max_diameter_um / px / 2) ** 2
    bright = resp.bright > params.migrasome_z
    if params.outline_um > 0:
        # membrane outlines (sections) are ridges: close their gaps, fill them, then open away
        # what is thinner than ``outline_um`` (fibers, stray ridges)
        r = max(1, round(params.outline_um / px))
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        disc = yy**2 + xx**2 <= r * r
        outlines = ndi.binary_closing(resp.ridge > params.migrasome_z, disc)
        filled = fill_small_holes(outlines | bright, max_area)
        bright = ndi.binary_opening(filled, disc)
    bright = fill_small_holes(bright & ~cells, max_area)
    components, n = ndi.label(bright, structure=EIGHT_CONNECTED)
    peak = np.full(n + 1, -np.inf)
    np.maximum.at(peak, components[bright], resp.blob[bright])
    blobs = (peak >= params.blob_z)[components] & bright
    min_area = np.pi * (params.min_diameter_um / px / 2) ** 2
    ids = decode_instances(blobs, min_area, params.split_h_um / px)
    inside = ids > 0
    inscribed = np.zeros(ids.max() + 1)
    np.maximum.at(inscribed, ids[inside], ndi.distance_transform_edt(inside)[inside])
    area = np.bincount(ids.ravel(), minlength=len(inscribed))
    elongation = area / np.maximum(np.pi * inscribed**2, 1e-9)
    ids[((area > max_area) | (elongation > params.max_elongation))[ids]] = 0
    return ids


def fiber_mask(resp: Responses, params: ClassicalParams, exclude: np.ndarray) -> np.ndarray:
    """Fibers: hysteresis on the ridge response outside ``exclude`` (cells, migrasomes), short
    fragments dropped."""
    ridges = apply_hysteresis_threshold(resp.ridge, params.fiber_low_z, params.fiber_high_z)
    ridges &= ~exclude
    return drop_small_components(ridges, params.fiber_min_length_um / resp.pixel_size_um)


def fiber_exclusion(
    resp: Responses, params: ClassicalParams, cells: np.ndarray, ids: np.ndarray
) -> np.ndarray:
    """Where fibers are not looked for: cells, and migrasomes grown by ``fiber_margin_um`` (the
    ridge filter rings around bright discs)."""
    margin = params.fiber_margin_um / resp.pixel_size_um
    return cells | (ndi.distance_transform_edt(ids == 0) <= margin)


def segment_responses(resp: Responses, params: ClassicalParams) -> tuple[np.ndarray, np.ndarray]:
    """Class ids (Y, X) uint8 and migrasome ids (Y, X) int32 from precomputed responses.

    Overlaps resolve as in the annotations: migrasome > cell > fiber.
    """
    cells = cell_mask(resp, params)
    ids = migrasome_ids(resp, params, cells)
    fibers = fiber_mask(resp, params, fiber_exclusion(resp, params, cells, ids))
    labels = np.zeros(ids.shape, np.uint8)
    labels[fibers] = FIBER
    labels[cells] = CELL
    labels[ids > 0] = MIGRASOME
    return labels, ids


def segment(
    image: np.ndarray, pixel_size_um: float, params: ClassicalParams
) -> tuple[np.ndarray, np.ndarray]:
    """Segment a raw image (C, Y, X): class ids (Y, X) uint8 and migrasome ids (Y, X) int32."""
    return segment_responses(compute_responses(image, pixel_size_um, params), params)
