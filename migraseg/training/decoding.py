"""Tune how a model's migrasomes are decoded (``min_probability``, ``split_h_um``,
``min_score``) on held-out images.

The network's probabilities are only half of a count: the pixels of a migrasome must be chosen,
touching migrasomes split and the objects it is unsure of dropped, and the best probability,
depth of split and score threshold depend on the model (how sharp its edges are, how calibrated
its probabilities). All three are chosen after training by migrasome F1@0.5 on the validation
images, the network run once per image and every combination decoded from the same
probabilities, and stored in the model's metadata, so that
migraseg-predict, migraseg-eval and napari decode as chosen. A validation split that repeats the
training images (a fine-tune on a few images) tells nothing: the values stay as they were.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from migraseg.constants import IGNORE_LABEL, MIGRASOME, MIGRASOME_POSTPROCESS
from migraseg.data.contract import DatasetSpec, SampleRecord, image_to_cyx
from migraseg.data.truth import read_truth
from migraseg.inference.predictor import Predictor
from migraseg.inference.settings import PredictSettings
from migraseg.io import read_image
from migraseg.metrics.objects import drop_ignored_objects, match_instances
from migraseg.postprocess import (
    decode_migrasome_pixels,
    drop_unsure,
    migrasome_instances,
    migrasome_pixels,
)
from migraseg.utils.files import atomic_path, write_text_atomic

log = logging.getLogger(__name__)

# Split depths in pixels of the model's grid (×pixel size → µm): confocal migrasomes are ~5–30
# px across and split best near 0.4 px; TEM ones hundreds of px, near 25 px.
SPLIT_H_PX: tuple[float, ...] = (0.25, 0.4, 0.6, 1.0, 2.0, 4.0, 8.0, 16.0, 25.0)
MIN_SCORES: tuple[float, ...] = (0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
# Pixel probabilities from the likeliest class only (0.5) down to chance among four classes.
MIN_PROBABILITIES: tuple[float, ...] = (0.5, 0.45, 0.4, 0.35, 0.3, 0.25)
MIN_TRUE_OBJECTS = 20  # fewer true migrasomes in the validation images: too few to choose by
# F1 differences under this are noise for ~100 validation migrasomes. A lower min_probability
# must beat the likeliest class by more: it grows every migrasome, and sizes with it
# (docs/results.md, "Pixels below the likeliest class"). Of the min_scores within it the lowest
# is kept: on images harder than the validation images a model is less sure of real
# migrasomes, and a higher threshold drops them too (counts fall short).
F1_TOLERANCE = 0.01


@dataclass(frozen=True)
class DecodingChoice:
    """The values chosen, with the validation F1 of every pair (rows of ``table``)."""

    postprocess: dict[str, float]
    f1: float
    f1_before: float
    n_images: int
    n_true: int
    table: list[dict[str, float]]


def held_out(val: Sequence[SampleRecord], train: Sequence[SampleRecord]) -> list[SampleRecord]:
    """Validation images that were not trained on."""
    trained = {r.stem for r in train}
    return [r for r in val if r.stem not in trained]


def _counts(truth_ids: np.ndarray, ids: np.ndarray, ignored: np.ndarray) -> tuple[int, int, int]:
    """True positives, predicted and true objects at IoU 0.5, unannotated objects left out."""
    match = match_instances(truth_ids, drop_ignored_objects(ids, ignored))
    return match.tp, match.n_pred, match.n_true


def _f1(tp: int, n_pred: int, n_true: int) -> float:
    return 2 * tp / (n_pred + n_true) if n_pred + n_true else float("nan")


def tune_decoding(
    predictor: Predictor,
    records: Sequence[SampleRecord],
    split_h_px: Sequence[float] = SPLIT_H_PX,
    min_scores: Sequence[float] = MIN_SCORES,
    min_probabilities: Sequence[float] = MIN_PROBABILITIES,
    min_true_objects: int = MIN_TRUE_OBJECTS,
) -> DecodingChoice | None:
    """Pick ``min_probability``, ``split_h_um`` and ``min_score`` by pooled migrasome F1@0.5 on
    ``records`` (the model's other post-processing kept): the highest ``min_probability`` whose
    best F1 is within :data:`F1_TOLERANCE` of the best of all; at it, of the pairs within the
    tolerance of its best, the lowest ``min_score``, then the best F1 (of equals, the depth
    nearest the model's own). None when the images hold fewer than ``min_true_objects`` true
    migrasomes."""
    current = {**MIGRASOME_POSTPROCESS, **predictor.meta.postprocess}
    heights = [round(h * predictor.meta.pixel_size_um, 4) for h in split_h_px]
    shape = (len(min_probabilities), len(heights), len(min_scores), 2)
    counts = np.zeros(shape, np.int64)  # tp, n_pred per choice
    before = np.zeros(2, np.int64)
    n_true = 0
    for record in records:
        array, info = read_image(record.image_path)
        image = image_to_cyx(array, info["axes"])
        truth = read_truth(record)
        size = record.pixel_size_um
        probs = predictor.probabilities(image, size)
        labels, probability = probs.argmax(0).astype(np.uint8), probs[MIGRASOME]
        ignored = truth.labels == IGNORE_LABEL
        tp, n_pred, n_image = _counts(
            truth.migrasome_ids,
            migrasome_instances(labels, size, **current, probability=probability),
            ignored,
        )
        before += (tp, n_pred)
        n_true += n_image
        for k, min_probability in enumerate(min_probabilities):
            binary = migrasome_pixels(labels, probability, min_probability)
            for i, height in enumerate(heights):
                decoded = decode_migrasome_pixels(binary, size, current["min_diameter_um"], height)
                for j, min_score in enumerate(min_scores):
                    ids = drop_unsure(decoded, probability, min_score)
                    counts[k, i, j] += _counts(truth.migrasome_ids, ids, ignored)[:2]
    if n_true < min_true_objects:
        return None
    table = [
        {"min_probability": p, "split_h_um": h, "min_score": s, "f1": _f1(*counts[k, i, j], n_true)}
        for k, p in enumerate(min_probabilities)
        for i, h in enumerate(heights)
        for j, s in enumerate(min_scores)
    ]
    best_f1 = max(row["f1"] for row in table)
    strictest = max(row["min_probability"] for row in table if row["f1"] >= best_f1 - F1_TOLERANCE)
    rows = [row for row in table if row["min_probability"] == strictest]
    best_here = max(row["f1"] for row in rows)
    near = [row for row in rows if row["f1"] >= best_here - F1_TOLERANCE]
    lowest = min(row["min_score"] for row in near)
    best = max(
        (row for row in near if row["min_score"] == lowest),
        key=lambda row: (row["f1"], -abs(np.log(row["split_h_um"] / current["split_h_um"]))),
    )
    chosen = {
        **current,
        **{key: best[key] for key in ("min_probability", "split_h_um", "min_score")},
    }
    return DecodingChoice(chosen, best["f1"], _f1(*before, n_true), len(records), n_true, table)


def set_checkpoint_postprocess(
    checkpoint: Path, postprocess: dict[str, float], out: Path | None = None
) -> None:
    """Store ``postprocess`` in a Lightning checkpoint's model metadata, in place or in a copy
    ``out`` (atomically)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state["hyper_parameters"]["meta"]["postprocess"] = dict(postprocess)
    with atomic_path(out or checkpoint) as tmp:
        torch.save(state, tmp)


def tune_run_decoding(
    checkpoint: Path, spec: DatasetSpec, settings: PredictSettings, output_dir: Path
) -> DecodingChoice | None:
    """Tune a finished run's decoding on its held-out validation images: store the choice in
    the checkpoint (before it is exported or evaluated) and in ``decoding.json``."""
    records = held_out(spec.split("val"), spec.split("train"))
    if not records:
        log.info("decoding kept as it was: no validation image is held out of training")
        return None
    predictor = Predictor.from_path(checkpoint, **settings.predictor_kwargs())
    choice = tune_decoding(predictor, records, min_true_objects=MIN_TRUE_OBJECTS)
    if choice is None:
        log.info("decoding kept as it was: under %d migrasomes to tune on", MIN_TRUE_OBJECTS)
        return None
    set_checkpoint_postprocess(checkpoint, choice.postprocess)
    write_text_atomic(output_dir / "decoding.json", json.dumps(asdict(choice), indent=1) + "\n")
    log.info(
        "decoding tuned on %d validation images (%d migrasomes): min_probability %g, "
        "split_h_um %g, min_score %g; validation migrasome F1@0.5 %.3f -> %.3f",
        choice.n_images,
        choice.n_true,
        choice.postprocess["min_probability"],
        choice.postprocess["split_h_um"],
        choice.postprocess["min_score"],
        choice.f1_before,
        choice.f1,
    )
    return choice
