"""Metrics on hand-made masks with known answers."""

import math

import numpy as np
import pytest
from skimage.draw import disk, line

from migraseg.constants import CELL, FIBER, MIGRASOME
from migraseg.evaluation.scoring import score_image, summarize
from migraseg.metrics.centerline import cl_dice
from migraseg.metrics.objects import match_at_thresholds, match_instances
from migraseg.metrics.pixel import class_counts, scores_from_counts
from migraseg.postprocess import migrasome_instances


def test_perfect_prediction_scores_one_and_absent_class_nan():
    truth = np.zeros((20, 20), np.uint8)
    truth[2:8, 2:8] = CELL
    truth[10:12, :] = FIBER
    scores = scores_from_counts(class_counts(truth, truth))
    assert scores["dice"][CELL] == 1.0 and scores["iou"][FIBER] == 1.0
    assert math.isnan(scores["dice"][MIGRASOME])


def test_empty_prediction_scores_zero():
    truth = np.zeros((10, 10), np.uint8)
    truth[:5] = CELL
    scores = scores_from_counts(class_counts(np.zeros_like(truth), truth))
    assert scores["dice"][CELL] == 0.0 and scores["recall"][CELL] == 0.0
    assert math.isnan(scores["precision"][CELL])


def test_partial_overlap_has_its_hand_computed_value():
    truth = np.zeros((10, 10), np.uint8)
    pred = np.zeros((10, 10), np.uint8)
    truth[0:4, 0:5] = CELL  # 20 px
    pred[2:6, 0:5] = CELL  # 20 px, 10 shared
    scores = scores_from_counts(class_counts(pred, truth))
    assert scores["dice"][CELL] == pytest.approx(2 * 10 / 40)
    assert scores["iou"][CELL] == pytest.approx(10 / 30)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"\(4, 4\) != truth shape \(5, 5\)"):
        class_counts(np.zeros((4, 4)), np.zeros((5, 5)))


def discs(shape, centres, radius):
    out = np.zeros(shape, np.int32)
    for i, c in enumerate(centres, start=1):
        out[disk(c, radius, shape=shape)] = i
    return out


def test_shifted_discs_match_at_low_but_not_high_threshold():
    truth = discs((64, 64), [(20, 20), (44, 44)], 8)
    pred = discs((64, 64), [(20, 23), (44, 44), (5, 58)], 8)  # one shifted by 3 px, one spurious
    shifted_iou = ((truth == 1) & (pred == 1)).sum() / ((truth == 1) | (pred == 1)).sum()
    assert 0.5 < shifted_iou < 0.75
    low, high = match_at_thresholds(truth, pred, (0.5, 0.75))
    assert (low.tp, low.fp, low.fn) == (2, 1, 0)
    assert (high.tp, high.fp, high.fn) == (1, 2, 1)
    assert low.f1 == pytest.approx(2 * 2 / 5)


def test_empty_versus_empty_is_nan_and_missing_all_is_zero():
    empty = np.zeros((16, 16), np.int32)
    assert math.isnan(match_instances(empty, empty).f1)
    truth = discs((16, 16), [(8, 8)], 4)
    miss = match_instances(truth, empty)
    assert (miss.tp, miss.fn, miss.recall, miss.f1) == (0, 1, 0.0, 0.0)


def test_touching_migrasomes_count_as_two():
    labels = np.zeros((64, 64), np.uint8)
    labels[disk((32, 22), 9)] = MIGRASOME
    labels[disk((32, 40), 9)] = MIGRASOME  # centres 18 px apart: the discs touch
    instances = migrasome_instances(labels, pixel_size_um=0.1)
    assert instances.max() == 2
    truth = discs((64, 64), [(32, 22), (32, 40)], 9)
    assert match_instances(truth, instances).tp == 2


def test_objects_at_the_border_are_matched():
    truth = discs((32, 32), [(0, 16)], 6)  # half outside the frame
    assert match_instances(truth, truth.copy()).tp == 1


def test_cldice_known_values():
    truth = np.zeros((32, 32), bool)
    truth[line(16, 2, 16, 29)] = True
    truth = np.pad(truth[1:], ((0, 1), (0, 0))) | truth  # 2-px-wide line
    assert cl_dice(truth, truth) == 1.0
    assert math.isnan(cl_dice(np.zeros_like(truth), np.zeros_like(truth)))
    assert cl_dice(np.zeros_like(truth), truth) == 0.0
    half = truth.copy()
    half[:, 16:] = False  # predicting half of the fiber: precision 1, sensitivity ≈ 0.5
    assert cl_dice(half, truth) == pytest.approx(2 * 0.5 / 1.5, abs=0.05)


def test_summary_pools_counts_over_images():
    truth = np.zeros((32, 32), np.uint8)
    truth[disk((16, 16), 5)] = MIGRASOME
    ids = (truth == MIGRASOME).astype(np.int32)
    perfect = score_image(truth, ids, truth, ids)
    missed = score_image(np.zeros_like(truth), np.zeros_like(ids), truth, ids)
    summary = summarize([perfect, missed])
    head = summary["headline"]
    assert head["migrasome.f1@0.5"] == pytest.approx(2 / 3)
    assert head["migrasome.precision@0.5"] == 1.0 and head["migrasome.recall@0.5"] == 0.5
    assert head["migrasome.count_mae"] == 0.5
    assert math.isnan(head["cell.dice"])
