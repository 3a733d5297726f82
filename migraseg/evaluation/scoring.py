"""Score one predicted image against its truth: the per-image record of metrics.json.

Pure NumPy. A record holds counts and per-object lists rather than ratios, so that set-level
metrics (pooled over images, see :mod:`migraseg.evaluation.summary`) and their bootstrap
intervals can be computed from the records alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from migraseg.constants import CELL, FIBER, IGNORE_LABEL, MIGRASOME
from migraseg.metrics.centerline import fiber_scores
from migraseg.metrics.objects import (
    IOU_THRESHOLDS,
    drop_ignored_objects,
    equivalent_diameter_um,
    instance_overlaps,
    match_overlaps,
)
from migraseg.metrics.pixel import class_counts, scores_from_counts
from migraseg.postprocess import MIN_CELL_AREA_UM2, cell_instances

IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class ScoringSettings:
    """How images are scored (lengths in µm).

    Attributes:
        fiber_tolerance_um: a skeleton pixel counts as found within this distance (about one
            PSF width of a confocal).
        size_bin_edges_um: migrasome diameter bins for recall/precision by size.
        cell_min_area_um2: predicted cell components smaller than this are specks, not cells
            (small enough to keep cells cut by the image border).
    """

    fiber_tolerance_um: float = 0.25
    size_bin_edges_um: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0)
    cell_min_area_um2: float = MIN_CELL_AREA_UM2


def _rounded(values: np.ndarray, digits: int = 4) -> list[float]:
    return [round(float(v), digits) for v in values]


def _objects(truth_ids: np.ndarray, pred_ids: np.ndarray, pixel_size_um: float) -> dict[str, Any]:
    overlaps = instance_overlaps(truth_ids, pred_ids)
    matches = [match_overlaps(overlaps, t) for t in IOU_THRESHOLDS]
    main = matches[0]
    return {
        "n_true": main.n_true,
        "n_pred": main.n_pred,
        "tp": main.tp,
        "fp": main.fp,
        "fn": main.fn,
        "tp_by_iou": [m.tp for m in matches],
        "true_diameter_um": _rounded(equivalent_diameter_um(overlaps.true_areas_px, pixel_size_um)),
        "pred_diameter_um": _rounded(equivalent_diameter_um(overlaps.pred_areas_px, pixel_size_um)),
        "matched_true": main.true_index.tolist(),
        "matched_pred": main.pred_index.tolist(),
        "matched_iou": _rounded(main.ious),
    }


def score_image(
    pred_labels: np.ndarray,
    pred_ids: np.ndarray,
    truth_labels: np.ndarray,
    truth_ids: np.ndarray,
    pixel_size_um: float,
    truth_cells: np.ndarray | None = None,
    settings: ScoringSettings | None = None,
) -> dict[str, Any]:
    """Per-image record: class counts, fiber centerline scores, migrasome and cell matching.

    Args:
        pred_labels, truth_labels: (Y, X) class ids.
        pred_ids, truth_ids: (Y, X) migrasome instance ids, 0 = none.
        pixel_size_um: µm per pixel of these arrays.
        truth_cells: (Y, X) cell instance ids, or None when the dataset has none (then cell
            instance metrics are left out).
        settings: tolerances and bins.

    Truth pixels labelled ``IGNORE_LABEL`` (255, not annotated) are left out of the pixel
    counts and of the predicted fiber mask, and predicted migrasomes and cells lying mostly in
    them are not counted (neither right nor wrong).

    Returns:
        A JSON-ready dict (see the README's metrics.json schema, ``per_image``).
    """
    settings = settings or ScoringSettings()
    if pred_labels.shape != truth_labels.shape:
        raise ValueError(
            f"prediction shape {pred_labels.shape} != truth shape {truth_labels.shape}"
        )
    counts = class_counts(pred_labels, truth_labels)
    ignored = truth_labels == IGNORE_LABEL
    partial = bool(ignored.any())
    pred_fiber = pred_labels == FIBER
    if partial:
        pred_fiber &= ~ignored
        pred_ids = drop_ignored_objects(pred_ids, ignored)
    fibers = fiber_scores(
        pred_fiber, truth_labels == FIBER, pixel_size_um, settings.fiber_tolerance_um
    )
    migrasomes = _objects(truth_ids, pred_ids, pixel_size_um)
    cells = None
    if truth_cells is not None:
        pred_cells = cell_instances(pred_labels, pixel_size_um, settings.cell_min_area_um2)
        if partial:
            pred_cells = drop_ignored_objects(pred_cells, ignored)
        match = match_overlaps(instance_overlaps(truth_cells, pred_cells), IOU_THRESHOLD)
        cells = {"n_true": match.n_true, "n_pred": match.n_pred, "tp": match.tp}
    dice = scores_from_counts(counts)["dice"]
    n_objects = migrasomes["n_true"] + migrasomes["n_pred"]
    scores = {
        "cell.dice": float(dice[CELL]),
        "retraction_fiber.dice": float(dice[FIBER]),
        "retraction_fiber.cldice": fibers.cldice,
        "migrasome.dice": float(dice[MIGRASOME]),
        "migrasome.f1@0.5": 2 * migrasomes["tp"] / n_objects if n_objects else float("nan"),
        "migrasome.count_error": migrasomes["n_pred"] - migrasomes["n_true"],
    }
    return {
        "pixel_size_um": float(pixel_size_um),
        "counts": counts.tolist(),
        "scores": scores,
        "retraction_fiber": asdict(fibers),
        "migrasome": migrasomes,
        "cell": cells,
    }


def image_quality(row: dict[str, Any]) -> float:
    """One number per image to rank images (best/worst overlays): the mean of cell Dice,
    fiber clDice and migrasome F1@0.5 over the classes present in truth or prediction."""
    scores = row["scores"]
    keys = ("cell.dice", "retraction_fiber.cldice", "migrasome.f1@0.5")
    values = [scores[k] for k in keys if scores[k] == scores[k]]
    return float(np.mean(values)) if values else float("nan")
