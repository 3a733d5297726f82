"""Metrics on hand-made masks with known answers: pixels, objects, centerlines, decoding."""

import math

import numpy as np
import pytest
from skimage.draw import disk, line

from migraseg.constants import CELL, FIBER, MIGRASOME
from migraseg.metrics.centerline import (
    cl_dice,
    count_components,
    fiber_scores,
    skeleton_length_um,
)
from migraseg.metrics.objects import (
    equivalent_diameter_um,
    instance_overlaps,
    match_at_thresholds,
    match_instances,
)
from migraseg.metrics.pixel import class_counts, scores_from_counts
from migraseg.postprocess import cell_instances, decode_instances, migrasome_instances


def discs(shape, centres, radius):
    out = np.zeros(shape, np.int32)
    for i, c in enumerate(centres, start=1):
        out[disk(c, radius, shape=shape)] = i
    return out


# --- pixels ---------------------------------------------------------------------------------
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
    with pytest.raises(ValueError, match="truth shape"):
        instance_overlaps(np.zeros((4, 4), int), np.zeros((5, 5), int))


# --- objects --------------------------------------------------------------------------------
def test_shifted_discs_match_at_low_but_not_high_threshold():
    truth = discs((64, 64), [(20, 20), (44, 44)], 8)
    pred = discs((64, 64), [(20, 23), (44, 44), (5, 58)], 8)  # one shifted by 3 px, one spurious
    shifted_iou = ((truth == 1) & (pred == 1)).sum() / ((truth == 1) | (pred == 1)).sum()
    assert 0.5 < shifted_iou < 0.75
    low, high = match_at_thresholds(truth, pred, (0.5, 0.75))
    assert (low.tp, low.fp, low.fn) == (2, 1, 0)
    assert (high.tp, high.fp, high.fn) == (1, 2, 1)
    assert low.f1 == pytest.approx(2 * 2 / 5)
    assert low.ious.min() == pytest.approx(shifted_iou)


def test_ids_need_not_be_sequential_and_areas_are_exact():
    truth = discs((40, 40), [(10, 10), (30, 30)], 5) * 7  # ids 7 and 14
    overlaps = instance_overlaps(truth, truth * 3)
    assert overlaps.true_ids.tolist() == [7, 14] and overlaps.pred_ids.tolist() == [21, 42]
    assert overlaps.true_areas_px.tolist() == [(truth == 7).sum(), (truth == 14).sum()]
    assert np.allclose(overlaps.iou, np.eye(2))


def test_empty_versus_empty_is_nan_and_missing_all_is_zero():
    empty = np.zeros((16, 16), np.int32)
    assert math.isnan(match_instances(empty, empty).f1)
    truth = discs((16, 16), [(8, 8)], 4)
    miss = match_instances(truth, empty)
    assert (miss.tp, miss.fn, miss.recall, miss.f1) == (0, 1, 0.0, 0.0)
    spurious = match_instances(empty, truth)
    assert (spurious.fp, spurious.precision) == (1, 0.0) and math.isnan(spurious.recall)


def test_one_prediction_covering_two_truths_matches_at_most_one():
    truth = discs((64, 64), [(32, 22), (32, 42)], 9)
    merged = (truth > 0).astype(np.int32)
    match = match_instances(truth, merged, 0.3)
    assert (match.tp, match.fp, match.fn) == (1, 0, 1)  # one-to-one, never two


def test_touching_migrasomes_count_as_two():
    labels = np.zeros((64, 64), np.uint8)
    labels[disk((32, 22), 9)] = MIGRASOME
    labels[disk((32, 40), 9)] = MIGRASOME  # centres 18 px apart: the discs touch
    instances = migrasome_instances(labels, pixel_size_um=0.1)
    assert instances.max() == 2
    truth = discs((64, 64), [(32, 22), (32, 40)], 9)
    assert match_instances(truth, instances).tp == 2


def test_objects_at_the_border_are_matched_and_decoded():
    truth = discs((32, 32), [(0, 16)], 6)  # half outside the frame
    assert match_instances(truth, truth.copy()).tp == 1
    labels = np.where(truth > 0, MIGRASOME, 0).astype(np.uint8)
    assert match_instances(truth, migrasome_instances(labels, 0.1)).tp == 1


def test_decoding_fills_rings_and_drops_specks():
    binary = np.zeros((40, 40), bool)
    binary[disk((20, 20), 10)] = True
    binary[disk((20, 20), 7)] = False  # a ring: large migrasomes image like this
    binary[2, 2] = True  # a speck
    ids = decode_instances(binary, min_area_px=5)
    assert ids.max() == 1 and ids[20, 20] == 1 and ids[2, 2] == 0
    assert (ids > 0).sum() == disk((20, 20), 10)[0].size


