"""Object-level matching of instance label images (Hungarian matching on IoU, as StarDist).

Example:
    Two discs in truth, one predicted exactly and one missed, plus one spurious prediction:
    ``match_instances(truth, pred, 0.5)`` gives tp=1, fp=1, fn=1, precision=recall=f1=0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from skimage.segmentation import relabel_sequential


@dataclass(frozen=True)
class Matching:
    """Result of matching predicted to true instances at one IoU threshold."""

    threshold: float
    n_true: int
    n_pred: int
    tp: int
    true_ids: np.ndarray  # matched true instance ids (sequential, 1-based)
    pred_ids: np.ndarray  # matched predicted instance ids, aligned with true_ids
    ious: np.ndarray  # IoU of each matched pair

    @property
    def fp(self) -> int:
        return self.n_pred - self.tp

    @property
    def fn(self) -> int:
        return self.n_true - self.tp

    @property
    def precision(self) -> float:
        return self.tp / self.n_pred if self.n_pred else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / self.n_true if self.n_true else float("nan")

    @property
    def f1(self) -> float:
        total = self.n_true + self.n_pred
        return 2 * self.tp / total if total else float("nan")


def iou_matrix(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """IoU between every true and predicted instance.

    Shape: truth, pred (Y, X) sequential instance ids (0 = background)
    → (n_true + 1, n_pred + 1) float64; row/column 0 is background.
    """
    n_true, n_pred = int(truth.max(initial=0)), int(pred.max(initial=0))
    overlap = np.bincount(
        truth.astype(np.int64).ravel() * (n_pred + 1) + pred.astype(np.int64).ravel(),
        minlength=(n_true + 1) * (n_pred + 1),
    ).reshape(n_true + 1, n_pred + 1)
    area_true, area_pred = overlap.sum(1, keepdims=True), overlap.sum(0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(overlap / (area_true + area_pred - overlap))


def match_instances(truth: np.ndarray, pred: np.ndarray, threshold: float = 0.5) -> Matching:
    """Match instances one-to-one maximising total IoU; a pair counts if IoU ≥ ``threshold``.

    Ids need not be sequential. For thresholds ≥ 0.5 the matching is unique (IoU > 0.5 admits at
    most one partner); below it the Hungarian assignment picks the best set.
    """
    return match_at_thresholds(truth, pred, (threshold,))[0]


def match_at_thresholds(
    truth: np.ndarray, pred: np.ndarray, thresholds: tuple[float, ...]
) -> list[Matching]:
    """:func:`match_instances` at several thresholds, sharing one IoU matrix."""
    if truth.shape != pred.shape:
        raise ValueError(f"truth shape {truth.shape} != prediction shape {pred.shape}")
    truth = relabel_sequential(truth.astype(np.int64))[0]
    pred = relabel_sequential(pred.astype(np.int64))[0]
    iou = iou_matrix(truth, pred)[1:, 1:]
    n_true, n_pred = iou.shape
    results = []
    for threshold in thresholds:
        if n_true and n_pred:
            eligible = iou >= threshold
            rows, cols = linear_sum_assignment(-np.where(eligible, iou, 0.0))
            keep = eligible[rows, cols]
            rows, cols = rows[keep], cols[keep]
        else:
            rows = cols = np.zeros(0, np.int64)
        results.append(
            Matching(threshold, n_true, n_pred, len(rows), rows + 1, cols + 1, iou[rows, cols])
        )
    return results
