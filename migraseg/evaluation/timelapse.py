"""Time-lapse sets in the harness: segment frame by frame, track as migraseg-predict does, score.

A time-lapse set is stored as the simulator's training form (``frames_as_images``): every frame
is a still image ``<stack>_t<frame>`` with its own truth JSON, whose migrasomes carry the ids
that stay fixed over the stack. The dataset contract is unchanged, so every frame is scored as a
still image like any other set; in addition, each model's predicted frames are measured
(:func:`~migraseg.measure.frame.measure_frame`), drift-corrected
(:class:`~migraseg.tracking.drift.DriftEstimator`) and linked
(:func:`~migraseg.tracking.stack.track_stack`) stack by stack, exactly as migraseg-predict
tracks a movie, and the tracks are scored against the ids
(:func:`~migraseg.evaluation.tracking.tracking_scores`). Only a few numbers per migrasome are
kept per frame, never the labels.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from migraseg.constants import MIGRASOME_POSTPROCESS
from migraseg.data.contract import SampleRecord, read_dataset_yaml
from migraseg.measure.frame import FrameMeasurements, measure_frame
from migraseg.tracking.drift import DriftEstimator

log = logging.getLogger(__name__)


def stack_name(stem: str) -> str:
    """The stack a frame belongs to: ``<stack>_t<frame>`` as the simulator names frames."""
    return stem.rsplit("_t", 1)[0]


@dataclass
class Lapse:
    """The stacks of a time-lapse set: frame records in time order, and each stack's truth
    (``pixel_size_um``, ``frame_interval_min`` and ``frames``, each with ``t`` and migrasomes
    with their ids), as :func:`~migraseg.evaluation.tracking.truth_detections` reads it."""

    stacks: dict[str, list[SampleRecord]]
    truths: dict[str, dict[str, Any]]

    def ordered(self) -> list[SampleRecord]:
        """Every frame record, stack after stack, in time order (drift needs that order)."""
        return [r for records in self.stacks.values() for r in records]

    @property
    def n_frames(self) -> list[int]:
        return [len(records) for records in self.stacks.values()]


def find_lapse(root: Path, records: list[SampleRecord]) -> Lapse | None:
    """The set's stacks when its dataset.yaml says ``time_lapse`` and every frame has a truth
    JSON with a frame index ``t``; None for still-image sets (and, with a warning naming the
    file, for a time-lapse whose truth cannot be tracked)."""
    info, _ = read_dataset_yaml(Path(root))
    if "time_lapse" not in info:
        return None
    frames: dict[str, list[tuple[int, SampleRecord, dict[str, Any]]]] = {}
    for record in records:
        path = Path(root) / "truth" / f"{record.stem}.json"
        truth = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        if "t" not in truth or "migrasomes" not in truth:
            log.warning("%s: no frame truth with migrasome ids: the set is not tracked", path)
            return None
        frames.setdefault(stack_name(record.stem), []).append((int(truth["t"]), record, truth))
    stacks, truths = {}, {}
    for name, found in sorted(frames.items()):
        found.sort(key=lambda item: item[0])
        stacks[name] = [record for _, record, _ in found]
        first = found[0][2]
        truths[name] = {
            "pixel_size_um": first["pixel_size_um"],
            "frame_interval_min": first.get("frame_interval_min", 1.0),
            "frames": [truth for _, _, truth in found],
        }
    return Lapse(stacks, truths)


@dataclass
class TrackingResult:
    """One model's tracking on a set: the scores (metrics.json) and, per stack, the true and
    predicted detections (``frame, track_id or id, y_um, x_um, diameter_um``) for figures."""

    scores: dict[str, float]
    truth: dict[str, pd.DataFrame]
    predicted: dict[str, pd.DataFrame]
    interval_min: dict[str, float]


@dataclass
class StackTracker:
    """Collects one model's measured frames stack by stack, then tracks and scores them."""

    lapse: Lapse
    postprocess: dict[str, float] = field(default_factory=lambda: dict(MIGRASOME_POSTPROCESS))
    measured: dict[str, list[tuple[int, None, FrameMeasurements]]] = field(default_factory=dict)
    drift: dict[str, DriftEstimator] = field(default_factory=dict)
    seconds: float = 0.0  # measuring, drift and linking: what tracking adds to segmenting

    def add(self, record: SampleRecord, labels: np.ndarray, image: np.ndarray | None) -> None:
        """Measure one predicted frame (labels (Y, X); image (C, Y, X) or None) and register it
        for drift. Frames must come in :meth:`Lapse.ordered` order."""
        start = time.perf_counter()
        stack = stack_name(record.stem)
        width = labels.shape[1]

        def rows(a: int, b: int) -> np.ndarray:
            return image[:, a:b] if image is not None else np.zeros((1, b - a, width), np.float32)

        found = measure_frame(labels, rows, record.pixel_size_um, self.postprocess)
        found.stage_offset_px = self.drift.setdefault(stack, DriftEstimator()).update(labels)
        frames = self.measured.setdefault(stack, [])
        frames.append((len(frames), None, found))
        self.seconds += time.perf_counter() - start

    def finish(self) -> TrackingResult:
        """Track every stack and score all of them together."""
        # laptrack and motmetrics: imported only when a time-lapse set is evaluated
        from migraseg.evaluation.tracking import (
            predicted_detections,
            tracking_scores,
            truth_detections,
        )
        from migraseg.tracking.stack import track_stack

        start = time.perf_counter()
        truth, predicted, interval, scored = {}, {}, {}, []
        for stack, records in self.lapse.stacks.items():
            stack_truth = self.lapse.truths[stack]
            interval[stack] = float(stack_truth["frame_interval_min"])
            size = records[0].pixel_size_um
            tracks = track_stack(self.measured[stack], size, interval[stack])
            truth[stack] = truth_detections(stack_truth)
            predicted[stack] = predicted_detections(tracks, size)
            scored.append((truth[stack], predicted[stack], interval[stack]))
        scores = tracking_scores(scored)
        scores["seconds"] = round(self.seconds + time.perf_counter() - start, 2)
        return TrackingResult(scores, truth, predicted, interval)
