"""Does the model fit the image? Warnings for a pixel size far from the model's, and for an
image whose intensities look like the other modality (a confocal model on a micrograph).

Confocal images show bright objects on a dark background: most pixels sit near the bottom of
the intensity range and the histogram has a long bright tail (positive skewness). TEM
micrographs mostly show dark, stained objects on a light background: the tail points to the
dark end. On 20 simulated confocal images (presets ``confocal`` and ``confocal_generalist``) the
skewness of the percentile-normalised intensities was 1.1–4.5 with the median at 0.06–0.23 of the
range; on 20 TEM images (``tem``, ``tem_generalist``) it was -2.1–2.3 with the median at
0.07–0.77 (negative stain and windows inside a cell look confocal-like). The rules below warn on
none of the confocal images and on 14 of the TEM ones for a confocal model, and on 15 of the
confocal images and 1 TEM image for a TEM model (docs/inference.md).
"""

from __future__ import annotations

import numpy as np

MAX_PIXEL_RATIO = 4.0  # warn beyond this factor between the file's and the model's pixel size
SAMPLE_SIDE = 1024  # statistics on at most about this many px per side (strided)
CONFOCAL_MAX_SKEW = -0.25  # a confocal model warns below: dark objects on a light background
# (not at 0: an empty field of noise has a skewness near 0)
TEM_MIN_SKEW = 1.5  # a TEM model warns above, with the median below TEM_MAX_MEDIAN
TEM_MAX_MEDIAN = 0.2


def pixel_size_warning(pixel_size_um: float, model_um: float) -> str | None:
    """A warning when the pixel size is more than :data:`MAX_PIXEL_RATIO` × off the model's."""
    ratio = pixel_size_um / model_um
    if 1 / MAX_PIXEL_RATIO <= ratio <= MAX_PIXEL_RATIO:
        return None
    times = f"{ratio:.1f}× larger" if ratio > 1 else f"{1 / ratio:.1f}× smaller"
    return (
        f"pixel size {pixel_size_um:g} µm is {times} than the model's {model_um:g} µm: this model "
        "was trained on another magnification (or modality); check the pixel size or use a model "
        "made for these images"
    )


def intensity_shape(image: np.ndarray) -> tuple[float, float]:
    """(skewness, median) of the intensities stretched to [0, 1] between their 1st and 99.8th
    percentiles: robust to offsets, gain, bit depth and a few hot pixels."""
    values = image.astype(np.float64).ravel()
    values = values[np.isfinite(values)]
    low, high = np.percentile(values, [1.0, 99.8])
    if high <= low:
        return 0.0, 0.0
    z = np.clip((values - low) / (high - low), 0.0, 1.0)
    centred = z - z.mean()
    spread = centred.std()
    skew = float((centred**3).mean() / spread**3) if spread > 0 else 0.0
    return skew, float(np.median(z))


def modality_warning(image: np.ndarray, modality: str) -> str | None:
    """A warning when ``image`` (Y, X) looks like the other modality than the model's."""
    skew, median = intensity_shape(image)
    stats = f"(intensity skewness {skew:+.1f}, median at {median:.0%} of the range)"
    if modality == "confocal" and skew < CONFOCAL_MAX_SKEW:
        return (
            f"the image shows dark objects on a light background {stats}, like an electron "
            "micrograph, but the model is a confocal (fluorescence) model; use a TEM model"
        )
    if modality == "tem" and skew > TEM_MIN_SKEW and median < TEM_MAX_MEDIAN:
        return (
            f"the image shows bright objects on a dark background {stats}, like a fluorescence "
            "image, but the model is a TEM model; use a confocal model"
        )
    return None
