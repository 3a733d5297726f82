"""Set-level metrics from per-image records, with bootstrap intervals over images.

Pixel and object counts are summed over images before ratios are taken (pooled); clDice, count
and length errors are averaged over images; diameter errors are quantiles over matched pairs.
Every metric is a function of image weights (:mod:`migraseg.metrics.bootstrap`), so the same
code yields the point estimate, the 95% interval and paired differences between models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Any

import numpy as np

from migraseg.constants import CLASS_NAMES, FOREGROUND_CLASSES
from migraseg.evaluation.scoring import ImageRecord
from migraseg.metrics.bootstrap import (
    mean_over_images,
    percentile_interval,
    pooled,
    ratio,
    weighted_quantile,
)
from migraseg.metrics.centerline import FiberScores
from migraseg.metrics.objects import IOU_THRESHOLDS

HEADLINE_KEYS: tuple[str, ...] = (
    "cell.dice",
    "retraction_fiber.dice",
    "retraction_fiber.cldice",
    "migrasome.dice",
    "migrasome.f1@0.5",
    "migrasome.precision@0.5",
    "migrasome.recall@0.5",
    "migrasome.count_mae",
    "migrasome.diameter_rel_err_median",
)
# Whether a larger value is better, for verdicts and for colouring differences.
LOWER_IS_BETTER = ("count_mae", "diameter_rel_err_median")


def size_bin_names(edges: Sequence[float]) -> list[str]:
    """Names of the diameter bins: ``<0.5``, ``0.5-1``, ``1-2``, ``2-3``, ``>3`` for 0.5,1,2,3."""
    fmt = [f"{e:g}" for e in edges]
    inner = [f"{a}-{b}" for a, b in pairwise(fmt)]
    return [f"<{fmt[0]}", *inner, f">{fmt[-1]}"]


def _bin_counts(
    rows: Sequence[ImageRecord], key: str, matched_key: str, edges: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Per image and diameter bin: objects, and matched objects. → 2 × (N, n_bins)."""
    n_bins = len(edges) + 1
    total, matched = np.zeros((len(rows), n_bins)), np.zeros((len(rows), n_bins))
    for i, row in enumerate(rows):
        obj = row.migrasome
        bins = np.digitize(getattr(obj, key), edges)
        total[i] = np.bincount(bins, minlength=n_bins)
        matched[i] = np.bincount(bins[getattr(obj, matched_key)], minlength=n_bins)
    return total, matched


def matched_diameters(rows: Sequence[ImageRecord]) -> tuple[list[float], list[float]]:
    """True and predicted diameters (µm) of the matched migrasome pairs of all images."""
    true, pred = [], []
    for row in rows:
        obj = row.migrasome
        true += [obj.true_diameter_um[j] for j in obj.matched_true]
        pred += [obj.pred_diameter_um[j] for j in obj.matched_pred]
    return true, pred