def test_cell_instances_drop_small_components():
    labels = np.zeros((60, 60), np.uint8)
    labels[5:35, 5:35] = CELL  # 900 px = 36 µm² at 0.2 µm
    labels[50:53, 50:53] = CELL  # 9 px = 0.36 µm²
    cells = cell_instances(labels, pixel_size_um=0.2, min_area_um2=20)
    assert cells.max() == 1 and cells[20, 20] == 1 and cells[51, 51] == 0


def test_the_one_cell_rule():
    """8-connected, holes filled, ≥ 5 µm² by default, border cells counted."""
    labels = np.zeros((100, 100), np.uint8)
    labels[10:40, 10:40] = CELL
    labels[20:25, 20:25] = MIGRASOME  # a migrasome on the cell body: a hole, filled
    labels[40:60, 40:60] = CELL  # touches the first cell at one corner only: merged
    labels[85:100, 0:12] = CELL  # cut by the border: 180 px = 7.2 µm² at 0.2 µm, counted
    labels[5:8, 90:95] = CELL  # 15 px = 0.6 µm²: a speck
    cells = cell_instances(labels, pixel_size_um=0.2)
    assert cells.max() == 2
    assert cells[22, 22] == cells[50, 50] == cells[10, 10] != cells[99, 0] > 0
    assert cells[6, 92] == 0


def test_equivalent_diameter_of_a_disc():
    area = disk((50, 50), 20)[0].size
    assert equivalent_diameter_um(np.array([area]), 0.1)[0] == pytest.approx(4.0, rel=0.02)


# --- centerlines ----------------------------------------------------------------------------
def two_px_line(shape, r0, c0, r1, c1):
    mask = np.zeros(shape, bool)
    mask[line(r0, c0, r1, c1)] = True
    return mask | np.roll(mask, 1, axis=0)


def test_cldice_known_values():
    truth = two_px_line((32, 32), 16, 2, 16, 29)
    assert cl_dice(truth, truth) == 1.0
    assert math.isnan(cl_dice(np.zeros_like(truth), np.zeros_like(truth)))
    assert cl_dice(np.zeros_like(truth), truth) == 0.0
    half = truth.copy()
    half[:, 16:] = False  # predicting half of the fiber: precision 1, sensitivity ≈ 0.5
    assert cl_dice(half, truth) == pytest.approx(2 * 0.5 / 1.5, abs=0.05)


def test_skeleton_length_of_straight_diagonal_and_cornered_lines():
    horizontal = np.zeros((10, 40), bool)
    horizontal[5, 3:33] = True  # 30 px → 29 steps
    assert skeleton_length_um(horizontal, 1.0) == pytest.approx(29)
    diagonal = np.eye(21, dtype=bool)  # 20 diagonal steps
    assert skeleton_length_um(diagonal, 0.1) == pytest.approx(2 * np.sqrt(2))
    corner = np.zeros((5, 5), bool)
    corner[1, 1:4] = corner[1:4, 3] = True  # an L: 2 + 2 steps, no diagonal shortcut
    assert skeleton_length_um(corner, 1.0) == pytest.approx(4)
    assert skeleton_length_um(np.zeros((5, 5), bool), 1.0) == 0


def test_skeleton_precision_recall_respect_the_tolerance():
    truth = two_px_line((64, 64), 30, 5, 30, 58)
    shifted = np.roll(truth, 2, axis=0)  # 2 px = 0.2 µm away
    tight = fiber_scores(shifted, truth, pixel_size_um=0.1, tolerance_um=0.1)
    loose = fiber_scores(shifted, truth, pixel_size_um=0.1, tolerance_um=0.25)
    assert tight.skeleton_pred_hits == 0 and tight.skeleton_true_hits == 0
    assert loose.skeleton_pred_hits == loose.skeleton_pred_px > 40
    assert loose.skeleton_true_hits == loose.skeleton_true_px
    assert loose.length_true_um == pytest.approx(loose.length_pred_um)
    assert loose.length_true_um == pytest.approx(5.3, abs=0.3)


def test_fiber_components_and_empty_images():
    truth = two_px_line((64, 64), 10, 5, 10, 58) | two_px_line((64, 64), 40, 5, 40, 58)
    broken = truth.copy()
    broken[:, 30:33] = False  # both fibers cut: 4 pieces
    assert count_components(truth) == 2 and count_components(broken) == 4
    scores = fiber_scores(broken, truth, 0.1, 0.25)
    assert (scores.components_true, scores.components_pred) == (2, 4)
    empty = fiber_scores(np.zeros_like(truth), np.zeros_like(truth), 0.1, 0.25)
    assert math.isnan(empty.cldice) and empty.skeleton_pred_px == empty.length_true_um == 0
