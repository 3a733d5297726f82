"""Score one predicted image against its truth: the per-image record of metrics.json
(:class:`ImageRecord`).

Pure NumPy. A record holds counts and per-object lists rather than ratios, so that set-level
metrics (pooled over images, see :mod:`migraseg.evaluation.summary`) and their bootstrap
intervals can be computed from the records alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from migraseg.constants import CELL, FIBER, IGNORE_LABEL, MIGRASOME
from migraseg.metrics.centerline import FiberScores, fiber_scores
from migraseg.metrics.objects import (
    IOU_THRESHOLDS,
    drop_ignored_objects,
    equivalent_diameter_um,
    instance_overlaps,
    match_overlaps,
)
from migraseg.metrics.pixel import class_counts, scores_from_counts
from migraseg.postprocess import MIN_CELL_AREA_UM2, cell_instances

if TYPE_CHECKING:
    from migraseg.data.truth import Truth
    from migraseg.evaluation.sources import Segmentation

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


@dataclass
class MigrasomeRecord:
    """Migrasome objects of one image, matched at IoU 0.5 (diameters in µm)."""

    n_true: int
    n_pred: int
    tp: int
    fp: int
    fn: int
    tp_by_iou: list[int]  # true positives at each of IOU_THRESHOLDS
    true_diameter_um: list[float]  # per true object
    pred_diameter_um: list[float]  # per predicted object
    matched_true: list[int]  # indices into true_diameter_um of the matched pairs
    matched_pred: list[int]  # ... into pred_diameter_um, in the same order
    matched_iou: list[float]


@dataclass
class CellRecord:
    """Cell instances of one image, matched at IoU 0.5."""

    n_true: int
    n_pred: int
    tp: int


@dataclass
class ImageRecord:
    """One image's record: counts and per-object lists rather than ratios, so that set-level
    metrics and their bootstrap intervals come from the records alone (metrics.json
    ``per_image``, through :meth:`to_dict`)."""

    stem: str
    pixel_size_um: float
    counts: list[list[int]]  # (K, 3) tp, fp, fn pixels per class
    scores: dict[str, float]  # this image's headline scores, e.g. "migrasome.f1@0.5"
    retraction_fiber: FiberScores
    migrasome: MigrasomeRecord
    cell: CellRecord | None  # None when the dataset has no cell instances

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _objects(truth_ids: np.ndarray, pred_ids: np.ndarray, pixel_size_um: float) -> MigrasomeRecord:
    overlaps = instance_overlaps(truth_ids, pred_ids)
    matches = [match_overlaps(overlaps, t) for t in IOU_THRESHOLDS]
    main = matches[0]
    return MigrasomeRecord(
        n_true=main.n_true,
        n_pred=main.n_pred,
        tp=main.tp,
        fp=main.fp,
        fn=main.fn,
        tp_by_iou=[m.tp for m in matches],
        true_diameter_um=_rounded(equivalent_diameter_um(overlaps.true_areas_px, pixel_size_um)),
        pred_diameter_um=_rounded(equivalent_diameter_um(overlaps.pred_areas_px, pixel_size_um)),
        matched_true=main.true_index.tolist(),
        matched_pred=main.pred_index.tolist(),
        matched_iou=_rounded(main.ious),
    )


def score_image(
    prediction: Segmentation,
    truth: Truth,
    pixel_size_um: float,
    settings: ScoringSettings | None = None,
    stem: str = "",
) -> ImageRecord:
    """One image's record: class counts, fiber centerline scores, migrasome and cell matching.

    Args:
        prediction: class ids and migrasome instance ids (Y, X), 0 = none.
        truth: the same for the annotations, and cell instance ids (Y, X) or None when the
            dataset has none (then cell instance metrics are left out).
        pixel_size_um: µm per pixel of these arrays.
        settings: tolerances and bins.
        stem: the sample's name, kept in the record.

    Truth pixels labelled ``IGNORE_LABEL`` (255, not annotated) are left out of the pixel
    counts and of the predicted fiber mask, and predicted migrasomes and cells lying mostly in
    them are not counted (neither right nor wrong).
    """
    settings = settings or ScoringSettings()
    pred_labels, truth_labels = prediction.labels, truth.labels
    if pred_labels.shape != truth_labels.shape:
        raise ValueError(
            f"prediction shape {pred_labels.shape} != truth shape {truth_labels.shape}"
        )
    counts = class_counts(pred_labels, truth_labels)
    ignored = truth_labels == IGNORE_LABEL
    partial = bool(ignored.any())
    pred_fiber, pred_ids = pred_labels == FIBER, prediction.migrasome_ids
    if partial:
        pred_fiber &= ~ignored
        pred_ids = drop_ignored_objects(pred_ids, ignored)
    fibers = fiber_scores(
        pred_fiber, truth_labels == FIBER, pixel_size_um, settings.fiber_tolerance_um
    )
    migrasomes = _objects(truth.migrasome_ids, pred_ids, pixel_size_um)
    cells = None
    if truth.cell_ids is not None:
        pred_cells = cell_instances(pred_labels, pixel_size_um, settings.cell_min_area_um2)
        if partial:
            pred_cells = drop_ignored_objects(pred_cells, ignored)
        match = match_overlaps(instance_overlaps(truth.cell_ids, pred_cells), IOU_THRESHOLD)
        cells = CellRecord(match.n_true, match.n_pred, match.tp)
    dice = scores_from_counts(counts)["dice"]
    n_objects = migrasomes.n_true + migrasomes.n_pred
    scores = {
        "cell.dice": float(dice[CELL]),
        "retraction_fiber.dice": float(dice[FIBER]),
        "retraction_fiber.cldice": fibers.cldice,
        "migrasome.dice": float(dice[MIGRASOME]),
        "migrasome.f1@0.5": 2 * migrasomes.tp / n_objects if n_objects else float("nan"),
        "migrasome.count_error": migrasomes.n_pred - migrasomes.n_true,
    }
    return ImageRecord(
        stem=stem,
        pixel_size_um=float(pixel_size_um),
        counts=counts.tolist(),
        scores=scores,
        retraction_fiber=fibers,
        migrasome=migrasomes,
        cell=cells,
    )


def image_quality(record: ImageRecord) -> float:
    """One number per image to rank images (best/worst overlays): the mean of cell Dice,
    fiber clDice and migrasome F1@0.5 over the classes present in truth or prediction."""
    scores = record.scores
    keys = ("cell.dice", "retraction_fiber.cldice", "migrasome.f1@0.5")
    values = [scores[k] for k in keys if scores[k] == scores[k]]
    return float(np.mean(values)) if values else float("nan")
