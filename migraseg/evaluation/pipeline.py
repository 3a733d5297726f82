"""One evaluation run, as the CLI and ``make train`` use it: models × sets → files.

``run_evaluation`` builds the prediction sources (tuning the classical baseline on a train split
if asked for it), scores every model on every set, and writes ``metrics.json`` plus
``report.md``, ``report.html``, ``figures/`` and ``classical_params.json`` into one folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from migraseg.baseline import ClassicalParams
from migraseg.constants import MIGRASOME_POSTPROCESS
from migraseg.data.contract import load_dataset
from migraseg.evaluation.harness import (
    EvaluationSettings,
    SetResult,
    evaluate,
    metrics_document,
    write_metrics,
)
from migraseg.evaluation.sets import EvalSet, ensure_synthesized
from migraseg.evaluation.sources import (
    CLASSICAL,
    ClassicalSource,
    PredictionSource,
    build_source,
)
from migraseg.inference.settings import PredictSettings

log = logging.getLogger(__name__)
CLASSICAL_PARAMS_FILE = "classical_params.json"


@dataclass(frozen=True)
class BaselineOptions:
    """Where the classical baseline's parameters come from.

    Attributes:
        params: a ``classical_params.json`` of an earlier run (no tuning), or None to tune.
        tune_on: dataset folder to tune on; None means the first evaluated set's dataset.
        tune_split: the split tuned on (never evaluate on the same images).
        max_tune_images: images used for tuning, spread over the split.
    """

    params: str | None = None
    tune_on: str | None = None
    tune_split: str = "train"
    max_tune_images: int = 8


@dataclass
class EvaluationRun:
    """What a run produced."""

    results: list[SetResult]
    metrics: dict[str, Any]
    metrics_path: Path
    report_paths: tuple[Path, Path] | None


def classical_source(
    options: BaselineOptions, sets: list[EvalSet], output_dir: Path
) -> PredictionSource:
    """The baseline from saved parameters, or tuned now and saved into ``output_dir``; with
    its default parameters (and a warning) when the dataset has no split to tune on."""
    if options.params:
        return ClassicalSource.from_file(options.params)
    if options.tune_on:
        root = Path(options.tune_on)
    else:
        ensure_synthesized(sets[0])
        root = sets[0].root
    if not load_dataset(root).splits.get(options.tune_split):
        log.warning(
            "%s has no %r split to tune the classical baseline on: it runs with its default "
            "parameters (give baseline.tune_on=<dataset with a %s split> or "
            "baseline.params=<classical_params.json> to tune or fix them)",
            root,
            options.tune_split,
            options.tune_split,
        )
        return ClassicalSource(
            ClassicalParams(), {"params_source": "defaults", "untuned": str(root)}
        )
    evaluated = [s for s in sets if s.root.resolve() == root.resolve()]
    if any(s.split in (options.tune_split, "all") for s in evaluated):
        log.warning(
            "the classical baseline is tuned on %s/%s, which is also evaluated: its scores there "
            "are optimistic",
            root,
            options.tune_split,
        )
    log.info("tuning the classical baseline on %s/%s", root, options.tune_split)
    return ClassicalSource.tuned(
        root, options.tune_split, options.max_tune_images, output_dir / CLASSICAL_PARAMS_FILE
    )


def build_sources(
    models: dict[str, str],
    sets: list[EvalSet],
    output_dir: Path,
    predict: PredictSettings | None = None,
    postprocess: dict[str, float] | None = None,
    baseline: BaselineOptions | None = None,
) -> dict[str, PredictionSource]:
    """A prediction source per named model spec (see :func:`build_source`)."""
    post = postprocess or MIGRASOME_POSTPROCESS
    options = baseline or BaselineOptions()
    return {
        name: build_source(spec, predict, post, lambda: classical_source(options, sets, output_dir))
        for name, spec in models.items()
    }


def run_evaluation(
    models: dict[str, str],
    sets: list[EvalSet],
    output_dir: str | Path,
    settings: EvaluationSettings | None = None,
    predict: PredictSettings | None = None,
    postprocess: dict[str, float] | None = None,
    baseline: BaselineOptions | None = None,
    report: bool = True,
) -> EvaluationRun:
    """Evaluate ``models`` ({name: .ckpt, .pt, label folder or "classical"}) on ``sets``.

    Returns:
        The per-set results, the metrics.json document, its path and the report paths.
    """
    output_dir = Path(output_dir)
    # only the report's overlays need the best and worst predictions kept in memory
    settings = replace(settings or EvaluationSettings(), keep_extremes=report)
    baseline_names = [name for name, spec in models.items() if spec == CLASSICAL]
    if settings.reference == CLASSICAL and baseline_names:
        settings = replace(settings, reference=baseline_names[0])
    sources = build_sources(models, sets, output_dir, predict, postprocess, baseline)
    results = evaluate(sources, sets, settings)
    metrics = metrics_document(results, sources, settings)
    metrics_path = write_metrics(metrics, output_dir / "metrics.json")
    report_paths = None
    if report:
        from migraseg.evaluation.report import write_report  # matplotlib: only when reporting

        report_paths = write_report(results, metrics, output_dir)
    return EvaluationRun(results, metrics, metrics_path, report_paths)
