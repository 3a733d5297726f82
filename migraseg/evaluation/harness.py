"""Run a model over an annotated dataset split and score it (metrics.json)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table
from skimage.measure import label

from migraseg.constants import MIGRASOME
from migraseg.data.contract import DatasetSpec, SampleRecord, image_to_cyx
from migraseg.evaluation.scoring import score_image, summarize
from migraseg.inference.predictor import Predictor
from migraseg.io import read_image
from migraseg.utils.files import write_text_atomic


def truth_instances(record: SampleRecord, truth_labels: np.ndarray) -> np.ndarray:
    """Migrasome instances from ``instances/`` when given, else connected components of the mask."""
    if record.instance_path is not None:
        return read_image(record.instance_path)[0]
    return label(truth_labels == MIGRASOME)


def evaluate_split(
    predictor: Predictor, spec: DatasetSpec, split: str = "test", progress: bool = True
) -> dict[str, Any]:
    """Predict every image of ``split`` and return the summary with per-image rows."""
    rows = []
    records = spec.split(split)
    for record in track(
        records, description=f"evaluating {spec.name}/{split}", disable=not progress
    ):
        image, meta = read_image(record.image_path)
        truth = read_image(record.mask_path)[0]
        pred = predictor.predict(image_to_cyx(image, meta["axes"]), record.pixel_size_um)
        row = score_image(pred.labels, pred.migrasome_ids, truth, truth_instances(record, truth))
        rows.append({"stem": record.stem, **row})
    return {
        "dataset": spec.name,
        "root": str(spec.root),
        "split": split,
        **summarize(rows),
        "per_image": rows,
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write_metrics(metrics: dict[str, Any], path: str | Path) -> Path:
    """Write metrics as JSON (NaN → null, so any JSON reader accepts it), atomically."""
    return write_text_atomic(path, json.dumps(_json_safe(metrics), indent=1))


def metrics_table(sets: dict[str, dict[str, Any]], title: str = "migraseg evaluation") -> Table:
    """A rich table: one row per headline metric, one column per evaluated set."""
    table = Table(title=title)
    table.add_column("metric")
    for name in sets:
        table.add_column(name, justify="right")
    keys = next(iter(sets.values()))["headline"].keys() if sets else []
    for key in keys:
        cells = []
        for result in sets.values():
            value = result["headline"].get(key)
            cells.append("–" if value is None or value != value else f"{value:.3f}")
        table.add_row(key, *cells)
    return table


def print_metrics(sets: dict[str, dict[str, Any]], console: Console | None = None) -> None:
    (console or Console()).print(metrics_table(sets))
