"""Instance matching cross-checked against independent implementations on random masks."""

import numpy as np
import pytest
from skimage.draw import disk
from skimage.segmentation import relabel_sequential

from migraseg.metrics.objects import IOU_THRESHOLDS, match_at_thresholds


def random_instances(rng: np.random.Generator, shape=(96, 96), n=12) -> np.ndarray:
    """Discs of random size and place; later ones overwrite earlier (touching, cut, split)."""
    out = np.zeros(shape, np.int32)
    for i in range(1, n + 1):
        centre = rng.integers(-4, shape[0] + 4, 2)
        out[disk(tuple(centre), rng.uniform(2, 10), shape=shape)] = i
    return relabel_sequential(out)[0]


def perturbed(rng: np.random.Generator, truth: np.ndarray) -> np.ndarray:
    """A plausible prediction: objects shifted, grown or shrunk, dropped, plus spurious ones."""
    out = np.zeros_like(truth)
    next_id = 1
    for label in np.unique(truth[truth > 0]):
        if rng.random() < 0.15:
            continue
        mask = np.roll(truth == label, tuple(rng.integers(-3, 4, 2)), axis=(0, 1))
        if rng.random() < 0.3:
            mask = np.roll(mask, 1, axis=0) | mask  # grow
        out[mask] = next_id
        next_id += 1
    extra = random_instances(rng, truth.shape, int(rng.integers(0, 4)))
    out[extra > 0] = extra[extra > 0] + next_id
    return relabel_sequential(out)[0]


def slow_matching_tp(truth: np.ndarray, pred: np.ndarray, threshold: float) -> int:
    """Independent reference: IoU from boolean masks, greedy one-to-one by decreasing IoU.

    For thresholds ≥ 0.5 an object can have at most one partner with IoU > 0.5, so greedy
    matching is optimal there.
    """
    pairs = []
    for t in np.unique(truth[truth > 0]):
        a = truth == t
        for p in np.unique(pred[a & (pred > 0)]):
            b = pred == p
            iou = (a & b).sum() / (a | b).sum()
            if iou >= threshold:
                pairs.append((iou, t, p))
    used_t, used_p, tp = set(), set(), 0
    for _, t, p in sorted(pairs, reverse=True):
        if t not in used_t and p not in used_p:
            used_t.add(t)
            used_p.add(p)
            tp += 1
    return tp


CASES = [np.random.default_rng(seed) for seed in range(30)]


def random_pairs():
    for rng in CASES:
        truth = random_instances(rng)
        yield truth, perturbed(rng, truth)


def test_matching_agrees_with_a_slow_independent_implementation():
    n_compared = 0
    for truth, pred in random_pairs():
        matches = match_at_thresholds(truth, pred, IOU_THRESHOLDS)
        for threshold, match in zip(IOU_THRESHOLDS, matches, strict=True):
            assert match.tp == slow_matching_tp(truth, pred, threshold), threshold
            assert match.n_true == len(np.unique(truth)) - 1
            assert match.n_pred == len(np.unique(pred)) - 1
            n_compared += match.tp
    assert n_compared > 300  # the cases are not trivially empty


def test_matching_agrees_with_cellpose():
    cellpose_metrics = pytest.importorskip("cellpose.metrics")
    thresholds = list(IOU_THRESHOLDS)
    for truth, pred in random_pairs():
        _, tp, fp, fn = cellpose_metrics.average_precision(truth, pred, threshold=thresholds)
        matches = match_at_thresholds(truth, pred, IOU_THRESHOLDS)
        assert [m.tp for m in matches] == tp.astype(int).tolist()
        assert [m.fp for m in matches] == fp.astype(int).tolist()
        assert [m.fn for m in matches] == fn.astype(int).tolist()
