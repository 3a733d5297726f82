"""Time-lapse mode: stable ids, cells that move, migrasomes that grow and then plateau."""

from dataclasses import asdict, replace

import numpy as np
import pytest

from migraseg.data.synthetic import write_synthetic_dataset
from migraseg.io import read_image
from migraseg.synth.generator import make_sample
from migraseg.synth.params import SynthConfig
from migraseg.synth.timelapse import growth_curve

from .conftest import TINY_SYNTH

LAPSE = replace(
    TINY_SYNTH,
    preset="timelapse",
    timelapse=replace(
        TINY_SYNTH.timelapse,
        n_frames=10,
        frame_interval_min=2.0,
        growth_time_min=(4.0, 8.0),
        nucleation_delay_min=(0.0, 2.0),
    ),
)


@pytest.fixture(scope="module")
def lapse():
    return make_sample(LAPSE, seed=1, index=0)


def test_stacks_have_one_frame_per_time_point(lapse):
    assert lapse.n_frames == 10
    assert lapse.image.shape == (10, 1, 128, 128)
    assert lapse.mask.shape == lapse.migrasome_ids.shape == lapse.cell_ids.shape == (10, 128, 128)
    assert [f["t"] for f in lapse.truth["frames"]] == list(range(10))


def test_migrasome_ids_stay_put_and_diameters_grow_then_plateau(lapse):
    history: dict[int, list[dict]] = {}
    for frame in lapse.truth["frames"]:
        for m in frame["migrasomes"]:
            history.setdefault(m["id"], []).append(m)
    plateaued = 0
    for rows in history.values():
        assert len({(r["x_um"], r["y_um"]) for r in rows}) == 1  # fixed on the dish
        diameters = np.array([r["diameter_um"] for r in rows])
        growth = np.array([r["growth"] for r in rows])
        assert np.all(np.diff(diameters) >= -1e-9) and np.all(np.diff(growth) >= -1e-9)
        grown = growth >= 1.0
        if grown.sum() >= 2:
            plateaued += 1
            assert np.ptp(diameters[grown]) < 1e-9  # flat once grown
            assert np.all(grown[np.argmax(grown) :])
    assert plateaued >= 2
    # the instance masks follow: an id's pixels stay centred where the table says
    px = lapse.pixel_size_um
    for t, frame in enumerate(lapse.truth["frames"]):
        for m in frame["migrasomes"]:
            rows, cols = np.nonzero(lapse.migrasome_ids[t] == m["id"])
            assert rows.size == m["area_px"]
            if not m["cut_by_border"] and rows.size > 4:
                centre = np.array([cols.mean() + 0.5, rows.mean() + 0.5]) * px
                assert np.linalg.norm(centre - [m["x_um"], m["y_um"]]) < 0.2 * m["diameter_um"] + px


def test_cells_migrate_along_their_heading(lapse):
    first = {c["id"]: c for c in lapse.truth["frames"][0]["cells"]}
    for cell in lapse.truth["frames"][-1]["cells"]:
        if cell["id"] in first:
            start = first[cell["id"]]
            moved = np.array([cell["x_um"] - start["x_um"], cell["y_um"] - start["y_um"]])
            heading = np.deg2rad(cell["heading_deg"])
            assert moved @ [np.cos(heading), np.sin(heading)] > 0.9 * np.linalg.norm(moved) > 0


def test_growth_curve_is_monotone_and_flat_after_one():
    x = np.linspace(-0.5, 2, 101)
    g = growth_curve(x)
    assert g[0] == 0 and np.all(np.diff(g) >= 0) and np.all(g[x >= 1] == 1)


def test_timelapse_dataset_writes_t_y_x_stacks(tmp_path):
    root = write_synthetic_dataset(tmp_path / "lapse", n=1, seed=2, config=LAPSE)
    stem = next((root / "images").glob("*.tif")).stem
    for folder in ("images", "masks", "instances", "cells"):
        array, meta = read_image(root / folder / f"{stem}.tif")
        assert meta["axes"] == "TYX" and array.shape == (10, 128, 128)
    rows = (root / "truth" / f"{stem}.csv").read_text().splitlines()[1:]
    assert {int(r.split(",")[0]) for r in rows} <= set(range(10))


def test_tem_refuses_time_lapse():
    with pytest.raises(ValueError, match="TEM"):
        SynthConfig(modality="tem", timelapse=replace(LAPSE.timelapse))


