"""Intensity normalisation: the one implementation that training, inference and packages share.

Each channel is mapped so that its ``low``/``high`` percentiles become 0/1 (values not clipped):
``(x − p_low) / (p_high − p_low + ε)`` with ε = 1e-6, exactly bioimage.io's ``scale_range``, so
a published package normalises as migraseg does. Percentiles are always taken on the image's
*own* pixel grid, before any rescaling to the model's pixel size: a streamed image far larger
than memory can afford only that (a regular subsample of the raw frame), and training does the
same so that the network sees identically normalised inputs in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_PERCENTILES = (1.0, 99.8)
EPS = 1e-6  # bioimage.io scale_range's default eps; packages state it explicitly
MAX_PERCENTILE_SAMPLES = 4_000_000  # percentiles of larger images come from a regular subsample


def subsample_step(height: int, width: int) -> int:
    """Stride of the regular subsample percentiles are taken from: 1 up to 4 MP, then enough
    to keep about 4 MP (which moves them far less than the noise does)."""
    return max(1, int(np.sqrt(height * width / MAX_PERCENTILE_SAMPLES)))


@dataclass(frozen=True)
class PercentileScaling:
    """Per-channel ``(x − offset) / scale``; offset and scale are float32 (C, 1, 1)."""

    offset: np.ndarray
    scale: np.ndarray

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Normalise an image (C, Y, X) or any run of its rows, on any grid → float32."""
        return (image.astype(np.float32, copy=False) - self.offset) / self.scale


def percentile_scaling(
    sample: np.ndarray, low: float = DEFAULT_PERCENTILES[0], high: float = DEFAULT_PERCENTILES[1]
) -> PercentileScaling:
    """The scaling that maps each channel's percentiles to 0/1.

    Args:
        sample: (C, y, x) the raw image, or its regular subsample with :func:`subsample_step`.
        low, high: percentiles in 0–100.
    """
    lo, hi = np.percentile(sample.astype(np.float64, copy=False), (low, high), axis=(1, 2))
    return PercentileScaling(
        lo[:, None, None].astype(np.float32), (hi - lo + EPS)[:, None, None].astype(np.float32)
    )


def percentile_normalize(
    image: np.ndarray, low: float = DEFAULT_PERCENTILES[0], high: float = DEFAULT_PERCENTILES[1]
) -> np.ndarray:
    """Normalise a whole image with its own percentiles.

    Shape: image (C, Y, X), any dtype → float32 (C, Y, X).
    """
    step = subsample_step(*image.shape[1:])
    return percentile_scaling(image[:, ::step, ::step], low, high).apply(image)