@dataclass
class SetStatistics:
    """Per-image sufficient statistics of one model on one set (N images, P matched pairs)."""

    counts: np.ndarray  # (N, K, 3) tp, fp, fn per class
    fiber: dict[str, np.ndarray]  # FiberScores fields, each (N,)
    n_true: np.ndarray  # (N,) migrasomes
    n_pred: np.ndarray
    tp_by_iou: np.ndarray  # (N, T)
    pair_image: np.ndarray  # (P,) image of each matched pair (IoU ≥ 0.5)
    pair_true_um: np.ndarray  # (P,) true diameter
    pair_pred_um: np.ndarray
    pair_iou: np.ndarray
    true_by_size: np.ndarray  # (N, n_bins) true migrasomes per diameter bin
    found_by_size: np.ndarray  # ... of which matched
    pred_by_size: np.ndarray  # (N, n_bins) predicted migrasomes per diameter bin
    correct_by_size: np.ndarray  # ... of which matched
    cells: np.ndarray | None  # (N, 3) n_true, n_pred, tp; None without cell instances
    bin_names: list[str]

    @classmethod
    def from_rows(
        cls, rows: Sequence[ImageRecord], size_bin_edges_um: Sequence[float]
    ) -> SetStatistics:
        n = len(rows)
        fiber = {
            f.name: np.array([getattr(r.retraction_fiber, f.name) for r in rows], np.float64)
            for f in fields(FiberScores)
        }
        mig = [r.migrasome for r in rows]
        pairs_true, pairs_pred = matched_diameters(rows)
        pair_image = [i for i, m in enumerate(mig) for _ in m.matched_true]
        pair_iou = [iou for m in mig for iou in m.matched_iou]
        true_total, true_found = _bin_counts(
            rows, "true_diameter_um", "matched_true", size_bin_edges_um
        )
        pred_total, pred_correct = _bin_counts(
            rows, "pred_diameter_um", "matched_pred", size_bin_edges_um
        )
        has_cells = n > 0 and all(r.cell is not None for r in rows)
        return cls(
            counts=np.array([r.counts for r in rows], np.float64).reshape(n, len(CLASS_NAMES), 3),
            fiber=fiber,
            n_true=np.array([m.n_true for m in mig], np.float64),
            n_pred=np.array([m.n_pred for m in mig], np.float64),
            tp_by_iou=np.array([m.tp_by_iou for m in mig], np.float64).reshape(
                n, len(IOU_THRESHOLDS)
            ),
            pair_image=np.array(pair_image, np.int64),
            pair_true_um=np.array(pairs_true, np.float64),
            pair_pred_um=np.array(pairs_pred, np.float64),
            pair_iou=np.array(pair_iou, np.float64),
            true_by_size=true_total,
            found_by_size=true_found,
            pred_by_size=pred_total,
            correct_by_size=pred_correct,
            cells=(
                np.array([[r.cell.n_true, r.cell.n_pred, r.cell.tp] for r in rows], float)
                if has_cells
                else None
            ),
            bin_names=size_bin_names(size_bin_edges_um),
        )

    @property
    def n_images(self) -> int:
        return len(self.n_true)

    def metrics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every set-level metric for each row of image weights (B, N) → {key: (B,)}.

        Keys are ``<class>.<metric>``; ``a/b`` in a metric name nests as ``{a: {b: ...}}``
        in metrics.json.
        """
        w = weights
        out: dict[str, np.ndarray] = {}
        for c in FOREGROUND_CLASSES:
            tp, fp, fn = (self.counts[:, c, i] for i in range(3))
            name = CLASS_NAMES[c]
            out[f"{name}.dice"] = pooled(w, 2 * tp, 2 * tp + fp + fn)
            out[f"{name}.iou"] = pooled(w, tp, tp + fp + fn)
            out[f"{name}.precision"] = pooled(w, tp, tp + fp)
            out[f"{name}.recall"] = pooled(w, tp, tp + fn)
        out.update(self._fiber_metrics(w))
        out.update(self._migrasome_metrics(w))
        if self.cells is not None:
            n_true, n_pred, tp = self.cells.T
            out["cell.instance_precision@0.5"] = pooled(w, tp, n_pred)
            out["cell.instance_recall@0.5"] = pooled(w, tp, n_true)
            out["cell.instance_f1@0.5"] = pooled(w, 2 * tp, n_true + n_pred)
        return out

    def _fiber_metrics(self, w: np.ndarray) -> dict[str, np.ndarray]:
        f = self.fiber
        precision = pooled(w, f["skeleton_pred_hits"], f["skeleton_pred_px"])
        recall = pooled(w, f["skeleton_true_hits"], f["skeleton_true_px"])
        length_error = f["length_pred_um"] - f["length_true_um"]
        component_error = f["components_pred"] - f["components_true"]
        return {
            "retraction_fiber.cldice": mean_over_images(w, f["cldice"]),
            "retraction_fiber.skeleton_precision": precision,
            "retraction_fiber.skeleton_recall": recall,
            "retraction_fiber.skeleton_f1": ratio(2 * precision * recall, precision + recall),
            "retraction_fiber.length_true_um": mean_over_images(w, f["length_true_um"]),
            "retraction_fiber.length_pred_um": mean_over_images(w, f["length_pred_um"]),
            "retraction_fiber.length_abs_err_um": mean_over_images(w, np.abs(length_error)),
            "retraction_fiber.length_bias_um": mean_over_images(w, length_error),
            "retraction_fiber.length_rel_err": pooled(w, np.abs(length_error), f["length_true_um"]),
            "retraction_fiber.betti0_abs_err": mean_over_images(w, np.abs(component_error)),
            "retraction_fiber.betti0_bias": mean_over_images(w, component_error),
        }

    def _migrasome_metrics(self, w: np.ndarray) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        n_true, n_pred = self.n_true, self.n_pred
        f1s = []
        for t, threshold in enumerate(IOU_THRESHOLDS):
            f1s.append(pooled(w, 2 * self.tp_by_iou[:, t], n_true + n_pred))
            out[f"migrasome.f1_by_iou/{threshold:.2f}"] = f1s[-1]
        tp = self.tp_by_iou[:, 0]
        out["migrasome.precision@0.5"] = pooled(w, tp, n_pred)
        out["migrasome.recall@0.5"] = pooled(w, tp, n_true)
        out["migrasome.f1@0.5"] = f1s[0]
        out["migrasome.f1@0.5:0.95"] = np.mean(f1s, axis=0)
        out["migrasome.n_true"] = w @ n_true
        out["migrasome.n_pred"] = w @ n_pred
        out["migrasome.n_matched"] = w @ tp
        out["migrasome.count_mae"] = mean_over_images(w, np.abs(n_pred - n_true))
        out["migrasome.count_bias"] = mean_over_images(w, n_pred - n_true)
        out["migrasome.count_rel_err"] = pooled(w, np.abs(n_pred - n_true), n_true)
        out["migrasome.mean_matched_iou"] = pooled(
            w[:, self.pair_image], self.pair_iou, np.ones_like(self.pair_iou)
        )
        error = self.pair_pred_um - self.pair_true_um
        rel = np.abs(error) / self.pair_true_um
        for name, values, q in (
            ("diameter_abs_err_um_median", np.abs(error), 0.5),
            ("diameter_abs_err_um_p90", np.abs(error), 0.9),
            ("diameter_rel_err_median", rel, 0.5),
            ("diameter_rel_err_p90", rel, 0.9),
            ("diameter_bias_um_median", error, 0.5),
        ):
            out[f"migrasome.{name}"] = weighted_quantile(w, values, self.pair_image, q)
        for b, name in enumerate(self.bin_names):
            out[f"migrasome.recall_by_size/{name}"] = pooled(
                w, self.found_by_size[:, b], self.true_by_size[:, b]
            )
            out[f"migrasome.precision_by_size/{name}"] = pooled(
                w, self.correct_by_size[:, b], self.pred_by_size[:, b]
            )
            out[f"migrasome.n_true_by_size/{name}"] = w @ self.true_by_size[:, b]
            out[f"migrasome.n_pred_by_size/{name}"] = w @ self.pred_by_size[:, b]
        return out


def nest(flat: dict[str, float]) -> dict[str, dict[str, Any]]:
    """``{"cell.dice": x, "migrasome.recall_by_size/1-2": y}`` → ``{"cell": {"dice": x},
    "migrasome": {"recall_by_size": {"1-2": y}}}``."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        cls, metric = key.split(".", 1)
        if "/" in metric:
            group, item = metric.split("/", 1)
            out.setdefault(cls, {}).setdefault(group, {})[item] = value
        else:
            out.setdefault(cls, {})[metric] = value
    return out


