"""Report figures (PNG via matplotlib's object API: no pyplot, no display, no global state).

Per set: predicted vs true migrasome counts, diameter histograms and matched diameters,
recall and precision by size, and for each model its best and worst image (truth, prediction,
and an error map with missed and false migrasomes circled).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Patch

from migraseg.data.contract import image_to_cyx
from migraseg.data.truth import read_truth
from migraseg.evaluation.results import Extreme, SetResult
from migraseg.evaluation.summary import matched_diameters
from migraseg.io import read_image
from migraseg.metrics.objects import instance_overlaps, match_overlaps
from migraseg.utils.files import atomic_path
from migraseg.visualize import ERROR_COLOURS, error_map, overlay

MARKERS = "osD^vP*X"


def slug(name: str) -> str:
    """A file-name-safe version of a set or model name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "set"


def _save(fig: Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
    return path


def count_scatter(result: SetResult, path: Path) -> Path:
    """Predicted vs true migrasome count per image, one marker per model, with y = x."""
    fig = Figure(figsize=(4.5, 4.2))
    ax = fig.subplots()
    top = 1.0
    for i, (name, model) in enumerate(result.models.items()):
        true = [r.migrasome.n_true for r in model.rows]
        pred = [r.migrasome.n_pred for r in model.rows]
        top = max(top, *true, *pred)
        ax.scatter(true, pred, label=name, marker=MARKERS[i % len(MARKERS)], alpha=0.75)
    ax.plot([0, top * 1.05], [0, top * 1.05], color="gray", lw=1, ls="--", label="y = x")
    ax.set(xlabel="true migrasomes per image", ylabel="predicted migrasomes per image")
    ax.set_title(f"Counts: {result.eval_set.name}", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def diameter_plots(result: SetResult, path: Path) -> Path:
    """Left: diameters of all true vs all predicted migrasomes. Right: matched pairs."""
    fig = Figure(figsize=(9, 3.8))
    hist, pairs = fig.subplots(1, 2)
    rows = next(iter(result.models.values())).rows
    true_all = np.concatenate([r.migrasome.true_diameter_um for r in rows] + [[]])
    bins = np.arange(0, max(4.0, float(true_all.max(initial=0)) + 0.25), 0.25)
    hist.hist(true_all, bins=bins, color="lightgray", label="truth")
    top = 3.0
    for i, (name, model) in enumerate(result.models.items()):
        pred = np.concatenate([r.migrasome.pred_diameter_um for r in model.rows] + [[]])
        hist.hist(np.clip(pred, 0, bins[-1]), bins=bins, histtype="step", lw=1.5, label=name)
        t, p = matched_diameters(model.rows)
        top = max([top, *t, *p])
        pairs.scatter(t, p, s=10, alpha=0.6, marker=MARKERS[i % len(MARKERS)], label=name)
    hist.set(xlabel="diameter (µm)", ylabel="migrasomes", title="All objects")
    pairs.plot([0, top], [0, top], color="gray", lw=1, ls="--")
    pairs.set(
        xlabel="true diameter (µm)",
        ylabel="predicted diameter (µm)",
        title="Matched pairs (IoU ≥ 0.5)",
    )
    hist.legend(fontsize=8)
    pairs.legend(fontsize=8)
    fig.suptitle(f"Migrasome diameters: {result.eval_set.name}", fontsize=10)
    return _save(fig, path)


def size_precision_recall(result: SetResult, path: Path) -> Path:
    """Recall (of true migrasomes) and precision (of predicted ones) per diameter bin."""
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2, sharey=True)
    names = list(result.models)
    width = 0.8 / max(len(names), 1)
    for ax, group in zip(axes, ("recall_by_size", "precision_by_size"), strict=True):
        for i, name in enumerate(names):
            classes = result.models[name].summary.to_dict()["classes"]["migrasome"]
            bins = list(classes[group])
            values = [classes[group][b] for b in bins]
            x = np.arange(len(bins)) + (i - (len(names) - 1) / 2) * width
            ax.bar(x, np.nan_to_num(values), width, label=name)
            ticks = [f"{b} µm" for b in bins]
            if group == "recall_by_size":  # how many true objects each bar rests on
                ticks = [f"{b} µm\n(n={classes['n_true_by_size'][b]:.0f})" for b in bins]
            ax.set_xticks(np.arange(len(bins)), ticks, fontsize=8)
        ax.set(ylim=(0, 1.05), title=group.replace("_", " "))
    axes[0].set_ylabel("fraction (at IoU ≥ 0.5)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Detection by size: {result.eval_set.name}", fontsize=10)
    return _save(fig, path)


def _circle_unmatched(ax: Axes, ids: np.ndarray, unmatched: np.ndarray, colour) -> None:
    """Circle the instances of ``ids`` listed (by index into sorted ids) in ``unmatched``."""
    if not len(unmatched):
        return
    present = np.unique(ids[ids > 0])
    for label in present[unmatched]:
        yy, xx = np.nonzero(ids == label)
        radius = max(np.sqrt(len(yy) / np.pi) * 1.8, 6)
        ax.add_patch(Circle((xx.mean(), yy.mean()), radius, fill=False, ec=colour, lw=1.2))


def foreground_box(*labels: np.ndarray, margin: float = 0.05) -> tuple[slice, slice]:
    """Bounding box of everything labelled in any of the label images (Y, X), grown by
    ``margin`` of the image size: the overlays zoom on where the objects are."""
    any_fg = np.logical_or.reduce([lab > 0 for lab in labels])
    if not any_fg.any():
        return slice(None), slice(None)
    box = []
    for axis, size in enumerate(any_fg.shape):
        hits = np.flatnonzero(any_fg.any(axis=1 - axis))
        pad = round(margin * size)
        box.append(slice(max(hits[0] - pad, 0), min(hits[-1] + 1 + pad, size)))
    return box[0], box[1]


def extreme_overlay(result: SetResult, name: str, extreme: Extreme, kind: str, path: Path) -> Path:
    """Image with truth | with prediction | error map, missed/false migrasomes circled; zoomed
    on the labelled part of the image."""
    record = next(r for r in result.records if r.stem == extreme.stem)
    array, meta = read_image(record.image_path)
    image = image_to_cyx(array, meta["axes"])[0]
    truth = read_truth(record)
    pred = extreme.segmentation
    box = foreground_box(truth.labels, pred.labels)
    image, labels, pred_labels = image[box], truth.labels[box], pred.labels[box]
    true_ids, pred_ids = truth.migrasome_ids[box], pred.migrasome_ids[box]
    match = match_overlaps(instance_overlaps(true_ids, pred_ids), 0.5)
    missed = np.setdiff1d(np.arange(match.n_true), match.true_index)
    false = np.setdiff1d(np.arange(match.n_pred), match.pred_index)
    fig = Figure(figsize=(13.5, 4.8))
    axes = fig.subplots(1, 3)
    panels = (
        (overlay(image, labels), "truth"),
        (overlay(image, pred_labels), f"prediction ({name})"),
        (error_map(image, labels, pred_labels), "errors"),
    )
    for ax, (rgb, title) in zip(axes, panels, strict=True):
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    colour = {k: np.array(v) / 255 for k, v in ERROR_COLOURS.items()}
    _circle_unmatched(axes[2], true_ids, missed, colour["missed"])
    _circle_unmatched(axes[2], pred_ids, false, colour["false"])
    axes[2].legend(
        handles=[Patch(color=c, label=k) for k, c in colour.items()],
        loc="lower right",
        fontsize=7,
        framealpha=0.8,
    )
    fig.suptitle(
        f"{kind} image for {name} on {result.eval_set.name}: {extreme.stem} "
        f"(quality {extreme.quality:.2f}; {len(missed)} migrasomes missed, {len(false)} false)",
        fontsize=10,
    )
    return _save(fig, path)