def test_stage_drift_moves_the_whole_field_and_leaves_the_rest_as_drawn():
    short = replace(LAPSE.timelapse, n_frames=4)
    still = make_sample(replace(LAPSE, timelapse=short), seed=1, index=0)
    drifting = replace(LAPSE, timelapse=replace(short, drift_um_per_frame=(0.3, 0.5)))
    moved = make_sample(drifting, seed=1, index=0)
    first = {m["id"]: m for m in moved.truth["frames"][0]["migrasomes"]}
    assert first == {m["id"]: m for m in still.truth["frames"][0]["migrasomes"]}
    steps = []
    for a, b in zip(still.truth["frames"][1:], moved.truth["frames"][1:], strict=True):
        here = {m["id"]: (m["x_um"], m["y_um"]) for m in a["migrasomes"]}
        shifts = {
            tuple(np.round(np.subtract((m["x_um"], m["y_um"]), here[m["id"]]), 6))
            for m in b["migrasomes"]
        }
        assert len(shifts) == 1  # everything moved together
        steps.append(np.array(shifts.pop()))
    lengths = np.linalg.norm(np.diff([np.zeros(2), *steps], axis=0), axis=1)
    assert np.all((lengths >= 0.3 - 1e-6) & (lengths <= 0.5 + 1e-6))


def test_training_form_writes_frames_as_images_split_by_time_lapse(tmp_path):
    from migraseg.data.contract import image_to_cyx, load_dataset
    from migraseg.data.synthetic import ensure_synthetic_dataset

    short = replace(LAPSE, timelapse=replace(LAPSE.timelapse, n_frames=2))
    recipe = {"simulator": asdict(short), "n": 3, "seed": 5, "frames_as_images": True}
    ensure_synthetic_dataset(tmp_path / "frames", recipe)
    spec = load_dataset(tmp_path / "frames")
    stems = {split: [r.stem for r in spec.split(split)] for split in ("train", "val", "test")}
    assert sorted(s for names in stems.values() for s in names) == [
        f"synth_5_{i:05d}_t{t:03d}" for i in range(3) for t in range(2)
    ]
    stacks = {split: {s.rsplit("_t", 1)[0] for s in names} for split, names in stems.items()}
    assert all(len(names) == 2 for names in stems.values())  # one time-lapse, both frames each
    assert not stacks["train"] & stacks["test"]
    image, meta = read_image(tmp_path / "frames" / "images" / f"{stems['test'][0]}.tif")
    assert image_to_cyx(image, meta["axes"]).shape == (1, 128, 128)
    assert ensure_synthetic_dataset(tmp_path / "frames", recipe)  # cached: not simulated again


def test_fates_and_frame_intervals_drawn_per_stack():
    fated = replace(
        LAPSE.timelapse,
        frame_interval_range_min=(0.5, 5.0),
        shrink_fraction=0.4,
        rupture_fraction=0.3,
        detach_fraction=0.3,
        fate_delay_min=(0.0, 2.0),
    )
    samples = [make_sample(replace(LAPSE, timelapse=fated), seed=3, index=i) for i in range(3)]
    intervals = [s.truth["frame_interval_min"] for s in samples]
    assert all(0.5 <= i <= 5.0 for i in intervals) and len(set(intervals)) == 3
    seen = set()
    for sample in samples:
        truth = sample.truth
        assert [f["time_min"] for f in truth["frames"]] == [
            t * truth["frame_interval_min"] for t in range(10)
        ]
        history: dict[int, list[dict]] = {}
        for frame in truth["frames"]:
            for m in frame["migrasomes"]:
                history.setdefault(m["id"], []).append(m)
        for key, fate in truth["fate"].items():
            rows = history.get(int(key), [])
            seen.add(fate)
            if fate == "shrinks" and len(rows) > 1:
                assert rows[-1]["diameter_um"] < max(r["diameter_um"] for r in rows)
            if fate == "ruptures":
                assert int(key) not in {m["id"] for m in truth["frames"][-1]["migrasomes"]}
            if fate == "detaches" and rows:
                assert rows[-1]["site"] == "detached"
                assert (rows[-1]["x_um"], rows[-1]["y_um"]) != (rows[0]["x_um"], rows[0]["y_um"])
    assert {"shrinks", "ruptures", "detaches"} <= seen


def test_focus_drift_blurs_later_frames_and_leaves_the_first_as_drawn():
    from scipy import ndimage

    short = replace(LAPSE.timelapse, n_frames=6)
    sharp = make_sample(replace(LAPSE, timelapse=short), seed=1, index=0)
    drifting = replace(LAPSE, timelapse=replace(short, focus_drift_per_frame=(0.2, 0.2)))
    blurred = make_sample(drifting, seed=1, index=0)
    assert blurred.truth["focus_drift_per_frame"] == pytest.approx(0.2)
    np.testing.assert_array_equal(blurred.image[0], sharp.image[0])
    np.testing.assert_array_equal(blurred.mask, sharp.mask)  # truth does not depend on focus

    def detail(frame: np.ndarray) -> float:  # edge energy above the noise
        smooth = ndimage.gaussian_filter(frame[0].astype(float), 1.0)
        return float(np.mean(np.hypot(*np.gradient(smooth))))

    assert detail(blurred.image[-1]) < 0.9 * detail(sharp.image[-1])
