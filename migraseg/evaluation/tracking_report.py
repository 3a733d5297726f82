"""The report's Tracking section of a time-lapse set: scores with definitions, and true and
predicted growth curves side by side (:mod:`migraseg.evaluation.timelapse` makes the numbers)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from migraseg.evaluation.figures import _save, slug
from migraseg.evaluation.render import Block, Table
from migraseg.evaluation.results import SetResult
from migraseg.evaluation.tracking import MATCH_UM, matched_ids

# (key, label, goal (issue 11's bar, "" for none), one-line definition)
ROWS = (
    (
        "idf1",
        "IDF1",
        "≥ 0.95",
        "share of detections given the right identity: true and predicted tracks are paired one "
        "to one to share the most frames, then 2 × shared / (true + predicted detections)",
    ),
    (
        "mota",
        "MOTA",
        "",
        "1 − (missed + false detections + identity switches) / true detections",
    ),
    (
        "id_switches",
        "identity switches",
        "≤ 2% of true links",
        "frames in which a true migrasome's matched track changes; of its true links (one per "
        "pair of consecutive frames it shows in)",
    ),
    (
        "growth_rate_rel_error_median",
        "growth rate error, median (relative)",
        "≤ 15%",
        "|predicted − true| / true maximal growth rate (steepest 3-point slope of diameter "
        "against time), per predicted track and the true migrasome it covers most often",
    ),
    (
        "nucleation_error_frames_median",
        "nucleation time error, median (frames)",
        "≤ 1",
        "|first frame of the predicted track − first frame of its true migrasome|, for "
        "migrasomes that nucleate during the movie",
    ),
    ("n_growth_tracks", "tracks scored for growth", "", "matched tracks with a growth rate"),
    ("n_nucleation_tracks", "tracks scored for nucleation", "", "matched tracks born in the movie"),
    (
        "seconds",
        "tracking time (s)",
        "",
        "measuring the predicted frames, drift and linking (segmentation not counted)",
    ),
)


def _cell(scores: dict[str, float], key: str) -> str:
    value = scores.get(key)
    if value is None or value != value:
        return "–"
    if key == "id_switches":
        share = scores["id_switches_per_link"]
        share_text = f", {share:.1%}" if share == share else ""
        return f"{value} of {scores['true_links']}{share_text}"
    if "rel_err" in key:
        return f"{value:.1%}"
    if key.startswith("n_"):
        return f"{value:.0f}"
    two_decimals = key in ("seconds", "nucleation_error_frames_median")
    return f"{value:.2f}" if two_decimals else f"{value:.3f}"


def tracking_table(result: SetResult) -> Table:
    """Tracking scores, one column per model, with the goal and a definition per row."""
    names = [n for n, m in result.models.items() if m.tracking is not None]
    rows = [
        [label, *(_cell(result.models[n].tracking.scores, key) for n in names), goal, definition]
        for key, label, goal, definition in ROWS
    ]
    n = len(names)
    return Table(["metric", *names, "goal", "what it measures"], rows, text={n + 1, n + 2})


def growth_comparison(result: SetResult, path: Path) -> Path:
    """Diameter against time per track in the stack with the most true migrasomes: the truth,
    then each model. A predicted track takes the colour of the true migrasome it covers most
    often; unmatched tracks are grey and dashed."""
    models = {n: m.tracking for n, m in result.models.items() if m.tracking is not None}
    first = next(iter(models.values()))
    stack = max(first.truth, key=lambda s: first.truth[s]["id"].nunique())
    interval = first.interval_min[stack]
    truth = first.truth[stack]
    fig = Figure(figsize=(4 * (1 + len(models)), 3.6))
    axes = fig.subplots(1, 1 + len(models), sharex=True, sharey=True, squeeze=False)[0]
    palette = [f"C{i}" for i in range(10) if i != 7]  # C7 is the grey of unmatched tracks
    colours = {t: palette[i % len(palette)] for i, t in enumerate(sorted(truth["id"].unique()))}

    def draw(ax, table: pd.DataFrame, key: str, colour_of: dict[int, int] | None) -> None:
        for tid, track in table.sort_values("frame").groupby(key):
            true_id = tid if colour_of is None else colour_of.get(int(tid))
            style = {"color": colours[true_id]} if true_id in colours else {"color": "0.6"}
            style["ls"] = "-" if true_id in colours else "--"
            ax.plot(track["frame"] * interval, track["diameter_um"], lw=1.2, marker=".", **style)

    draw(axes[0], truth, "id", None)
    axes[0].set(title=f"truth ({truth['id'].nunique()} migrasomes)", ylabel="diameter (µm)")
    for ax, (name, tracking) in zip(axes[1:], models.items(), strict=True):
        predicted = tracking.predicted[stack]
        draw(ax, predicted, "track_id", matched_ids(tracking.truth[stack], predicted))
        ax.set_title(f"{name} ({predicted['track_id'].nunique()} tracks)")
    for ax in axes:
        ax.set_xlabel("time (min)")
    fig.suptitle(f"Growth curves: {result.eval_set.name}, stack {stack}", fontsize=10, y=1.03)
    return _save(fig, path)


def tracking_blocks(result: SetResult, figures: Path) -> list[Block]:
    """The Tracking section of a time-lapse set (none for still-image sets)."""
    if result.lapse is None or not any(m.tracking for m in result.models.values()):
        return []
    frames = result.lapse.n_frames
    lengths = f"{min(frames)}" if min(frames) == max(frames) else f"{min(frames)}–{max(frames)}"
    intervals = sorted({t["frame_interval_min"] for t in result.lapse.truths.values()})
    spacing = (
        f"{intervals[0]:.3g} min apart"
        if len(intervals) == 1
        else f"{intervals[0]:.2g}–{intervals[-1]:.2g} min apart (each stack its own)"
    )
    intro = (
        f"{len(frames)} time-lapse stacks of {lengths} frames, {spacing}. Each model's "
        "predicted frames are measured, stage drift removed and migrasomes linked over frames "
        "exactly as migraseg-predict tracks a movie (docs/timelapse.md); in each frame, "
        f"predicted and true migrasomes are matched by centroid within {MATCH_UM:g} µm "
        "(motmetrics), and the truth's ids say which links are right. The figure shows one "
        "stack: the true diameters against time, and each model's tracks coloured as the true "
        "migrasome they follow."
    )
    path = figures / f"{slug(result.eval_set.name)}_growth.png"
    return [
        ("h3", "Tracking"),
        ("p", intro),
        ("table", tracking_table(result)),
        ("img", growth_comparison(result, path)),
    ]