@dataclass
class SetSummary:
    """Point estimates, headline intervals and bootstrap replicates of one model on one set."""

    values: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    replicates: dict[str, np.ndarray]  # headline key → (B,), for paired comparisons

    def to_dict(self) -> dict[str, Any]:
        return {
            "headline": {k: self.values.get(k, float("nan")) for k in HEADLINE_KEYS},
            "ci95": {k: list(v) for k, v in self.intervals.items()},
            "classes": nest(self.values),
        }


def summarize(
    rows: Sequence[ImageRecord],
    weights: np.ndarray | None = None,
    size_bin_edges_um: Sequence[float] = (0.5, 1.0, 2.0, 3.0),
    level: float = 0.95,
) -> SetSummary:
    """Set-level metrics of per-image records; intervals when bootstrap ``weights`` (B, N) are
    given (use the same weights for every model on a set to compare models pairwise)."""
    stats = SetStatistics.from_rows(rows, size_bin_edges_um)
    values = {k: float(v[0]) for k, v in stats.metrics(np.ones((1, stats.n_images))).items()}
    intervals: dict[str, tuple[float, float]] = {}
    replicates: dict[str, np.ndarray] = {}
    if weights is not None and stats.n_images:
        boot = stats.metrics(weights)
        replicates = {k: boot[k] for k in HEADLINE_KEYS if k in boot}
        intervals = {k: percentile_interval(v, level) for k, v in replicates.items()}
    return SetSummary(values, intervals, replicates)


def paired_difference(
    a: SetSummary, b: SetSummary, level: float = 0.95
) -> dict[str, dict[str, Any]]:
    """Headline differences a − b with paired bootstrap intervals (same resampled images)."""
    out = {}
    for key in HEADLINE_KEYS:
        if key not in a.replicates or key not in b.replicates:
            continue
        delta = a.values[key] - b.values[key]
        out[key] = {
            "delta": delta,
            "ci95": list(percentile_interval(a.replicates[key] - b.replicates[key], level)),
        }
    return out
