"""Stage drift between the frames of a time-lapse, by phase correlation.

Fibers and migrasomes stick to the dish while cells crawl, so the drift is measured on the
predicted fiber and migrasome pixels, not on the image: moving cells, photobleaching and focus
changes then do not pull the estimate. Each frame is registered to the one before on a grid of at
most ``MAX_SIDE`` px per side (block maxima, so thin fibers survive), and the shifts add up. Only
the previous frame's small mask is held, whatever the length of the stack.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.measure import block_reduce
from skimage.registration import phase_cross_correlation

from migraseg.constants import FIBER, MIGRASOME

MAX_SIDE = 1024
UPSAMPLE = 4  # sub-pixel precision of a shift: 1/UPSAMPLE of a grid pixel


class DriftEstimator:
    """Offsets that map each frame's pixel coordinates onto the first frame's, frame by frame."""

    def __init__(self) -> None:
        self.previous: np.ndarray | None = None
        self.offset = np.zeros(2)  # (dy, dx) px to add to this frame's coordinates

    def update(self, labels: np.ndarray) -> tuple[float, float]:
        """Register the next frame's labels (Y, X) and return its (dy, dx) offset in px."""
        factor = max(1, math.ceil(max(labels.shape) / MAX_SIDE))
        bound = np.isin(labels, (FIBER, MIGRASOME))
        grid = block_reduce(bound, (factor, factor), np.max).astype(np.float32)
        if self.previous is not None and grid.any() and self.previous.any():
            shift, _, _ = phase_cross_correlation(
                self.previous, grid, upsample_factor=UPSAMPLE, normalization=None
            )
            self.offset = self.offset + np.asarray(shift) * factor
        self.previous = grid
        return float(self.offset[0]), float(self.offset[1])
