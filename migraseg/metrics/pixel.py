"""Per-class pixel overlap: counts once, then Dice, IoU, precision and recall from the counts.

Counts add across images, so pooled metrics are exact sums rather than means of ratios.
A class absent from both prediction and truth gives NaN (nnU-Net's convention), never 0 or 1.
Truth pixels equal to ``IGNORE_LABEL`` (255: not annotated) are left out of every count.
"""

from __future__ import annotations

import numpy as np

from migraseg.constants import IGNORE_LABEL, NUM_CLASSES
from migraseg.metrics.bootstrap import ratio


def class_counts(
    pred: np.ndarray,
    truth: np.ndarray,
    num_classes: int = NUM_CLASSES,
    ignore_index: int | None = IGNORE_LABEL,
) -> np.ndarray:
    """Per-class true positives, false positives and false negatives over the pixels whose
    truth is not ``ignore_index``.

    Shape: pred, truth (...) integer class ids → (num_classes, 3) int64 columns tp, fp, fn.
    """
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} != truth shape {truth.shape}")
    if ignore_index is not None:
        annotated = truth != ignore_index
        if not annotated.all():
            pred, truth = pred[annotated], truth[annotated]
    confusion = np.bincount(
        truth.astype(np.int64).ravel() * num_classes + pred.astype(np.int64).ravel(),
        minlength=num_classes**2,
    ).reshape(num_classes, num_classes)
    tp = np.diag(confusion)
    return np.stack([tp, confusion.sum(0) - tp, confusion.sum(1) - tp], axis=1)


def scores_from_counts(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Dice, IoU, precision and recall per class from (num_classes, 3) tp/fp/fn counts."""
    tp, fp, fn = (counts[:, i].astype(np.float64) for i in range(3))
    return {
        "dice": ratio(2 * tp, 2 * tp + fp + fn),
        "iou": ratio(tp, tp + fp + fn),
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
    }
