"""Score predicted label images against truth: per image, then pooled over a set.

Pure NumPy. Pixel counts and object matches are summed over images before ratios are taken
(pooled), clDice and count errors are averaged over images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from migraseg.constants import CLASS_NAMES, FIBER, FOREGROUND_CLASSES
from migraseg.metrics.centerline import cl_dice
from migraseg.metrics.objects import match_instances
from migraseg.metrics.pixel import class_counts, scores_from_counts

IOU_THRESHOLD = 0.5


def score_image(
    pred_labels: np.ndarray, pred_ids: np.ndarray, truth_labels: np.ndarray, truth_ids: np.ndarray
) -> dict[str, Any]:
    """Raw per-image scores: class counts, fiber clDice and migrasome matching at IoU 0.5.

    Shapes: all (Y, X); labels are class ids, ids are migrasome instance ids (0 = none).
    """
    match = match_instances(truth_ids, pred_ids, IOU_THRESHOLD)
    return {
        "counts": class_counts(pred_labels, truth_labels).tolist(),
        "fiber_cldice": cl_dice(pred_labels == FIBER, truth_labels == FIBER),
        "migrasome": {
            "tp": match.tp,
            "fp": match.fp,
            "fn": match.fn,
            "n_true": match.n_true,
            "n_pred": match.n_pred,
        },
    }


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if v == v]
    return float(np.mean(finite)) if finite else float("nan")


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pool per-image scores into per-class metrics and the headline numbers."""
    counts = (
        np.sum([r["counts"] for r in rows], axis=0) if rows else np.zeros((len(CLASS_NAMES), 3))
    )
    scores = scores_from_counts(np.asarray(counts))
    classes = {
        CLASS_NAMES[c]: {k: float(v[c]) for k, v in scores.items()} for c in FOREGROUND_CLASSES
    }
    tp, fp, fn = (sum(r["migrasome"][k] for r in rows) for k in ("tp", "fp", "fn"))
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    count_errors = [r["migrasome"]["n_pred"] - r["migrasome"]["n_true"] for r in rows]
    classes["retraction_fiber"]["cldice"] = _nanmean([r["fiber_cldice"] for r in rows])
    classes["migrasome"].update(
        {
            "precision@0.5": precision,
            "recall@0.5": recall,
            "f1@0.5": f1,
            "count_mae": float(np.mean(np.abs(count_errors))) if rows else float("nan"),
            "count_bias": float(np.mean(count_errors)) if rows else float("nan"),
        }
    )
    headline = {
        "cell.dice": classes["cell"]["dice"],
        "retraction_fiber.dice": classes["retraction_fiber"]["dice"],
        "retraction_fiber.cldice": classes["retraction_fiber"]["cldice"],
        "migrasome.dice": classes["migrasome"]["dice"],
        "migrasome.f1@0.5": f1,
        "migrasome.precision@0.5": precision,
        "migrasome.recall@0.5": recall,
        "migrasome.count_mae": classes["migrasome"]["count_mae"],
    }
    return {"n_images": len(rows), "headline": headline, "classes": classes}
