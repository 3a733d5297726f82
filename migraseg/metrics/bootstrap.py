"""Bootstrap over images, vectorised as weight matrices.

A bootstrap resample of N images is a row of multiplicities (how often each image was drawn).
Every set-level metric is written as a function of such a weight matrix W (B, N): pooled ratios
become ``(W @ num) / (W @ den)``, means over images ``(W @ x) / (W @ 1)``, and quantiles over
objects weighted quantiles. The point estimate is the same function at W = 1, and two models
scored on the same resamples give paired differences for free.
"""

from __future__ import annotations

import numpy as np


def bootstrap_weights(n_images: int, n_resamples: int, seed: int = 0) -> np.ndarray:
    """(n_resamples, n_images) float64 multiplicities of images drawn with replacement."""
    rng = np.random.default_rng(seed)
    if n_images == 0:
        return np.zeros((n_resamples, 0))
    draws = rng.integers(0, n_images, size=(n_resamples, n_images))
    offsets = np.arange(n_resamples)[:, None] * n_images
    counts = np.bincount((draws + offsets).ravel(), minlength=n_resamples * n_images)
    return counts.reshape(n_resamples, n_images).astype(np.float64)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, NaN where den is 0."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


def pooled(weights: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Ratio of weighted sums over images: (B, N), (N,), (N,) → (B,)."""
    return ratio(weights @ num, weights @ den)


def mean_over_images(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Weighted mean of per-image values, skipping NaN (undefined) images: → (B,)."""
    values = np.asarray(values, np.float64)
    defined = np.isfinite(values)
    return ratio(weights @ np.where(defined, values, 0.0), weights @ defined)


def weighted_quantile(
    weights: np.ndarray, values: np.ndarray, image_of: np.ndarray, q: float
) -> np.ndarray:
    """Quantile ``q`` of object values, each counted as often as its image was drawn.

    Equals ``np.quantile(np.repeat(values, w), q)`` (linear interpolation) for every row w of
    ``weights[:, image_of]``.

    Shape: weights (B, N); values, image_of (P,) → (B,); NaN where no object was drawn.
    """
    n_rows = weights.shape[0]
    if values.size == 0:
        return np.full(n_rows, np.nan)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    cumulative = np.cumsum(weights[:, image_of[order]], axis=1)
    total = cumulative[:, -1]
    position = q * np.maximum(total - 1, 0)
    low = np.floor(position)
    high = np.minimum(low + 1, np.maximum(total - 1, 0))
    i_low = (cumulative > low[:, None]).argmax(axis=1)
    i_high = (cumulative > high[:, None]).argmax(axis=1)
    result = ordered[i_low] + (position - low) * (ordered[i_high] - ordered[i_low])
    return np.where(total > 0, result, np.nan)


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of replicates (B,), ignoring undefined (NaN) resamples."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size < 0.5 * replicates.size or finite.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, (tail, 100 - tail))
    return float(low), float(high)
