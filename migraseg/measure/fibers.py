"""Retraction-fiber skeletons, and where a migrasome sits on them (their length:
:func:`migraseg.metrics.centerline.skeleton_length_map`).

A migrasome's site (:data:`migraseg.constants.SITES`, the simulator's vocabulary) is read off
the fiber skeleton around it: the number of fiber *arms* that leave it (connected pieces of
skeleton in a thin ring around the outline of the migrasome, or of the cluster of touching
migrasomes it is part of) is 0 when it is ``detached``, 1 at a fiber ``tip``, 2 ``along`` a
fiber and 3 or more at a ``branch`` point.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import label
from skimage.morphology import disk, skeletonize

from migraseg.constants import FIBER

SITE_BY_ARMS = ("detached", "tip", "along", "branch")  # 0, 1, 2, ≥ 3 arms
RING_UM = 0.3  # how far from a migrasome's outline fiber arms are looked for


def fiber_skeleton(labels: np.ndarray) -> np.ndarray:
    """One-pixel-wide skeleton (Y, X) bool of the fiber class of a label image."""
    return skeletonize(labels == FIBER)


def ring_px(pixel_size_um: float) -> int:
    return max(2, round(RING_UM / pixel_size_um))


def count_arms(group: np.ndarray, skeleton: np.ndarray, ring: int) -> int:
    """Fiber arms leaving a migrasome, or the cluster of touching migrasomes it belongs to.

    A cluster (two vesicles grown at one fiber tip) shares its site: both are at the tip.

    Args:
        group: (h, w) bool mask of the migrasome's cluster, with ``ring`` px of margin if it can.
        skeleton: (h, w) bool fiber skeleton on the same crop.
        ring: ring width in px.
    """
    around = ndi.binary_dilation(group, structure=disk(ring)) & ~group
    return int(label(skeleton & around, connectivity=2).max())


def site_of(arms: int) -> str:
    """``detached`` (0 arms), ``tip`` (1), ``along`` (2), ``branch`` (≥ 3)."""
    return SITE_BY_ARMS[min(arms, 3)]
