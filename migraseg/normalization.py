"""Intensity normalisation shared by training, inference and exported models' metadata."""

from __future__ import annotations

import numpy as np

DEFAULT_PERCENTILES = (1.0, 99.8)
_MAX_SAMPLES = 4_000_000  # percentiles of huge images from a regular subsample


def percentile_normalize(image: np.ndarray, low: float = 1.0, high: float = 99.8) -> np.ndarray:
    """Scale each channel so its ``low``/``high`` percentiles map to 0/1 (values not clipped).

    Shape: image (C, Y, X), any dtype → float32 (C, Y, X). Percentiles of images larger than
    4 MP are taken on a regular subsample, which changes them by far less than the noise.
    """
    out = np.empty(image.shape, np.float32)
    for c, channel in enumerate(image):
        step = max(1, int(np.sqrt(channel.size / _MAX_SAMPLES)))
        lo, hi = np.percentile(channel[::step, ::step], (low, high))
        out[c] = (channel.astype(np.float32) - lo) / max(float(hi - lo), 1e-6)
    return out
