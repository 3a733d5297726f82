"""Per-image records and set summaries on hand-made images with known answers."""

import json
import math

import numpy as np
import pytest
from skimage.draw import disk

from migraseg.constants import CELL, FIBER, MIGRASOME
from migraseg.data.truth import Truth
from migraseg.evaluation.harness import write_metrics
from migraseg.evaluation.scoring import CellRecord, image_quality, score_image
from migraseg.evaluation.sources import Segmentation
from migraseg.evaluation.summary import HEADLINE_KEYS, paired_difference, summarize
from migraseg.metrics.bootstrap import bootstrap_weights
from migraseg.metrics.objects import equivalent_diameter_um

PX = 0.1  # µm per pixel
SHAPE = (160, 160)


def scene(radii_px, centres, cell=True, fiber=True):
    """Labels and migrasome ids: a cell square, a 2-px fiber, discs of the given radii."""
    labels = np.zeros(SHAPE, np.uint8)
    ids = np.zeros(SHAPE, np.int32)
    if cell:
        labels[100:150, 100:150] = CELL
    if fiber:
        labels[80:82, 5:150] = FIBER
    for i, (r, c) in enumerate(zip(radii_px, centres, strict=True), start=1):
        where = disk(c, r, shape=SHAPE)
        labels[where], ids[where] = MIGRASOME, i
    return labels, ids


def diameter(ids, i):
    return equivalent_diameter_um(np.array([(ids == i).sum()]), PX)[0]


@pytest.fixture
def known():
    """Truth: migrasomes of 0.8, 1.5 and 2.5 µm. Prediction: the 0.8 µm one missed, the
    1.5 µm one exact, the 2.5 µm one 10% too large, one false 1.2 µm migrasome."""
    truth, truth_ids = scene([4, 7.5, 12.5], [(20, 20), (20, 60), (30, 110)])
    pred, pred_ids = scene([7.5, 13.75, 6], [(20, 60), (30, 110), (60, 30)])
    cells = (truth == CELL).astype(np.int32)
    row = score_image(Segmentation(pred, pred_ids), Truth(truth, truth_ids, cells), PX)
    return row, truth_ids, pred_ids


def test_record_of_one_image(known):
    row, truth_ids, _ = known
    mig = row.migrasome
    assert (mig.n_true, mig.n_pred, mig.tp, mig.fp, mig.fn) == (3, 3, 2, 1, 1)
    assert mig.true_diameter_um == pytest.approx(
        [diameter(truth_ids, i) for i in (1, 2, 3)], abs=1e-4
    )
    assert sorted(mig.matched_true) == [1, 2]
    assert mig.tp_by_iou[0] == 2 and mig.tp_by_iou[-1] <= 1  # 10% larger: IoU 0.83
    assert row.cell == CellRecord(n_true=1, n_pred=1, tp=1)
    assert row.scores["migrasome.f1@0.5"] == pytest.approx(2 / 3)
    assert row.scores["retraction_fiber.cldice"] == 1.0
    assert row.retraction_fiber.length_true_um == pytest.approx(14.4, abs=0.2)
    as_json = row.to_dict()  # metrics.json's per_image entry
    assert as_json["migrasome"]["n_true"] == 3 and as_json["cell"] == {
        "n_true": 1,
        "n_pred": 1,
        "tp": 1,
    }
    assert image_quality(row) == pytest.approx((1 + 1 + 2 / 3) / 3)


def test_summary_of_known_image_and_an_empty_one(known):
    row, truth_ids, pred_ids = known
    empty = np.zeros(SHAPE, np.uint8)
    ids = empty.astype(np.int32)
    blank = score_image(Segmentation(empty, ids), Truth(empty, ids, None), PX)
    assert math.isnan(blank.scores["retraction_fiber.cldice"])
    values = summarize([row, blank]).values
    assert values["migrasome.f1@0.5"] == pytest.approx(2 / 3)
    assert values["migrasome.precision@0.5"] == pytest.approx(2 / 3)
    assert values["migrasome.count_mae"] == 0.0  # 3 vs 3, and 0 vs 0
    assert values["migrasome.count_rel_err"] == 0.0
    assert values["retraction_fiber.cldice"] == 1.0  # the empty image is undefined, skipped
    assert values["cell.dice"] == 1.0 and math.isnan(values.get("cell.instance_f1@0.5", np.nan))
    rel = [
        abs(diameter(pred_ids, 1) - diameter(truth_ids, 2)) / diameter(truth_ids, 2),
        abs(diameter(pred_ids, 2) - diameter(truth_ids, 3)) / diameter(truth_ids, 3),
    ]
    assert rel[1] == pytest.approx(0.1, abs=0.02)
    assert values["migrasome.diameter_rel_err_median"] == pytest.approx(np.median(rel), abs=1e-3)
    assert values["migrasome.recall_by_size/0.5-1"] == 0.0
    assert values["migrasome.recall_by_size/1-2"] == 1.0
    assert values["migrasome.recall_by_size/2-3"] == 1.0
    assert values["migrasome.precision_by_size/1-2"] == 0.5  # the exact one and the false one
    assert math.isnan(values["migrasome.recall_by_size/>3"])


def test_cell_instance_f1_needs_cell_instances_in_every_image(known):
    row, *_ = known
    summary = summarize([row, row]).to_dict()
    assert summary["classes"]["cell"]["instance_f1@0.5"] == 1.0
    assert set(summary["headline"]) == set(HEADLINE_KEYS)


def test_intervals_bracket_the_estimate_and_a_model_equals_itself(known):
    row, *_ = known
    truth, truth_ids = scene([6], [(40, 40)])
    perfect = score_image(Segmentation(truth, truth_ids), Truth(truth, truth_ids, None), PX)
    rows = [row, perfect, row, perfect, perfect]
    weights = bootstrap_weights(len(rows), 300, seed=0)
    summary = summarize(rows, weights)
    for key in ("migrasome.f1@0.5", "cell.dice", "migrasome.count_mae"):
        low, high = summary.intervals[key]
        assert low <= summary.values[key] <= high
    low, high = summary.intervals["migrasome.f1@0.5"]
    assert high - low > 0.05  # images differ, so the interval has width
    same = paired_difference(summary, summarize(rows, weights))
    assert same["migrasome.f1@0.5"] == {"delta": 0.0, "ci95": [0.0, 0.0]}


def test_metrics_json_has_no_nan(tmp_path, known):
    row, *_ = known
    path = write_metrics({"sets": {"x": summarize([row]).to_dict()}}, tmp_path / "m.json")
    text = path.read_text()
    assert "NaN" not in text and json.loads(text)["sets"]["x"]["ci95"] == {}
