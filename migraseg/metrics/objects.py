"""Object-level matching of instance label images (Hungarian matching on IoU, as StarDist).

Example:
    Two discs in truth, one predicted exactly and one missed, plus one spurious prediction:
    ``match_instances(truth, pred, 0.5)`` gives tp=1, fp=1, fn=1, precision=recall=f1=0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

# IoU thresholds of the COCO-style mean F1 (0.50, 0.55, ..., 0.95).
IOU_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


@dataclass(frozen=True)
class InstanceOverlaps:
    """Areas and pairwise IoU of the true and predicted instances of one image.

    Instances are listed in increasing order of their ids; ``*_index`` fields of a
    :class:`Matching` index into these arrays.
    """

    true_ids: np.ndarray  # (n_true,) ids as in the truth image
    pred_ids: np.ndarray  # (n_pred,)
    true_areas_px: np.ndarray  # (n_true,) int64
    pred_areas_px: np.ndarray  # (n_pred,)
    iou: np.ndarray  # (n_true, n_pred) float64


@dataclass(frozen=True)
class Matching:
    """Result of matching predicted to true instances at one IoU threshold."""

    threshold: float
    n_true: int
    n_pred: int
    true_index: np.ndarray  # matched true instances (0-based, into InstanceOverlaps arrays)
    pred_index: np.ndarray  # matched predicted instances, aligned with true_index
    ious: np.ndarray  # IoU of each matched pair

    @property
    def tp(self) -> int:
        return len(self.true_index)

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


def _dense_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nonzero ids present in ``values`` and each value's index (0 = background, i = ids[i-1])."""
    ids, inverse = np.unique(values, return_inverse=True)
    if ids.size and ids[0] == 0:
        return ids[1:], inverse
    return ids, inverse + 1


def instance_overlaps(truth: np.ndarray, pred: np.ndarray) -> InstanceOverlaps:
    """Areas and IoU of every true/predicted instance pair; ids need not be sequential.

    Only foreground pixels are visited, so sparse objects in large images are cheap.

    Shape: truth, pred (Y, X) integer instance ids, 0 = background.
    """
    if truth.shape != pred.shape:
        raise ValueError(f"truth shape {truth.shape} != prediction shape {pred.shape}")
    truth, pred = truth.ravel(), pred.ravel()
    foreground = np.flatnonzero((truth != 0) | (pred != 0))
    true_ids, t = _dense_ids(truth[foreground])
    pred_ids, p = _dense_ids(pred[foreground])
    n_true, n_pred = len(true_ids), len(pred_ids)
    overlap = np.bincount(
        t.astype(np.int64) * (n_pred + 1) + p, minlength=(n_true + 1) * (n_pred + 1)
    ).reshape(n_true + 1, n_pred + 1)
    area_true, area_pred = overlap.sum(1)[1:], overlap.sum(0)[1:]
    inter = overlap[1:, 1:]
    union = area_true[:, None] + area_pred[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros(inter.shape), where=union > 0)
    return InstanceOverlaps(true_ids, pred_ids, area_true, area_pred, iou)


def match_overlaps(overlaps: InstanceOverlaps, threshold: float) -> Matching:
    """One-to-one matching maximising total IoU among pairs with IoU ≥ ``threshold``.

    For thresholds above 0.5 the matching is unique (IoU > 0.5 admits at most one partner);
    at or below it the Hungarian assignment picks the best set.
    """
    iou = overlaps.iou
    n_true, n_pred = iou.shape
    rows = cols = np.zeros(0, np.int64)
    eligible = iou >= threshold
    if eligible.any():
        rows, cols = linear_sum_assignment(-np.where(eligible, iou, 0.0))
        keep = eligible[rows, cols]
        rows, cols = rows[keep], cols[keep]
    return Matching(threshold, n_true, n_pred, rows, cols, iou[rows, cols])


def match_at_thresholds(
    truth: np.ndarray, pred: np.ndarray, thresholds: tuple[float, ...]
) -> list[Matching]:
    """:func:`match_instances` at several thresholds, sharing one IoU matrix."""
    overlaps = instance_overlaps(truth, pred)
    return [match_overlaps(overlaps, t) for t in thresholds]


def match_instances(truth: np.ndarray, pred: np.ndarray, threshold: float = 0.5) -> Matching:
    """Match instances of two label images (Y, X) one-to-one on IoU ≥ ``threshold``."""
    return match_at_thresholds(truth, pred, (threshold,))[0]


def drop_ignored_objects(
    ids: np.ndarray, ignored: np.ndarray, max_fraction: float = 0.5
) -> np.ndarray:
    """``ids`` without the instances lying mostly (> ``max_fraction`` of their pixels) in
    ``ignored`` (unannotated) pixels: such a prediction is neither right nor wrong.

    Shape: ids (Y, X) instance ids, 0 = background; ignored (Y, X) bool → (Y, X) like ids.
    """
    if ids.shape != ignored.shape:
        raise ValueError(f"ids shape {ids.shape} != ignored shape {ignored.shape}")
    foreground = ids != 0
    if not (ignored & foreground).any():
        return ids
    values, inverse = np.unique(ids[foreground], return_inverse=True)
    area = np.bincount(inverse, minlength=len(values))
    inside = np.bincount(inverse, weights=ignored[foreground], minlength=len(values))
    drop = values[inside > max_fraction * area]
    return np.where(np.isin(ids, drop), 0, ids).astype(ids.dtype, copy=False)


def equivalent_diameter_um(areas_px: np.ndarray, pixel_size_um: float) -> np.ndarray:
    """Diameter of the disc with each area: 2·√(area/π) pixels, in µm."""
    return 2.0 * np.sqrt(np.asarray(areas_px, np.float64) / np.pi) * pixel_size_um
