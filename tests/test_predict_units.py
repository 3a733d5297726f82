"""Pieces of migraseg-predict on hand-made inputs: axes, channels, fibers, cells, tables."""

from dataclasses import replace

import numpy as np
import pytest
import roifile
from skimage.draw import disk, line

from migraseg.constants import CELL, FIBER, MIGRASOME
from migraseg.inference.planes import normalize_axes, select_channels
from migraseg.measure.cells import cell_map
from migraseg.measure.fibers import fiber_skeleton
from migraseg.measure.frame import measure_frame
from migraseg.measure.tables import migrasome_rows, read_csv, write_csv, write_roi_set
from migraseg.metrics.centerline import skeleton_length_map
from migraseg.postprocess import cell_instances
from migraseg.synth.generator import make_sample
from migraseg.synth.params import SynthConfig

POST = {"min_diameter_um": 0.3, "split_h_um": 0.1}


@pytest.mark.parametrize(
    "axes,shape,channels,expected",
    [
        ("YX", (8, 9), 1, "YX"),
        ("TZCYX", (2, 3, 2, 8, 9), 2, "TZCYX"),
        ("YXS", (8, 9, 3), 3, "YXC"),
        ("SYX", (3, 8, 9), 1, "CYX"),  # tifffile's guess for a plain 3-plane file
        ("QYX", (2, 8, 9), 2, "CYX"),  # unlabelled, as many planes as the model's channels
        ("IYX", (1, 8, 9), 1, "1YX"),
    ],
)
def test_axes_are_mapped_to_tzcyx(axes, shape, channels, expected):
    assert normalize_axes(axes, shape, channels) == expected


def test_unknown_axes_are_an_error_that_says_what_to_do():
    with pytest.raises(ValueError, match=r"unknown axes 'IYX'.*pass --axes"):
        normalize_axes("IYX", (5, 8, 9), 1)
    with pytest.raises(ValueError, match="need Y then X"):
        normalize_axes("TC", (5, 8), 1)


def test_channels_by_index_name_or_model_names():
    names = ["DAPI", "Tspan4"]
    assert select_channels(["1"], names, 2, 1, []) == [1]
    assert select_channels(["tspan4"], names, 2, 1, []) == [1]
    assert select_channels(None, names, 2, 1, ["tspan4"]) == [1]
    assert select_channels(None, None, 1, 1, ["tspan4"]) == [0]
    with pytest.raises(ValueError, match=r"no channel 'gfp'.*0=DAPI, 1=Tspan4"):
        select_channels(["gfp"], names, 2, 1, [])
    with pytest.raises(ValueError, match="choose with --channel"):
        select_channels(None, names, 2, 1, ["mcherry"])
    with pytest.raises(ValueError, match="the model takes 1"):
        select_channels(["0", "1"], names, 2, 1, [])


def test_skeleton_length_of_straight_and_diagonal_lines():
    skeleton = np.zeros((40, 40), bool)
    skeleton[5, 5:25] = True  # 20 px → 19 px long
    rr, cc = line(10, 5, 30, 25)  # 21 px on a diagonal → 20·√2
    skeleton[rr, cc] = True
    assert skeleton_length_map(skeleton).sum() == pytest.approx(19 + 20 * np.sqrt(2), rel=1e-5)
    assert skeleton_length_map(skeleton)[:8].sum() == pytest.approx(19, rel=1e-5)


def scene_with_every_site() -> np.ndarray:
    """Four migrasomes (r = 8 px at 0.1 µm/px): on a fiber tip, along a fiber, at a branch
    point, detached; and one cell."""
    labels = np.zeros((200, 300), np.uint8)
    labels[disk((40, 40), 30)] = CELL
    for r0, c0, r1, c1 in [
        (100, 10, 100, 100),  # a fiber ending in the tip migrasome at (100, 100)
        (160, 10, 160, 140),  # a fiber through the migrasome at (160, 100)
        (40, 200, 100, 200),  # three fibers meeting at (100, 200)
        (100, 200, 100, 290),
        (100, 200, 160, 200),
    ]:
        rr, cc = line(r0, c0, r1, c1)
        labels[rr, cc] = FIBER
        labels[rr + 1, cc] = FIBER  # 2 px wide
    for center in [(100, 100), (160, 100), (100, 200), (30, 250)]:
        labels[disk(center, 8)] = MIGRASOME
    return labels


def test_sites_cells_and_fiber_length_of_a_hand_made_scene():
    labels = scene_with_every_site()
    image = np.stack([labels * 10.0, np.full(labels.shape, 5.0)])
    found = measure_frame(labels, lambda a, b: image[:, a:b], 0.1, POST)
    by_place = {(round(m.y), round(m.x)): m for m in found.migrasomes}
    assert set(by_place) == {(100, 100), (160, 100), (100, 200), (30, 250)}
    assert by_place[100, 100].site == "tip"
    assert by_place[160, 100].site == "along"
    assert by_place[100, 200].site == "branch"
    assert by_place[30, 250].site == "detached"
    assert by_place[30, 250].intensity == [pytest.approx(30.0), pytest.approx(5.0)]
    assert found.n_cells == 1 and found.nearest_cell == [1, 1, 1, 1]
    # fibers outside the discs: 82 + 114 + (52 + 82 + 52) px ≈ 38 µm
    assert found.fiber_length_um == pytest.approx(38.2, abs=1.5)
    summary = found.summary(0.1)
    assert summary["n_migrasomes"] == 4 and summary["migrasomes_per_cell"] == 4
    assert summary["median_diameter_um"] == pytest.approx(1.6, abs=0.1)


