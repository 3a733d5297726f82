"""The simulator: deterministic, its masks follow the documented rules and agree with its truth."""

import json
from dataclasses import replace

import numpy as np
import pytest

from migraseg.constants import CELL, FIBER, MIGRASOME
from migraseg.data.synthetic import write_synthetic_dataset
from migraseg.io import read_image
from migraseg.synth.generator import make_sample
from migraseg.synth.geometry import random_outline
from migraseg.synth.objects import Cell, Fiber, Migrasome, Scene
from migraseg.synth.params import SynthConfig
from migraseg.synth.presets import load_preset
from migraseg.synth.raster import rasterize

from .conftest import TINY_SYNTH

TINY_TEM = replace(
    load_preset("tem"),
    tem=replace(load_preset("tem").tem, image_size_px=(128, 128), pixel_size_um=(0.02, 0.02)),
)
FOLDERS = ("images", "masks", "instances", "cells")


def test_same_seed_same_sample_and_other_seed_differs():
    a, b = make_sample(TINY_SYNTH, 5, 2), make_sample(TINY_SYNTH, 5, 2)
    for field in ("image", "mask", "migrasome_ids", "cell_ids"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.truth == b.truth
    assert not np.array_equal(a.image, make_sample(TINY_SYNTH, 6, 2).image)


@pytest.mark.parametrize("config", [TINY_SYNTH, TINY_TEM], ids=["confocal", "tem"])
def test_parallel_generation_writes_identical_files(tmp_path, config):
    one = write_synthetic_dataset(tmp_path / "1", n=4, seed=1, config=config, workers=1, name="s")
    two = write_synthetic_dataset(tmp_path / "2", n=4, seed=1, config=config, workers=2, name="s")
    for image in sorted((one / "images").glob("*.tif")):
        for folder in FOLDERS:
            np.testing.assert_array_equal(
                read_image(one / folder / image.name)[0], read_image(two / folder / image.name)[0]
            )
        for suffix in (".json", ".csv"):
            name = f"{image.stem}{suffix}"
            assert (one / "truth" / name).read_text() == (two / "truth" / name).read_text()
    assert (one / "dataset.yaml").read_text() == (two / "dataset.yaml").read_text()


def test_masks_agree_with_the_truth_table():
    sample = make_sample(SynthConfig(), seed=0, index=3)  # the default: 512² at 0.1 µm
    ids, mask, cells, truth = sample.migrasome_ids, sample.mask, sample.cell_ids, sample.truth
    px = sample.pixel_size_um
    assert np.array_equal(ids > 0, mask == MIGRASOME)
    assert np.array_equal(cells > 0, (mask == CELL) | ((cells > 0) & (mask == MIGRASOME)))
    assert {m["id"] for m in truth["migrasomes"]} == set(np.unique(ids).tolist()) - {0}
    assert {c["id"] for c in truth["cells"]} == set(np.unique(cells).tolist()) - {0}
    assert (mask == FIBER).any() and len(truth["migrasomes"]) >= 5
    for m in truth["migrasomes"]:
        own = ids == m["id"]
        assert own.sum() == m["area_px"]
        if m["cut_by_border"]:
            continue
        expected_px = np.pi * (m["diameter_um"] / 2 / px) ** 2
        # touching neighbours take the pixels they share with a lower id
        assert 0.75 * expected_px <= m["area_px"] <= expected_px + 2 * np.sqrt(expected_px) + 2
        rows, cols = np.nonzero(own)
        centre = np.array([cols.mean() + 0.5, rows.mean() + 0.5]) * px
        shift = np.linalg.norm(centre - [m["x_um"], m["y_um"]])
        assert shift <= 0.15 * m["diameter_um"] + px


def test_fiber_masks_are_one_psf_wide_in_confocal_and_true_width_in_tem():
    """A straight horizontal fiber: masked rows are those whose centres are within w/2 of it."""
    y = 5.03
    fiber = Fiber(
        1, np.array([[0.0, y], [10.0, y]]), cell=1, parent=None, kind="trunk", diameter_um=0.05
    )
    scene = Scene(10.0, 10.0, [], [fiber], [])
    for width, px in ((0.2, 0.1), (None, 0.005)):
        raster = rasterize(scene, (int(10 / px), int(10 / px)), px, width)
        half = (width or fiber.diameter_um) / 2
        rows = np.flatnonzero(raster.fiber_mask[:, raster.fiber_mask.shape[1] // 2])
        expected = np.flatnonzero(
            np.abs((np.arange(raster.fiber_mask.shape[0]) + 0.5) * px - y) <= half
        )
        np.testing.assert_array_equal(rows, expected)
        assert np.all(raster.semantic[raster.fiber_mask] == FIBER)


def test_overlaps_resolve_migrasome_over_cell_over_fiber():
    outline = random_outline(np.random.default_rng(0), np.array([5.0, 5.0]), 2.0, 0.0)
    fiber = Fiber(1, np.array([[0.0, 5.0], [10.0, 5.0]]), 1, None, "trunk", 0.05)
    migrasome = Migrasome(1, np.array([6.8, 5.0]), 1.0, "tip", 1, 1, None, 0.5, 0)
    scene = Scene(10.0, 10.0, [Cell(1, outline, 0.0)], [fiber], [migrasome])
    raster = rasterize(scene, (100, 100), 0.1, 0.25)
    assert raster.semantic[50, 50] == CELL  # fiber under the cell
    assert raster.semantic[50, 68] == MIGRASOME  # migrasome over cell edge and fiber
    assert raster.semantic[50, 90] == FIBER and raster.semantic[10, 10] == 0


@pytest.mark.parametrize("config", [TINY_SYNTH, TINY_TEM], ids=["confocal", "tem"])
def test_written_files_carry_pixel_size_and_truth(tmp_path, config):
    root = write_synthetic_dataset(tmp_path / "ds", n=2, seed=4, config=config)
    for image in sorted((root / "images").glob("*.tif")):
        truth = json.loads((root / "truth" / f"{image.stem}.json").read_text())
        for folder in FOLDERS:
            _, meta = read_image(root / folder / image.name)
            assert meta["pixel_size_um"] == pytest.approx(truth["pixel_size_um"], rel=1e-4)
        rows = (root / "truth" / f"{image.stem}.csv").read_text().splitlines()
        assert rows[0].startswith("frame,id,x_um,y_um,diameter_um,site")
        assert len(rows) == 1 + len(truth["migrasomes"])
        assert truth["modality"] == config.modality and truth["stem"] == image.stem


def test_tem_images_render_dark_membranes_on_a_light_background():
    seen = {CELL: 0, FIBER: 0, MIGRASOME: 0}
    for index in range(8):
        sample = make_sample(TINY_TEM, seed=2, index=index)
        assert sample.image.shape == (1, 128, 128) and sample.image.dtype in (np.uint8, np.uint16)
        image, mask = sample.image[0].astype(float), sample.mask
        background = image[mask == 0].mean()
        for cls in seen:
            if (mask == cls).sum() > 20:
                seen[cls] += 1
                assert image[mask == cls].mean() < background
    assert min(seen.values()) >= 3
