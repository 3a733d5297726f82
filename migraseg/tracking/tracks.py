"""Per-track and per-cell summaries of a tracked time-lapse (``<stem>_tracks.csv``,
``<stem>_cells_over_time.csv``), from one table of detections.

Detections are a :class:`pandas.DataFrame` with one row per migrasome per frame: ``frame``,
``time_min`` (in frames when the frame interval is unknown: ``time_unit`` says which),
``track_id``, ``diameter_um``, ``site`` and ``cell_id`` (the tracked cell nearest
to it, 0 if none). A track present in the first frame formed before the movie started: its birth
is unknown (``born_in_movie`` false) and it is not counted as formed during the movie.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

TRACK_COLUMNS = [
    "track_id", "first_frame", "last_frame", "first_time_min", "last_time_min", "lifetime_min",
    "n_frames", "born_in_movie", "diameter_birth_um", "diameter_max_um", "diameter_end_um",
    "max_growth_um_per_min", "site_at_birth", "nearest_cell", "fate", "time_unit",
]  # fmt: skip
CELL_COLUMNS = [
    "cell_id", "frame", "time_min", "x_um", "y_um", "n_migrasomes", "n_formed",
    "formation_rate_per_h", "time_unit",
]  # fmt: skip
SHRINK = 0.8  # a track ending below this fraction of its maximal diameter shrank
GROWTH_WINDOW = 3  # observations per least-squares slope of diameter against time


def roi_name(track_id: int, frame: int) -> str:
    """A migrasome's ROI name, also its TrackMate spot's: Fiji's ROI Manager sorts a track's
    outlines frame by frame."""
    return f"t{track_id}_f{frame}"


def max_growth_rate(time_min: np.ndarray, diameter_um: np.ndarray) -> float:
    """Largest slope (µm/min) of diameter against time, each fitted by least squares to
    :data:`GROWTH_WINDOW` consecutive observations (fewer if the track has fewer; NaN for one):
    one noisy diameter then moves the rate less than a frame-to-frame difference would."""
    n = len(time_min)
    if n < 2:
        return math.nan
    window = min(GROWTH_WINDOW, n)
    slopes = [
        np.polyfit(time_min[i : i + window], diameter_um[i : i + window], 1)[0]
        for i in range(n - window + 1)
    ]
    return float(max(slopes))


def fate(ends_in_last_frame: bool, end_um: float, max_um: float) -> str:
    """``shrank`` (ends below :data:`SHRINK` of its maximum), else ``persists`` (still there at the
    end of the movie) or ``vanished`` (gone before it)."""
    if end_um < SHRINK * max_um:
        return "shrank"
    return "persists" if ends_in_last_frame else "vanished"


def track_rows(detections: pd.DataFrame, last_frame: int) -> list[dict[str, Any]]:
    """One row per track (:data:`TRACK_COLUMNS`)."""
    rows = []
    for track_id, track in detections.sort_values("frame").groupby("track_id"):
        t = track["time_min"].to_numpy(float)
        d = track["diameter_um"].to_numpy(float)
        first, last = track.iloc[0], track.iloc[-1]
        rows.append(
            {
                "track_id": int(track_id),
                "first_frame": int(first["frame"]),
                "last_frame": int(last["frame"]),
                "first_time_min": float(t[0]),
                "last_time_min": float(t[-1]),
                "lifetime_min": float(t[-1] - t[0]),
                "n_frames": len(track),
                "born_in_movie": bool(first["frame"] > 0),
                "diameter_birth_um": float(d[0]),
                "diameter_max_um": float(d.max()),
                "diameter_end_um": float(d[-1]),
                "max_growth_um_per_min": max_growth_rate(t, d),
                "site_at_birth": first["site"],
                "nearest_cell": int(first["cell_id"]) or "",
                "fate": fate(int(last["frame"]) == last_frame, d[-1], d.max()),
            }
        )
    return rows


def cell_rows(cells: pd.DataFrame, detections: pd.DataFrame, tracks: list[dict]) -> list[dict]:
    """One row per tracked cell per frame (:data:`CELL_COLUMNS`): migrasomes nearest to it in the
    frame, migrasomes formed near it since the movie began (by their nearest cell at birth), and
    that count per hour of the cell's time in the movie so far."""
    present = detections.groupby(["cell_id", "frame"]).size()
    births = [(r["nearest_cell"], r["first_frame"]) for r in tracks if r["born_in_movie"]]
    rows = []
    for cell_id, cell in cells.sort_values("frame").groupby("cell_id"):
        start = float(cell["time_min"].iloc[0])
        for frame, time_min, x, y in cell[["frame", "time_min", "x_um", "y_um"]].itertuples(
            index=False
        ):
            formed = sum(c == cell_id and f <= frame for c, f in births)
            hours = (time_min - start) / 60
            rows.append(
                {
                    "cell_id": int(cell_id),
                    "frame": int(frame),
                    "time_min": float(time_min),
                    "x_um": round(float(x), 3),
                    "y_um": round(float(y), 3),
                    "n_migrasomes": int(present.get((cell_id, frame), 0)),
                    "n_formed": formed,
                    "formation_rate_per_h": formed / hours if hours > 0 else math.nan,
                }
            )
    return rows
