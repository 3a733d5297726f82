"""Link detections across frames into tracks with laptrack (LAP linking with gap closing).

Migrasomes sit still on the dish, so once stage drift is removed (:mod:`.drift`) a migrasome's
centroid moves only by segmentation jitter and growth: links are short. Gap closing bridges up to
``gap_frames`` frames in which a detection is missing: a migrasome the segmentation missed, or
one of two touching migrasomes while the segmentation merged them into one instance (the merged
instance continues one track; the other track resumes when they separate). laptrack's own split
and merge links are not used: they end the parent track and start new ids for both branches,
which would cut a migrasome's track at every transient merge.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
from laptrack import LapTrack


@dataclass(frozen=True)
class LinkParams:
    """How far (µm, after drift correction) a detection may move between linked frames, and how
    many frames it may be missing in between."""

    max_step_um: float
    gap_frames: int = 2


# Migrasomes: jitter and growth of a 0.5–3 µm vesicle. Cells: crawling at ≲ 1 µm/min for a few min.
MIGRASOME_LINKS = LinkParams(max_step_um=1.5)
CELL_LINKS = LinkParams(max_step_um=15.0)


def link(frame: np.ndarray, y_um: np.ndarray, x_um: np.ndarray, params: LinkParams) -> np.ndarray:
    """Track ids (1, 2, ...) of detections given by frame index and drift-corrected centroid.

    Tracks are read off laptrack's graph (its nodes are (frame, index in frame)) as connected
    components, which is much faster than its DataFrame conversion.
    """
    frame = np.asarray(frame, int)
    n = len(frame)
    if n == 0:
        return np.zeros(0, int)
    cutoff = params.max_step_um**2
    tracker = LapTrack(
        cutoff=cutoff,
        gap_closing_cutoff=cutoff,
        gap_closing_max_frame_count=params.gap_frames + 1,  # frames apart, not missing
        splitting_cutoff=False,
        merging_cutoff=False,
    )
    points = np.stack([np.asarray(y_um, float), np.asarray(x_um, float)], axis=1)
    rows = [np.flatnonzero(frame == t) for t in range(frame.max() + 1)]
    graph = tracker.predict([points[r] for r in rows])
    ids = np.zeros(n, int)
    components = sorted(nx.weakly_connected_components(graph), key=min)
    for track_id, nodes in enumerate(components, start=1):
        for t, i in nodes:
            ids[rows[t][i]] = track_id
    return ids
