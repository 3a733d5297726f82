"""The classical baseline: valid output, invariance to brightness, tuning that generalises."""

import json

import numpy as np
import pytest

from migraseg.baseline import ClassicalParams, segment, tune_on_dataset
from migraseg.constants import CELL, MIGRASOME
from migraseg.data.contract import image_to_cyx, load_dataset
from migraseg.data.truth import read_truth
from migraseg.evaluation.scoring import score_image
from migraseg.evaluation.sources import ClassicalSource, Segmentation
from migraseg.evaluation.summary import summarize
from migraseg.io import read_image


def load(record):
    array, meta = read_image(record.image_path)
    return image_to_cyx(array, meta["axes"]), read_truth(record)


@pytest.fixture(scope="module")
def tuned(tiny_dataset):
    return tune_on_dataset(tiny_dataset, "train", max_images=4)


def test_output_is_a_valid_segmentation(tiny_dataset):
    record = load_dataset(tiny_dataset).split("test")[0]
    image, truth = load(record)
    labels, ids = segment(image, record.pixel_size_um, ClassicalParams())
    assert labels.shape == ids.shape == truth.labels.shape and labels.dtype == np.uint8
    assert set(np.unique(labels)) <= {0, 1, 2, 3}
    assert np.array_equal(ids > 0, labels == MIGRASOME)


def test_thresholds_are_independent_of_brightness_and_offset(tiny_dataset):
    record = load_dataset(tiny_dataset).split("test")[0]
    image, _ = load(record)
    params = ClassicalParams()
    labels, ids = segment(image, record.pixel_size_um, params)
    brighter = image.astype(np.float32) * 3.0 + 500.0
    labels2, ids2 = segment(brighter, record.pixel_size_um, params)
    assert (labels == labels2).mean() > 0.999 and ids.max() == ids2.max()


def test_tuned_baseline_segments_unseen_images(tiny_dataset, tuned):
    spec = load_dataset(tiny_dataset)
    assert tuned.tuned_on["split"] == "train" and len(tuned.tuned_on["stems"]) == 4
    rows = []
    for record in spec.split("val") + spec.split("test"):
        image, truth = load(record)
        labels, ids = segment(image, record.pixel_size_um, tuned.params)
        rows.append(score_image(Segmentation(labels, ids), truth, record.pixel_size_um))
    values = summarize(rows).values
    assert values["cell.dice"] > 0.75
    assert values["migrasome.f1@0.5"] > 0.4
    assert values["retraction_fiber.cldice"] > 0.4
    assert tuned.scores["cell.dice"] > 0.75  # on its own training images


def test_parameters_round_trip_through_a_file(tmp_path, tuned):
    path = tmp_path / "classical_params.json"
    path.write_text(json.dumps(tuned.to_dict()))
    source = ClassicalSource.from_file(path)
    assert source.params == tuned.params
    assert source.describe()["tuned_on"]["stems"] == tuned.tuned_on["stems"]
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"cell_z": 7.0}))
    assert ClassicalSource.from_file(flat).params.cell_z == 7.0


def test_bad_parameter_files_name_the_file_and_the_problem(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"params": {"cell_threshold": 3}}))
    with pytest.raises(ValueError, match=r"bad\.json.*unknown classical param.*cell_threshold"):
        ClassicalSource.from_file(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match=r"broken\.json: not a classical parameter file"):
        ClassicalSource.from_file(broken)


def test_a_cell_free_image_has_no_cells(tiny_dataset):
    record = load_dataset(tiny_dataset).split("test")[0]
    flat = np.random.default_rng(0).normal(100, 3, (1, 96, 96)).astype(np.float32)
    labels, ids = segment(flat, record.pixel_size_um, ClassicalParams())
    assert (labels == CELL).sum() == 0 and ids.max() == 0
