"""Linear resampling along one axis, applicable to any run of rows of a larger image.

The predictor rescales images to the model's pixel size and probabilities back, strip by strip,
so it needs resampling whose output rows depend only on a known, bounded range of input rows.
:class:`LinearResampler` gives exactly that: a strip with :meth:`~LinearResampler.input_range`'s
rows produces the same values as resampling the whole image at once.

Convention (that of ``skimage.transform.resize``): pixel centres are aligned, so output sample
``i`` reads input coordinate ``(i + 0.5) · n_in / n_out − 0.5``, clamped to the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

_TRUNCATE = 4.0  # Gaussian support in σ, as scipy's default


@dataclass(frozen=True)
class LinearResampler:
    """Linear interpolation from ``n_in`` to ``n_out`` samples along one axis.

    When shrinking and ``anti_alias`` is set, the input is first smoothed with a Gaussian of
    σ = (n_in / n_out − 1) / 2 input pixels (skimage's choice), which needs ``halo`` extra rows.
    """

    n_in: int
    n_out: int
    lo: np.ndarray  # (n_out,) int64 index of the left/upper input neighbour
    hi: np.ndarray  # (n_out,) int64 index of the right/lower input neighbour
    weight: np.ndarray  # (n_out,) float32 weight of ``hi``
    sigma: float

    @classmethod
    def create(cls, n_in: int, n_out: int, anti_alias: bool = True) -> LinearResampler:
        if n_in < 1 or n_out < 1:
            raise ValueError(f"cannot resample {n_in} samples to {n_out}")
        coord = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        coord = np.clip(coord, 0, n_in - 1)
        lo = np.floor(coord).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        sigma = max(0.0, (n_in / n_out - 1) / 2) if anti_alias else 0.0
        return cls(n_in, n_out, lo, hi, (coord - lo).astype(np.float32), sigma)

    @property
    def identity(self) -> bool:
        return self.n_in == self.n_out

    @property
    def halo(self) -> int:
        """Input rows the smoothing reads beyond the interpolation neighbours (scipy's radius)."""
        return int(_TRUNCATE * self.sigma + 0.5) if self.sigma else 0

    def input_range(self, out0: int, out1: int) -> tuple[int, int]:
        """Input rows ``[in0, in1)`` that outputs ``[out0, out1)`` depend on."""
        if self.identity:
            return out0, out1
        return (
            max(0, int(self.lo[out0]) - self.halo),
            min(self.n_in, int(self.hi[out1 - 1]) + 1 + self.halo),
        )

    def apply(self, data: np.ndarray, axis: int, out0: int, out1: int, in0: int) -> np.ndarray:
        """Outputs ``[out0, out1)`` along ``axis`` from ``data``, which holds input samples
        ``[in0, in0 + data.shape[axis])`` (at least :meth:`input_range`).

        Shape: any array; only ``axis`` changes length, to ``out1 - out0``. Returns float32.
        """
        if self.identity:
            index = [slice(None)] * data.ndim
            index[axis] = slice(out0 - in0, out1 - in0)
            return data[tuple(index)].astype(np.float32, copy=False)
        data = data.astype(np.float32, copy=False)
        if self.sigma:
            data = gaussian_filter1d(data, self.sigma, axis=axis, mode="mirror", truncate=_TRUNCATE)
        low = np.take(data, self.lo[out0:out1] - in0, axis=axis)
        high = np.take(data, self.hi[out0:out1] - in0, axis=axis)
        shape = [1] * data.ndim
        shape[axis] = out1 - out0
        weight = self.weight[out0:out1].reshape(shape)
        return low + (high - low) * weight

    def outputs_ready(self, in_end: int) -> int:
        """Number of leading outputs computable from input rows ``[0, in_end)`` (no smoothing)."""
        if self.identity:
            return min(in_end, self.n_out)
        return int(np.searchsorted(self.hi, in_end, side="left"))


def model_grid_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """(Y, X) after rescaling by ``scale`` (input pixel size / model pixel size), as resize."""
    if abs(scale - 1) <= 0.01:  # within 1 %: not worth an interpolation
        return shape
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def resample_image(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A whole image (C, Y, X) resampled to (C, *shape) float32, as the predictor's strips are
    (training uses it too, so that both feed the network identical pixels)."""
    rows = LinearResampler.create(image.shape[1], shape[0])
    cols = LinearResampler.create(image.shape[2], shape[1])
    return cols.apply(rows.apply(image, 1, 0, shape[0], 0), 2, 0, shape[1], 0)
