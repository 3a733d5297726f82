"""Score several models on several annotated sets in one pass; write metrics.json.

For each set, every image's truth is read once and each model's prediction is scored against
it (:func:`score_image`). Set-level metrics and their bootstrap intervals come from the
per-image records (:func:`summarize`); all models on a set share the same resamples, so the
differences between a model and the reference are paired.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import track

from migraseg import __version__
from migraseg.constants import MIGRASOME_POSTPROCESS
from migraseg.data.contract import image_to_cyx
from migraseg.data.truth import read_truth
from migraseg.evaluation.results import Extremes, ModelResult, SetResult
from migraseg.evaluation.scoring import (
    ImageRecord,
    ScoringSettings,
    image_quality,
    score_image,
)
from migraseg.evaluation.sets import EvalSet, is_simulated, open_set
from migraseg.evaluation.sources import CLASSICAL, PredictionSource
from migraseg.evaluation.summary import paired_difference, summarize
from migraseg.evaluation.timelapse import StackTracker, find_lapse
from migraseg.evaluation.verdict import VerdictThresholds, set_verdict
from migraseg.io import read_image
from migraseg.metrics.bootstrap import bootstrap_weights
from migraseg.utils.files import write_text_atomic

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class EvaluationSettings:
    """How a run scores and compares (see configs/eval.yaml)."""

    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    n_bootstrap: int = 1000
    bootstrap_seed: int = 0
    reference: str | None = CLASSICAL  # the model others are compared against, if evaluated
    verdict: VerdictThresholds = field(default_factory=VerdictThresholds)
    keep_extremes: bool = (
        True  # keep best/worst predictions for the report (run_evaluation: = report)
    )
    progress: bool = True


def evaluate_set(
    sources: dict[str, PredictionSource], eval_set: EvalSet, settings: EvaluationSettings
) -> SetResult:
    """Score every model on every image of one set; a time-lapse set's frames are also tracked
    stack by stack (:mod:`migraseg.evaluation.timelapse`)."""
    spec, records = open_set(eval_set)
    lapse = find_lapse(eval_set.root, records)
    trackers: dict[str, StackTracker] = {}
    if lapse is not None:
        records = lapse.ordered()
        trackers = {
            name: StackTracker(lapse, source.describe().get("postprocess") or MIGRASOME_POSTPROCESS)
            for name, source in sources.items()
        }
    needs_image = any(s.needs_image for s in sources.values())
    rows: dict[str, list[ImageRecord]] = {name: [] for name in sources}
    seconds = dict.fromkeys(sources, 0.0)
    extremes = {name: Extremes() for name in sources}
    for record in track(
        records, description=f"evaluating {eval_set.name}", disable=not settings.progress
    ):
        truth = read_truth(record)
        image = None
        if needs_image:
            array, meta = read_image(record.image_path)
            image = image_to_cyx(array, meta["axes"])
        for name, source in sources.items():
            start = time.perf_counter()
            pred = source.segment(record, image)
            seconds[name] += time.perf_counter() - start
            if pred.labels.shape != truth.labels.shape:
                where = source.path_for(record.stem) if hasattr(source, "path_for") else name
                raise ValueError(
                    f"{where}: prediction shape {pred.labels.shape} != truth shape "
                    f"{truth.labels.shape} of {record.mask_path}"
                )
            row = score_image(pred, truth, record.pixel_size_um, settings.scoring, record.stem)
            rows[name].append(row)
            if settings.keep_extremes:
                extremes[name].offer(record.stem, image_quality(row), pred)
            if name in trackers:
                trackers[name].add(record, pred.labels, image)
    weights = bootstrap_weights(len(records), settings.n_bootstrap, settings.bootstrap_seed)
    models = {}
    for name in sources:
        summary = summarize(rows[name], weights, settings.scoring.size_bin_edges_um)
        tracking = trackers[name].finish() if name in trackers else None
        models[name] = ModelResult(rows[name], summary, seconds[name], extremes[name], tracking)
    result = SetResult(eval_set, spec, records, models, simulated=is_simulated(eval_set.root))
    result.lapse = lapse
    reference = settings.reference if settings.reference in models else None
    if reference is None and len(models) > 1:
        reference = next(iter(models))
    if reference is not None:
        result.reference = reference
        result.comparison = {
            name: paired_difference(m.summary, models[reference].summary)
            for name, m in models.items()
            if name != reference
        }
    result.verdict = set_verdict(result, settings.verdict)
    return result


def evaluate(
    sources: dict[str, PredictionSource], sets: list[EvalSet], settings: EvaluationSettings
) -> list[SetResult]:
    """Every model on every set; set names must be unique."""
    names = [s.name for s in sets]
    if len(set(names)) != len(names):
        raise ValueError(f"set names must be unique, got {names}")
    if not sources or not sets:
        raise ValueError("nothing to evaluate: give at least one model and one set")
    return [evaluate_set(sources, s, settings) for s in sets]


def metrics_document(
    results: list[SetResult],
    sources: dict[str, PredictionSource],
    settings: EvaluationSettings,
) -> dict[str, Any]:
    """The whole of metrics.json (schema in the README, "Evaluation")."""
    scoring = settings.scoring
    return {
        "schema_version": SCHEMA_VERSION,
        "migraseg_version": __version__,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "settings": {
            "fiber_tolerance_um": scoring.fiber_tolerance_um,
            "size_bin_edges_um": list(scoring.size_bin_edges_um),
            "cell_min_area_um2": scoring.cell_min_area_um2,
            "n_bootstrap": settings.n_bootstrap,
            "bootstrap_seed": settings.bootstrap_seed,
            "reference": settings.reference,
            "verdict": asdict(settings.verdict),
        },
        "models": {name: source.describe() for name, source in sources.items()},
        "sets": {r.eval_set.name: r.to_dict() for r in results},
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write_metrics(metrics: dict[str, Any], path: str | Path) -> Path:
    """Write metrics as JSON (NaN → null, so any JSON reader accepts it), atomically."""
    return write_text_atomic(path, json.dumps(_json_safe(metrics), indent=1))
