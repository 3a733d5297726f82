"""The simulator v1: deterministic, and its masks agree with its objects."""

import json

import numpy as np
import pytest
import tifffile

from migraseg.constants import FIBER, MIGRASOME
from migraseg.synth.generator import make_sample
from migraseg.synth.scene import SITES
from migraseg.synth.writer import write_synthetic_dataset

from .conftest import TINY_SYNTH


def test_same_seed_same_image_and_other_seed_differs():
    a, b = make_sample(TINY_SYNTH, 5, 2), make_sample(TINY_SYNTH, 5, 2)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, make_sample(TINY_SYNTH, 6, 2).image)


def test_parallel_generation_writes_identical_files(tmp_path):
    one = write_synthetic_dataset(tmp_path / "one", n=4, seed=1, config=TINY_SYNTH, workers=1)
    two = write_synthetic_dataset(tmp_path / "two", n=4, seed=1, config=TINY_SYNTH, workers=2)
    for path in sorted((one / "images").glob("*.tif")):
        for folder in ("images", "masks", "instances"):
            np.testing.assert_array_equal(
                tifffile.imread(one / folder / path.name), tifffile.imread(two / folder / path.name)
            )


def test_masks_agree_with_the_truth_table():
    sample = make_sample(TINY_SYNTH.__class__(), seed=0, index=0)  # default 512² at 0.1 µm
    ids, mask, truth = sample.migrasome_ids, sample.mask, sample.truth
    assert np.array_equal(ids > 0, mask == MIGRASOME)
    assert {m["id"] for m in truth["migrasomes"]} == set(np.unique(ids).tolist()) - {0}
    assert (mask == FIBER).any() and truth["n_cells"] >= 1
    for m in truth["migrasomes"]:
        if m["cut_by_border"]:
            continue
        area = (ids == m["id"]).sum() * sample.pixel_size_um**2
        expected = np.pi * (m["diameter_um"] / 2) ** 2
        # pixelised discs lose area where touching neighbours overlap them (first one wins)
        assert 0.6 * expected <= area <= 1.15 * expected + 4 * sample.pixel_size_um**2


def test_object_statistics_follow_the_configuration():
    config = TINY_SYNTH.__class__()
    diameters, sites = [], []
    for index in range(12):
        for m in make_sample(config, seed=3, index=index).truth["migrasomes"]:
            diameters.append(m["diameter_um"])
            sites.append(m["site"])
    diameters = np.array(diameters)
    lo, hi = config.scene.diameter_range_um
    assert len(diameters) > 40
    assert lo <= diameters.min() and diameters.max() <= hi
    assert np.median(diameters) == pytest.approx(config.scene.diameter_median_um, rel=0.2)
    assert set(sites) <= set(SITES) and sites.count("tip") > sites.count("along")


def test_written_dataset_has_pixel_size_and_truth(tiny_dataset):
    image = next((tiny_dataset / "images").glob("*.tif"))
    with tifffile.TiffFile(image) as tif:
        assert tif.pages.first.resolution[0] == pytest.approx(1 / 0.2)
        assert tif.imagej_metadata["unit"] == "um"
    truth = json.loads((tiny_dataset / "truth" / f"{image.stem}.json").read_text())
    assert {"migrasomes", "fibers", "n_cells"} <= truth.keys()
