"""Report figures (PNG via matplotlib's object API: no pyplot, no display, no global state).

Per set: predicted vs true migrasome counts, diameter histograms and matched diameters,
recall and precision by size, and for each model its best and worst image (truth, prediction,
and an error map with missed and false migrasomes circled, with scale bars) and close-ups of
the worst image where the model errs most, magnified so that 1–3 px fibers show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Circle, Patch
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from scipy.ndimage import uniform_filter

from migraseg.data.contract import image_to_cyx
from migraseg.data.truth import read_truth
from migraseg.evaluation.results import Extreme, SetResult
from migraseg.evaluation.summary import matched_diameters
from migraseg.io import read_image
from migraseg.metrics.objects import instance_overlaps, match_overlaps
from migraseg.utils.files import atomic_path
from migraseg.visualize import ERROR_COLOURS, error_map, overlay, to_gray

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


@dataclass
class ImageView:
    """One image of a set with its truth and a model's prediction, ready to draw."""

    image: np.ndarray  # (Y, X) first channel
    truth: np.ndarray  # (Y, X) class ids
    pred: np.ndarray  # (Y, X) class ids
    true_ids: np.ndarray  # (Y, X) migrasome instance ids
    pred_ids: np.ndarray
    pixel_size_um: float

    @classmethod
    def load(cls, result: SetResult, extreme: Extreme) -> ImageView:
        record = next(r for r in result.records if r.stem == extreme.stem)
        array, meta = read_image(record.image_path)
        truth, pred = read_truth(record), extreme.segmentation
        return cls(
            image_to_cyx(array, meta["axes"])[0],
            truth.labels,
            pred.labels,
            truth.migrasome_ids,
            pred.migrasome_ids,
            record.pixel_size_um,
        )

    def crop(self, box: tuple[slice, slice]) -> ImageView:
        return ImageView(
            self.image[box],
            self.truth[box],
            self.pred[box],
            self.true_ids[box],
            self.pred_ids[box],
            self.pixel_size_um,
        )


def scale_bar_um(width_um: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10^k µm) of at most a fifth of the width."""
    target = width_um / 5
    power = 10 ** np.floor(np.log10(target))
    return float(next(m * power for m in (5, 2, 1) if m * power <= target))


def add_scale_bar(ax: Axes, pixel_size_um: float, width_px: int) -> None:
    """A white scale bar with its length in µm, lower left (image axes in pixels)."""
    length = scale_bar_um(width_px * pixel_size_um)
    ax.add_artist(
        AnchoredSizeBar(
            ax.transData,
            length / pixel_size_um,
            f"{length:g} µm",
            "lower left",
            pad=0.4,
            color="white",
            frameon=False,
            size_vertical=max(width_px / 150, 1.0),
            fontproperties=FontProperties(size=9, weight="bold"),
        )
    )


def _error_panels(view: ImageView, name: str) -> tuple[tuple[np.ndarray, str], ...]:
    return (
        (overlay(view.image, view.truth), "truth"),
        (overlay(view.image, view.pred), f"prediction ({name})"),
        (error_map(view.image, view.truth, view.pred), "errors"),
    )


def _outcome_legend(ax: Axes) -> dict[str, np.ndarray]:
    colour = {k: np.array(v) / 255 for k, v in ERROR_COLOURS.items()}
    ax.legend(
        handles=[Patch(color=c, label=k) for k, c in colour.items()],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        framealpha=0.8,
    )
    return colour


def extreme_overlay(result: SetResult, name: str, extreme: Extreme, kind: str, path: Path) -> Path:
    """Image with truth | with prediction | error map, missed/false migrasomes circled, scale
    bars; zoomed on the labelled part of the image, at least one screen pixel per image pixel
    up to 640 px across."""
    full = ImageView.load(result, extreme)
    view = full.crop(foreground_box(full.truth, full.pred))
    match = match_overlaps(instance_overlaps(view.true_ids, view.pred_ids), 0.5)
    missed = np.setdiff1d(np.arange(match.n_true), match.true_index)
    false = np.setdiff1d(np.arange(match.n_pred), match.pred_index)
    height, width = view.truth.shape
    panel_in = float(np.clip(max(width, height) / 100, 3.5, 6.4))  # inches at 100 dpi
    fig = Figure(figsize=(3 * panel_in + 1.6, panel_in * height / max(width, 1) + 0.8))
    axes = fig.subplots(1, 3)
    for ax, (rgb, title) in zip(axes, _error_panels(view, name), strict=True):
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
        add_scale_bar(ax, view.pixel_size_um, width)
    colour = _outcome_legend(axes[2])
    _circle_unmatched(axes[2], view.true_ids, missed, colour["missed"])
    _circle_unmatched(axes[2], view.pred_ids, false, colour["false"])
    fig.suptitle(
        f"{kind} image for {name} on {result.eval_set.name}: {extreme.stem} "
        f"(quality {extreme.quality:.2f}; {len(missed)} migrasomes missed, {len(false)} false)",
        fontsize=10,
    )
    return _save(fig, path)


def error_windows(
    truth: np.ndarray, pred: np.ndarray, size: int, n: int = 3
) -> list[tuple[slice, slice]]:
    """Up to ``n`` ``size``² windows (Y, X slices), each centred on the wrongly labelled pixels
    (annotated pixels only) of the densest window not shown yet, most first; none where nothing
    is wrong."""
    wrong = ((truth != pred) & (truth < 4)).astype(np.float64)
    size = min(size, *truth.shape)
    windows = []
    for _ in range(n):
        density = uniform_filter(wrong, size, mode="constant")
        y, x = np.unravel_index(np.argmax(density), density.shape)
        if density[y, x] <= 0:
            break
        near = (
            slice(max(y - size // 2, 0), y + size // 2),
            slice(max(x - size // 2, 0), x + size // 2),
        )
        ys, xs = np.nonzero(wrong[near])
        y, x = near[0].start + ys.mean(), near[1].start + xs.mean()
        y0 = int(np.clip(round(y) - size // 2, 0, truth.shape[0] - size))
        x0 = int(np.clip(round(x) - size // 2, 0, truth.shape[1] - size))
        box = (slice(y0, y0 + size), slice(x0, x0 + size))
        windows.append(box)
        wrong[box] = 0
    return windows


def error_crops(
    result: SetResult, name: str, extreme: Extreme, path: Path, size: int = 96
) -> Path | None:
    """Close-ups of the image's worst ``size``² windows (image | truth | prediction | errors),
    magnified so that 1–3 px fibers are plain to see; None when nothing is wrong."""
    full = ImageView.load(result, extreme)
    windows = error_windows(full.truth, full.pred, size)
    if not windows:
        return None
    fig = Figure(figsize=(4 * 3.4, len(windows) * 3.6))
    axes = np.atleast_2d(fig.subplots(len(windows), 4))
    for row, box in zip(axes, windows, strict=True):
        view = full.crop(box)
        panels = ((to_gray(view.image), "image"), *_error_panels(view, name))
        for ax, (rgb, title) in zip(row, panels, strict=True):
            ax.imshow(rgb, interpolation="nearest")
            ax.set_title(f"{title}, x {box[1].start}, y {box[0].start}", fontsize=9)
            ax.axis("off")
            add_scale_bar(ax, view.pixel_size_um, view.truth.shape[1])
    _outcome_legend(axes[0, 3])
    fig.suptitle(
        f"Close-ups where {name} errs most on {extreme.stem} ({size}×{size} px)", fontsize=10
    )
    return _save(fig, path)
