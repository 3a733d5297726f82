"""Tracking scores of a time-lapse against simulated truth, whose migrasomes keep their ids.

Per frame, true and predicted migrasomes are matched by centroid (within ``MATCH_UM``) in a
motmetrics accumulator, which gives IDF1 and identity switches. Each predicted track is then
paired with the true migrasome it covers most often, and their maximal growth rates
(:func:`~migraseg.tracking.tracks.max_growth_rate`, the same rule on both) and first frames are
compared: a nucleation error is counted only for migrasomes that nucleate during the movie.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from typing import Any

import motmetrics as mm
import numpy as np
import pandas as pd

from migraseg.tracking.stack import StackTracks
from migraseg.tracking.tracks import max_growth_rate

MATCH_UM = 1.0  # a predicted centroid this close to a true one is the same migrasome
# a true migrasome growing slower than this has plateaued (its rate is rasterization jitter):
# a relative error against it is meaningless, so it is left out of the growth-rate error
MIN_GROWTH_UM_PER_MIN = 0.01


def truth_detections(truth: dict[str, Any]) -> pd.DataFrame:
    """One row per true migrasome per frame it shows in: ``frame, id, y_um, x_um, diameter_um``
    (equivalent-disc diameter of its rasterized area, as migraseg-predict measures)."""
    px = truth["pixel_size_um"]
    rows = [
        (f["t"], m["id"], m["y_um"], m["x_um"], 2 * math.sqrt(m["area_px"] / math.pi) * px)
        for f in truth["frames"]
        for m in f["migrasomes"]
        if m["area_px"]
    ]
    return pd.DataFrame(rows, columns=["frame", "id", "y_um", "x_um", "diameter_um"])


def predicted_detections(stacked: StackTracks, pixel_size_um: float) -> pd.DataFrame:
    """A tracked stack's migrasomes as :func:`tracking_scores` reads them: ``frame, track_id,
    y_um, x_um, diameter_um``, centroids in µm from each frame's own top-left corner (as the
    truth's, which moves with the stage)."""
    found = stacked.detections
    return pd.DataFrame(
        {
            "frame": found["frame"],
            "track_id": found["track_id"],
            "y_um": (found["y_px"] + 0.5) * pixel_size_um,
            "x_um": (found["x_px"] + 0.5) * pixel_size_um,
            "diameter_um": found["diameter_um"],
        }
    )


def matched_ids(truth: pd.DataFrame, predicted: pd.DataFrame) -> dict[int, int]:
    """The true id each predicted track covers most often (unmatched tracks are left out)."""
    _, pairs = _accumulate(truth, predicted)
    return {track: counts.most_common(1)[0][0] for track, counts in pairs.items()}


def _accumulate(truth: pd.DataFrame, predicted: pd.DataFrame) -> tuple[Any, dict[int, Counter]]:
    """A motmetrics accumulator over every frame, and per predicted track the true ids it was
    matched to (with counts)."""
    accumulator = mm.MOTAccumulator(auto_id=False)
    for frame in sorted(set(truth["frame"]) | set(predicted["frame"])):
        true = truth[truth["frame"] == frame]
        pred = predicted[predicted["frame"] == frame]
        distances = mm.distances.norm2squared_matrix(
            true[["y_um", "x_um"]].to_numpy(), pred[["y_um", "x_um"]].to_numpy(), MATCH_UM**2
        )
        accumulator.update(true["id"].tolist(), pred["track_id"].tolist(), distances, int(frame))
    events = accumulator.mot_events
    matched = events[events["Type"].isin(["MATCH", "SWITCH"])]
    pairs: dict[int, Counter] = {}
    for oid, hid in matched[["OId", "HId"]].itertuples(index=False):
        pairs.setdefault(int(hid), Counter())[int(oid)] += 1
    return accumulator, pairs


def _track_errors(
    truth: pd.DataFrame, predicted: pd.DataFrame, pairs: dict[int, Counter], interval_min: float
) -> tuple[list[float], list[int]]:
    """Relative growth-rate errors and nucleation errors (frames) of matched tracks."""
    growth, nucleation = [], []
    first_seen = truth.groupby("id")["frame"].min()
    for track_id, counts in pairs.items():
        true_id = counts.most_common(1)[0][0]
        mine = predicted[predicted["track_id"] == track_id].sort_values("frame")
        theirs = truth[truth["id"] == true_id].sort_values("frame")
        rates = [
            max_growth_rate(t["frame"].to_numpy() * interval_min, t["diameter_um"].to_numpy())
            for t in (mine, theirs)
        ]
        if np.isfinite(rates).all() and rates[1] > MIN_GROWTH_UM_PER_MIN:
            growth.append(abs(rates[0] - rates[1]) / rates[1])
        if first_seen[true_id] > 0:
            nucleation.append(abs(int(mine["frame"].iloc[0]) - int(first_seen[true_id])))
    return growth, nucleation


def tracking_scores(stacks: list[tuple[pd.DataFrame, pd.DataFrame, float]]) -> dict[str, float]:
    """Scores over several stacks, each ``(truth, predicted, frame_interval_min)``: IDF1 and
    MOTA (motmetrics, all stacks pooled), identity switches (count and per true link), median
    relative growth-rate error and median nucleation error (frames).

    ``truth`` is :func:`truth_detections`; ``predicted`` has ``frame, track_id, y_um, x_um,
    diameter_um`` in the same frame of reference (µm from each frame's top-left corner).
    """
    accumulators, growth, nucleation, links = [], [], [], 0
    for truth, predicted, interval_min in stacks:
        accumulator, pairs = _accumulate(truth, predicted)
        accumulators.append(accumulator)
        g, n = _track_errors(truth, predicted, pairs, interval_min)
        growth += g
        nucleation += n
        links += int((truth.groupby("id").size() - 1).sum())
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)  # motmetrics times its steps with logging.info on the root logger
    try:
        summary = (
            mm.metrics.create()
            .compute_many(
                accumulators, metrics=["idf1", "num_switches", "mota"], generate_overall=True
            )
            .loc["OVERALL"]
        )
    finally:
        logging.disable(previous)
    switches = int(summary["num_switches"])
    return {
        "idf1": float(summary["idf1"]),
        "mota": float(summary["mota"]),
        "id_switches": switches,
        "true_links": links,
        "id_switches_per_link": switches / links if links else math.nan,
        "growth_rate_rel_error_median": float(np.median(growth)) if growth else math.nan,
        "nucleation_error_frames_median": float(np.median(nucleation)) if nucleation else math.nan,
        "n_growth_tracks": len(growth),
        "n_nucleation_tracks": len(nucleation),
    }
