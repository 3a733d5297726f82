"""Centerline metrics for thin structures (retraction fibers), where pixel Dice misleads.

A 1–3 px fiber shifted by one pixel loses most of its Dice while a biologist sees the same
fiber. These metrics compare skeletons instead:

- clDice (Shit et al., CVPR 2021): harmonic mean of topology precision (fraction of the
  predicted skeleton inside the true mask) and topology sensitivity (fraction of the true
  skeleton inside the predicted mask).
- Skeleton precision/recall within a tolerance: the fraction of predicted skeleton pixels
  within ``tolerance`` of the true skeleton, and vice versa (road-extraction "correctness" and
  "completeness").
- Total length of the skeleton in µm, and the number of connected components (Betti-0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree
from skimage.morphology import skeletonize

from migraseg.postprocess import EIGHT_CONNECTED


def _cl_dice(skel_pred: np.ndarray, skel_truth: np.ndarray, pred, truth) -> float:
    if not pred.any() and not truth.any():
        return float("nan")
    if not pred.any() or not truth.any():
        return 0.0
    t_prec = (skel_pred & truth).sum() / max(skel_pred.sum(), 1)
    t_sens = (skel_truth & pred).sum() / max(skel_truth.sum(), 1)
    return float(2 * t_prec * t_sens / (t_prec + t_sens)) if t_prec + t_sens else 0.0


def cl_dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """clDice of two binary masks (Y, X); NaN if both are empty, 0 if exactly one is."""
    pred, truth = pred.astype(bool), truth.astype(bool)
    return _cl_dice(skeletonize(pred), skeletonize(truth), pred, truth)


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[y, x] = mask[y + dy, x + dx]``, False outside."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]


def skeleton_length_map(skeleton: np.ndarray) -> np.ndarray:
    """Each skeleton pixel's share (px) of the skeleton's length; sum it over any region.

    Neighbouring skeleton pixels are joined by steps of 1 (edge neighbours) or √2 (corner
    neighbours, unless an edge neighbour of both already joins them, so an L-shaped corner
    counts 2, not 2 + √2); each pixel takes half of each of its steps. A straight line of n
    pixels measures n − 1. The map (not only its sum) lets strips of a huge frame add up
    their own rows exactly.

    Shape: skeleton (Y, X) bool → (Y, X) float32 px.
    """
    skeleton = skeleton.astype(bool)
    length = np.zeros(skeleton.shape, np.float32)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        length += 0.5 * (skeleton & _shift(skeleton, dy, dx))
    for dy, dx in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        step = skeleton & _shift(skeleton, dy, dx)
        step &= ~_shift(skeleton, dy, 0) & ~_shift(skeleton, 0, dx)
        length += 0.5 * np.sqrt(2) * step
    return length * skeleton


def skeleton_length_um(skeleton: np.ndarray, pixel_size_um: float) -> float:
    """Length (µm) of a one-pixel-wide skeleton (Y, X): :func:`skeleton_length_map` summed."""
    return float(skeleton_length_map(skeleton).sum(dtype=np.float64)) * pixel_size_um


def points_within(points: np.ndarray, reference: np.ndarray, tolerance_px: float) -> int:
    """How many of ``points`` (n, 2) lie within ``tolerance_px`` of any ``reference`` point."""
    if not len(points) or not len(reference):
        return 0
    distance, _ = cKDTree(reference).query(points, distance_upper_bound=tolerance_px + 1e-9)
    return int(np.isfinite(distance).sum())


def count_components(mask: np.ndarray) -> int:
    """Betti-0: number of 8-connected components of a binary mask (Y, X)."""
    return int(ndi.label(mask, structure=EIGHT_CONNECTED)[1])


@dataclass(frozen=True)
class FiberScores:
    """Centerline statistics of one image; counts add over images (pooled ratios)."""

    cldice: float
    skeleton_pred_px: int  # predicted skeleton pixels
    skeleton_pred_hits: int  # ... within tolerance of the true skeleton
    skeleton_true_px: int
    skeleton_true_hits: int  # true skeleton pixels within tolerance of the predicted skeleton
    length_pred_um: float
    length_true_um: float
    components_pred: int
    components_true: int


def fiber_scores(
    pred: np.ndarray, truth: np.ndarray, pixel_size_um: float, tolerance_um: float
) -> FiberScores:
    """clDice, skeleton hits within ``tolerance_um``, lengths (µm) and Betti-0 of two masks.

    Shape: pred, truth (Y, X) bool fiber masks.
    """
    pred, truth = pred.astype(bool), truth.astype(bool)
    skel_pred, skel_truth = skeletonize(pred), skeletonize(truth)
    pts_pred, pts_truth = np.argwhere(skel_pred), np.argwhere(skel_truth)
    tolerance_px = tolerance_um / pixel_size_um
    return FiberScores(
        cldice=_cl_dice(skel_pred, skel_truth, pred, truth),
        skeleton_pred_px=len(pts_pred),
        skeleton_pred_hits=points_within(pts_pred, pts_truth, tolerance_px),
        skeleton_true_px=len(pts_truth),
        skeleton_true_hits=points_within(pts_truth, pts_pred, tolerance_px),
        length_pred_um=skeleton_length_um(skel_pred, pixel_size_um),
        length_true_um=skeleton_length_um(skel_truth, pixel_size_um),
        components_pred=count_components(pred),
        components_true=count_components(truth),
    )
