"""Centerline metrics for thin structures (retraction fibers), where pixel Dice misleads.

clDice (Shit et al., CVPR 2021): the harmonic mean of topology precision (fraction of the
predicted skeleton inside the true mask) and topology sensitivity (fraction of the true
skeleton inside the predicted mask).
"""

from __future__ import annotations

import numpy as np
from skimage.morphology import skeletonize


def cl_dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """clDice of two binary masks (Y, X); NaN if both are empty, 0 if exactly one is."""
    pred, truth = pred.astype(bool), truth.astype(bool)
    if not pred.any() and not truth.any():
        return float("nan")
    if not pred.any() or not truth.any():
        return 0.0
    skel_pred, skel_truth = skeletonize(pred), skeletonize(truth)
    t_prec = (skel_pred & truth).sum() / max(skel_pred.sum(), 1)
    t_sens = (skel_truth & pred).sum() / max(skel_truth.sum(), 1)
    return float(2 * t_prec * t_sens / (t_prec + t_sens)) if t_prec + t_sens else 0.0
