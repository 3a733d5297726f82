"""Sliding-window helpers: pure functions of shapes, no models."""

from __future__ import annotations

import numpy as np


def tile_starts(length: int, tile: int, overlap: float) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)``, overlapping by at least
    ``overlap`` (fraction of a tile); the last tile ends exactly at ``length``.

    Raises:
        ValueError: ``tile > length`` (pad first) or overlap outside [0, 1).
    """
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    if tile > length:
        raise ValueError(f"tile {tile} is larger than the axis {length}; pad the image first")
    if tile == length:
        return [0]
    step = max(1, int(tile * (1 - overlap)))
    n = int(np.ceil((length - tile) / step)) + 1
    return np.round(np.linspace(0, length - tile, n)).astype(int).tolist()


def gaussian_weights(
    height: int, width: int, sigma_scale: float = 0.125, floor: float = 1e-3
) -> np.ndarray:
    """(height, width) float32 weights peaking at 1 in the centre, never below ``floor``.

    Tile borders see less context, so their outputs count less where overlapping tiles blend.
    """

    def bell(n: int) -> np.ndarray:
        axis = np.arange(n, dtype=np.float64) - (n - 1) / 2
        return np.exp(-0.5 * (axis / (n * sigma_scale)) ** 2)

    weights = np.outer(bell(height), bell(width))
    return np.maximum(weights / weights.max(), floor).astype(np.float32)


def padded_size(size: int, multiple: int, minimum: int = 0) -> int:
    """Smallest multiple of ``multiple`` that is ≥ max(size, minimum)."""
    target = max(size, minimum)
    return int(np.ceil(target / multiple) * multiple)