def test_strips_measure_the_same_as_the_whole_frame():
    labels = np.tile(scene_with_every_site(), (3, 1))  # 600 rows
    image = labels[None].astype(np.float32)
    whole = measure_frame(labels, lambda a, b: image[:, a:b], 0.1, POST)
    strips = measure_frame(labels, lambda a, b: image[:, a:b], 0.1, POST, strip_pixels=60 * 300)
    assert len(whole.migrasomes) == len(strips.migrasomes) == 12
    key = sorted((round(m.y, 3), round(m.x, 3), m.area_px, m.site) for m in whole.migrasomes)
    assert key == sorted(
        (round(m.y, 3), round(m.x, 3), m.area_px, m.site) for m in strips.migrasomes
    )
    assert strips.fiber_length_um == pytest.approx(whole.fiber_length_um, rel=1e-6)


def test_cells_are_counted_on_a_coarse_grid_for_huge_frames(monkeypatch):
    import migraseg.measure.cells as cells

    labels = np.zeros((400, 400), np.uint8)
    labels[disk((100, 100), 60)] = CELL
    labels[disk((300, 300), 60)] = CELL
    labels[5:7, 5:7] = CELL  # a speck below 5 µm²
    monkeypatch.setattr(cells, "MAX_SIDE", 100)
    coarse = cell_map(labels, 0.1)
    assert coarse.factor == 4 and coarse.n_cells == 2
    assert coarse.nearest(390, 390) == coarse.nearest(300, 300) != coarse.nearest(0, 0)


def test_centroids_in_um_match_the_simulator_truth():
    """µm centroids use the corner convention ((index + 0.5) × pixel size), as the simulator's
    truth does: on true masks they agree to a fraction of a pixel, with no half-pixel bias."""
    config = SynthConfig()
    optics = replace(config.confocal, image_size_px=(256, 256), pixel_size_um=(0.1, 0.1))
    sample = make_sample(replace(config, confocal=optics), seed=0, index=0)
    px = sample.pixel_size_um
    image = sample.image if sample.image.ndim == 3 else sample.image[None]
    found = measure_frame(sample.mask, lambda a, b: image[:, a:b], px, POST)
    rows = migrasome_rows([(None, None, found)], px, [f"c{i}" for i in range(len(image))])
    measured = np.array([[r["x_um"], r["y_um"]] for r in rows])
    offsets = []
    for m in sample.truth["migrasomes"]:
        if m["cluster"] is None and not m["cut_by_border"]:
            d = measured - [m["x_um"], m["y_um"]]
            offsets.append(d[np.argmin(np.hypot(*d.T))] / px)
    offsets = np.array(offsets)
    assert len(offsets) >= 5
    assert np.abs(offsets).max() < 0.3  # px
    assert np.all(np.abs(offsets.mean(0)) < 0.1)  # the old integer-centre rule: −0.5 px


def test_tables_count_cells_by_the_evaluation_rule():
    """As cell_instances: corner-touching bodies are one cell, a border sliver of 7 µm² counts."""
    labels = np.zeros((100, 100), np.uint8)
    labels[10:40, 10:40] = CELL
    labels[40:60, 40:60] = CELL  # touches the first at a corner
    labels[70:80, 70:80] = CELL  # touches the second at a corner
    labels[85:100, 0:12] = CELL  # 180 px = 7.2 µm² at 0.2 µm/px, cut by the border
    found = measure_frame(labels, lambda a, b: labels[None, a:b], 0.2, POST)
    assert found.n_cells == cell_instances(labels, 0.2).max() == 2


def test_fiber_skeleton_is_one_pixel_wide():
    labels = np.zeros((20, 30), np.uint8)
    labels[8:11, 2:28] = FIBER
    skeleton = fiber_skeleton(labels)
    assert skeleton.sum(0)[5:25].max() == 1


def test_tables_and_roi_sets_round_trip(tmp_path):
    labels = scene_with_every_site()
    found = measure_frame(labels, lambda a, b: labels[None, a:b], 0.1, POST)
    frames = [(2, None, found)]
    rows = migrasome_rows(frames, 0.1, ["tspan4"])
    assert [r["id"] for r in rows] == [1, 2, 3, 4] and {r["frame"] for r in rows} == {2}
    columns = list(rows[0])
    write_csv(tmp_path / "m.csv", rows, columns)
    back = read_csv(tmp_path / "m.csv")
    assert len(back) == 4 and float(back[0]["x_um"]) == pytest.approx(
        (rows[0]["x_px"] + 0.5) * 0.1, abs=1e-3
    )
    write_roi_set(tmp_path / "m.zip", frames)
    rois = roifile.roiread(tmp_path / "m.zip")
    assert [r.name for r in rois] == ["00001", "00002", "00003", "00004"]
    assert all(r.t_position == 3 for r in rois)  # 1-based in ImageJ
    for roi, m in zip(rois, found.migrasomes, strict=True):
        xy = roi.coordinates()
        assert xy[:, 0].mean() == pytest.approx(m.x + 0.5, abs=0.5)  # ImageJ: pixel centres at +0.5
        assert xy[:, 1].mean() == pytest.approx(m.y + 0.5, abs=0.5)
    write_roi_set(tmp_path / "none.zip", [(None, None, type(found)())])
    assert roifile.roiread(tmp_path / "none.zip") == []
