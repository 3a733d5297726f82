"""Tracking quality on simulated time-lapses, segmented by their TRUE masks (the tracker alone)
or by a model (``--model``: segmentation errors included, and its time against tracking's).

    python scripts/evaluate_tracking.py                          # 20 stacks of 30 frames, 256²
    python scripts/evaluate_tracking.py --n 4 --frames 12 --size 128 --preset timelapse
    python scripts/evaluate_tracking.py --figure docs/timelapse_growth.png   # + the first
                                                                     # stack's growth figure
    python scripts/evaluate_tracking.py --model confocal --n 1 --size 1024   # a 1024² movie

Each stack of the ``timelapse`` preset is segmented frame by frame (true mask, or the model's
argmax), measured as migraseg-predict measures a prediction
(:func:`~migraseg.measure.frame.measure_frame`, stage drift by
:class:`~migraseg.tracking.drift.DriftEstimator`), tracked
(:func:`~migraseg.tracking.stack.track_stack`) and scored against the simulator's ids
(:func:`~migraseg.evaluation.tracking.tracking_scores`). Touching migrasomes that the mask
merges, migrasomes cut by the border and the decoding's splits are thus left in: only network
errors are not (unless ``--model``). Prints the scores as JSON, with the segmenting time (model
only), the measuring time and the tracking time (drift + linking + tables).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from migraseg.constants import MIGRASOME_POSTPROCESS
from migraseg.evaluation.tracking import predicted_detections, tracking_scores, truth_detections
from migraseg.inference.loading import model_path
from migraseg.inference.predictor import Predictor
from migraseg.measure.frame import measure_frame
from migraseg.synth.generator import make_sample
from migraseg.synth.presets import load_preset
from migraseg.tracking.drift import DriftEstimator
from migraseg.tracking.outputs import growth_figure
from migraseg.tracking.stack import StackTracks, track_stack


def segment(sample, predictor: Predictor | None) -> tuple[np.ndarray, float]:
    """The stack's labels (T, Y, X): its true masks, or the model's; and the seconds it took."""
    if predictor is None:
        return sample.mask, 0.0
    start = time.perf_counter()
    labels = [predictor.probabilities(f, sample.pixel_size_um).argmax(0) for f in sample.image]
    return np.stack(labels).astype(np.uint8), time.perf_counter() - start


def track_labels(sample, stack: np.ndarray) -> tuple[StackTracks, pd.DataFrame, float, float]:
    """A stack tracked on labels (T, Y, X), its detections for scoring (µm from each frame's
    corner), and the seconds spent measuring and tracking."""
    px = sample.pixel_size_um
    interval = sample.truth["frame_interval_min"]
    drift, measured, measuring, tracking = DriftEstimator(), [], 0.0, 0.0
    for t, labels in enumerate(stack):
        start = time.perf_counter()
        found = measure_frame(
            labels, lambda a, b, t=t: sample.image[t][:, a:b], px, MIGRASOME_POSTPROCESS
        )
        measuring += time.perf_counter() - start
        start = time.perf_counter()
        found.stage_offset_px = drift.update(labels)
        tracking += time.perf_counter() - start
        measured.append((t, None, found))
    start = time.perf_counter()
    stacked = track_stack(measured, px, interval)
    tracking += time.perf_counter() - start
    predicted = predicted_detections(stacked, px)
    return stacked, predicted, measuring, tracking


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="stacks")
    parser.add_argument("--frames", type=int, default=30, help="frames per stack")
    parser.add_argument("--size", type=int, default=256, help="px per side")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--preset", default="timelapse")
    parser.add_argument("--figure", help="write the first stack's growth figure here (PNG)")
    parser.add_argument("--model", help="segment with this model (path or shipped name)")
    args = parser.parse_args()
    predictor = Predictor.from_path(model_path(args.model), device="cpu") if args.model else None
    config = load_preset(
        args.preset,
        [f"timelapse.n_frames={args.frames}", f"confocal.image_size_px=[{args.size},{args.size}]"],
    )
    stacks, segmenting, measuring, tracking = [], 0.0, 0.0, 0.0
    for index in range(args.n):
        sample = make_sample(config, args.seed, index)
        labels, s = segment(sample, predictor)
        stacked, predicted, m, t = track_labels(sample, labels)
        if index == 0 and args.figure:
            growth_figure(stacked, Path(args.figure), "min")
        segmenting, measuring, tracking = segmenting + s, measuring + m, tracking + t
        interval = sample.truth["frame_interval_min"]
        stacks.append((truth_detections(sample.truth), predicted, interval))
    scores = tracking_scores(stacks)
    scores.update(
        stacks=args.n,
        frames=args.frames,
        size_px=args.size,
        segmented_by=args.model or "true masks",
        segment_seconds=round(segmenting, 2),
        measure_seconds=round(measuring, 2),
        track_seconds=round(tracking, 2),
    )
    print(json.dumps(scores, indent=1))


if __name__ == "__main__":
    main()
