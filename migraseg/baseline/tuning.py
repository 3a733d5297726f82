"""Tune the classical baseline's thresholds on annotated images (a dataset's train split).

Filter responses are computed once per image; a coordinate search then tries each threshold on
a small grid with the others fixed, class by class in the order their masks depend on each
other: cells (Dice), migrasomes outside cells (F1 at IoU 0.5), fibers outside both (mean of
clDice and Dice). Two rounds are enough on these smooth objectives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from migraseg.baseline.classical import (
    ClassicalParams,
    Responses,
    cell_mask,
    compute_responses,
    default_params,
    fiber_exclusion,
    fiber_mask,
    migrasome_ids,
)
from migraseg.constants import CELL, FIBER
from migraseg.data.contract import image_to_cyx, load_dataset
from migraseg.evaluation.sets import read_truth
from migraseg.io import read_image
from migraseg.metrics.centerline import cl_dice
from migraseg.metrics.objects import match_instances

GRID: dict[str, tuple[float, ...]] = {
    "cell_z": (2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0),
    "migrasome_z": (8.0, 12.0, 16.0, 20.0, 25.0, 30.0, 40.0, 50.0, 65.0),
    "blob_z": (5.0, 10.0, 20.0, 30.0, 40.0, 60.0, 80.0),
    "fiber_low_z": (1.0, 2.0, 3.0, 5.0, 8.0),
    "fiber_high_z": (4.0, 6.0, 8.0, 12.0, 16.0, 24.0),
}
# TEM (objects inverted): noisier images at lower dose put objects at fewer robust z-units.
TEM_GRID: dict[str, tuple[float, ...]] = {
    "cell_z": (0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0),
    "migrasome_z": (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0),
    "blob_z": (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0),
    "fiber_low_z": (0.5, 1.0, 2.0, 3.0, 5.0),
    "fiber_high_z": (2.0, 3.0, 4.0, 6.0, 8.0, 12.0),
}


def grid_for(params: ClassicalParams) -> dict[str, tuple[float, ...]]:
    """The threshold grid: :data:`TEM_GRID` for dark-object (or auto) polarity, else GRID."""
    return GRID if params.polarity == "bright" else TEM_GRID


@dataclass
class TuningImage:
    """One training image reduced to what tuning needs."""

    responses: Responses
    labels: np.ndarray  # (Y, X) true class ids
    migrasome_ids: np.ndarray  # (Y, X) true instances


@dataclass
class TuningResult:
    """Tuned parameters with their training scores and provenance (classical_params.json)."""

    params: ClassicalParams
    scores: dict[str, float]
    tuned_on: dict[str, Any]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params.to_dict(),
            "train_scores": self.scores,
            "tuned_on": self.tuned_on,
            "seconds": round(self.seconds, 1),
        }


def _dice(tp: float, fp: float, fn: float) -> float:
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else float("nan")


def _binary_counts(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """tp, fp, fn of two binary masks."""
    tp = np.count_nonzero(pred & truth)
    return np.array([tp, np.count_nonzero(pred) - tp, np.count_nonzero(truth) - tp])


def cell_objective(images: Sequence[TuningImage], params: ClassicalParams) -> float:
    """Pooled cell Dice."""
    counts = sum(
        _binary_counts(cell_mask(im.responses, params), im.labels == CELL) for im in images
    )
    return _dice(*counts)


def migrasome_objective(
    images: Sequence[TuningImage], cells: Sequence[np.ndarray], params: ClassicalParams
) -> float:
    """Pooled migrasome F1 at IoU 0.5 (cell masks fixed)."""
    tp = total = 0
    for im, cell in zip(images, cells, strict=True):
        match = match_instances(im.migrasome_ids, migrasome_ids(im.responses, params, cell))
        tp, total = tp + match.tp, total + match.n_true + match.n_pred
    return 2 * tp / total if total else float("nan")


def fiber_objective(
    images: Sequence[TuningImage], exclude: Sequence[np.ndarray], params: ClassicalParams
) -> float:
    """Mean of fiber clDice (averaged over images) and pooled fiber Dice (cells and migrasomes
    fixed); hysteresis needs low < high, other pairs score -inf."""
    if params.fiber_low_z >= params.fiber_high_z:
        return float("-inf")
    counts, cldice = np.zeros(3), []
    for im, excluded in zip(images, exclude, strict=True):
        fibers, truth = fiber_mask(im.responses, params, excluded), im.labels == FIBER
        counts += _binary_counts(fibers, truth)
        cldice.append(cl_dice(fibers, truth))
    return float(np.nanmean([np.nanmean(cldice), _dice(*counts)]))


def coordinate_search(
    params: ClassicalParams,
    names: Sequence[str],
    objective: Callable[[ClassicalParams], float],
    rounds: int = 2,
    grid: dict[str, tuple[float, ...]] | None = None,
) -> tuple[ClassicalParams, float]:
    """Maximise ``objective`` over ``grid[name]`` (default :func:`grid_for` the params) for each
    name in turn, ``rounds`` times."""
    grid = grid or grid_for(params)
    best_score = objective(params)
    for _ in range(rounds):
        changed = False
        for name in names:
            for value in grid[name]:
                candidate = replace(params, **{name: value})
                score = objective(candidate)
                if score > best_score + 1e-9:
                    params, best_score, changed = candidate, score, True
        if not changed or len(names) == 1:
            break
    return params, float(best_score)


def tune(
    images: Sequence[TuningImage],
    start: ClassicalParams | None = None,
    tuned_on: dict[str, Any] | None = None,
    grid: dict[str, tuple[float, ...]] | None = None,
) -> TuningResult:
    """Tune the five thresholds on ``images`` (responses computed with ``start``'s filters)
    over ``grid`` (default :func:`grid_for` ``start``)."""
    began = time.perf_counter()
    params = start or ClassicalParams()
    grid = grid or grid_for(params)
    params, cell = coordinate_search(
        params, ["cell_z"], lambda p: cell_objective(images, p), grid=grid
    )
    cells = [cell_mask(im.responses, params) for im in images]
    params, mig = coordinate_search(
        params,
        ["migrasome_z", "blob_z"],
        lambda p: migrasome_objective(images, cells, p),
        grid=grid,
    )
    exclude = [
        fiber_exclusion(im.responses, params, c, migrasome_ids(im.responses, params, c))
        for im, c in zip(images, cells, strict=True)
    ]
    params, fiber = coordinate_search(
        params,
        ["fiber_low_z", "fiber_high_z"],
        lambda p: fiber_objective(images, exclude, p),
        grid=grid,
    )
    scores = {"cell.dice": cell, "migrasome.f1@0.5": mig, "retraction_fiber.objective": fiber}
    return TuningResult(params, scores, tuned_on or {}, time.perf_counter() - began)


def tuning_image(
    image: np.ndarray,
    pixel_size_um: float,
    labels: np.ndarray,
    instances: np.ndarray,
    params: ClassicalParams,
) -> TuningImage:
    """Responses of a raw image (C, Y, X) with its truth (Y, X)."""
    return TuningImage(compute_responses(image, pixel_size_um, params), labels, instances)


def tune_polarity(
    samples: Sequence[tuple[np.ndarray, float, np.ndarray, np.ndarray]],
    start: ClassicalParams,
    tuned_on: dict[str, Any] | None = None,
) -> TuningResult:
    """Tune with ``start``'s polarity, and for a dark-object start also with bright objects
    (negatively stained TEM images light objects on dark stain): keep the polarity whose tuned
    scores (mean of the three objectives) are higher. ``samples`` are (image (C, Y, X), pixel
    size, labels, instances)."""
    options, grid = [start], grid_for(start)  # TEM's grid for both polarities
    if start.polarity == "dark":
        options.append(replace(start, polarity="bright"))
    results = []
    for params in options:
        images = [
            tuning_image(image, px, labels, ids, params) for image, px, labels, ids in samples
        ]
        results.append(tune(images, params, tuned_on, grid))
    best = max(results, key=lambda r: float(np.nanmean(list(r.scores.values()))))
    if len(results) > 1:
        best.tuned_on = {
            **best.tuned_on,
            "polarity_scores": {
                r.params.polarity: round(float(np.nanmean(list(r.scores.values()))), 4)
                for r in results
            },
        }
    best.seconds = sum(r.seconds for r in results)
    return best


def tune_on_dataset(
    root: str | Path,
    split: str = "train",
    max_images: int = 8,
    start: ClassicalParams | None = None,
) -> TuningResult:
    """Tune on up to ``max_images`` images of a dataset split, spread evenly over it, starting
    from ``start`` or the dataset modality's :func:`default_params` (for TEM, both polarities
    are tuned and the better kept: :func:`tune_polarity`)."""
    spec = load_dataset(root)
    records = spec.split(split)
    start = start or default_params(spec.modality)
    if not records:
        raise ValueError(f"{root}: split {split!r} is empty; cannot tune the classical baseline")
    picks = np.unique(np.linspace(0, len(records) - 1, min(max_images, len(records))).round())
    samples = []
    for record in (records[int(i)] for i in picks):
        array, meta = read_image(record.image_path)
        truth = read_truth(record)
        image = image_to_cyx(array, meta["axes"])
        samples.append((image, record.pixel_size_um, truth.labels, truth.migrasome_ids))
    provenance = {
        "root": str(root),
        "dataset": spec.name,
        "split": split,
        "stems": [r.stem for r in (records[int(i)] for i in picks)],
    }
    return tune_polarity(samples, start, provenance)
