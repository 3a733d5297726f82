"""Smooth random fields and blurs shared by the renderers (OpenCV for speed).

Wide blurs and smooth noise are computed on a coarse grid and upsampled bilinearly: a field
smooth over σ pixels loses nothing at a grid step of σ/3, and a 512² image then costs a few
milliseconds instead of tens.
"""

from __future__ import annotations

import cv2
import numpy as np


def blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur of a float32 (Y, X) image with σ in pixels (reflecting borders)."""
    if sigma_px <= 0:
        return image
    step = int(sigma_px // 4)
    if step < 2:
        return cv2.GaussianBlur(image, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT)
    h, w = image.shape
    small = cv2.resize(image, (max(w // step, 1), max(h // step, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / step, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """Zero-mean, unit-s.d. float32 noise correlated over ``sigma_px`` pixels, shape (Y, X)."""
    step = max(1, int(sigma_px // 3))
    coarse = (shape[0] // step + 2, shape[1] // step + 2)
    field = rng.standard_normal(coarse, dtype=np.float32)
    field = cv2.GaussianBlur(field, (0, 0), sigma_px / step, borderType=cv2.BORDER_REFLECT)
    if step > 1:
        field = cv2.resize(
            field, (coarse[1] * step, coarse[0] * step), interpolation=cv2.INTER_LINEAR
        )
    field = field[: shape[0], : shape[1]]
    return (field - field.mean()) / (field.std() + 1e-6)


def illumination(rng: np.random.Generator, shape: tuple[int, int], falloff: float) -> np.ndarray:
    """Uneven illumination: 1 at a random point near the centre, down by ``falloff`` at corners."""
    h, w = shape
    cy, cx = rng.uniform(0.35, 0.65) * h, rng.uniform(0.35, 0.65) * w
    yy, xx = np.ogrid[:h, :w]
    rho2 = ((yy - cy) / h) ** 2 + ((xx - cx) / w) ** 2
    return (1 - falloff * rho2 / rho2.max()).astype(np.float32)


def puncta_field(
    rng: np.random.Generator,
    shape: tuple[int, int],
    per_px: float,
    sigmas_px: tuple[float, ...],
) -> np.ndarray:
    """Randomly placed bright spots, shape (Y, X) float32: ``per_px`` spots per pixel.

    Spots are Gaussians of each σ in ``sigmas_px`` in turn, each of peak ~1 times an
    exponentially distributed brightness (mean 1, at most 3).
    """
    out = np.zeros(shape, np.float32)
    for sigma in sigmas_px:
        n = int(rng.poisson(per_px * shape[0] * shape[1] / len(sigmas_px)))
        points = np.zeros(shape, np.float32)
        rows, cols = rng.integers(0, shape[0], n), rng.integers(0, shape[1], n)
        np.add.at(points, (rows, cols), np.minimum(rng.exponential(1.0, n), 3).astype(np.float32))
        out += blur(points, sigma) * np.float32(2 * np.pi * max(sigma, 0.5) ** 2)
    return out
