"""Time-lapse tracking: drift, linking, track tables, and migraseg-predict on simulated stacks.

The end-to-end tests run the oracle model of test_predict_files (it reads the class off the
image, which is the simulated mask × 1000 counts), so the segmentation is the truth and every
error left is the tracker's.
"""

from collections import Counter
from dataclasses import replace
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
import roifile
import tifffile

from migraseg.constants import MIGRASOME_POSTPROCESS as POST
from migraseg.evaluation.tracking import (
    matched_ids,
    predicted_detections,
    tracking_scores,
    truth_detections,
)
from migraseg.export import export_torchscript
from migraseg.inference import predict_files
from migraseg.measure.frame import measure_frame
from migraseg.measure.tables import read_csv
from migraseg.synth.generator import make_sample
from migraseg.tracking.drift import DriftEstimator
from migraseg.tracking.link import MIGRASOME_LINKS, link
from migraseg.tracking.stack import track_stack
from migraseg.tracking.tracks import fate, max_growth_rate

from .test_predict_files import ORACLE_META, PIXEL_SIZE, ClassBands, as_image, run, write_imagej
from .test_synth_timelapse import LAPSE

INTERVAL = LAPSE.timelapse.frame_interval_min
DRIFT = np.array([1, -2])  # px per frame, (dy, dx)


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    return export_torchscript(ClassBands(), ORACLE_META, tmp_path_factory.mktemp("m") / "oracle.pt")


@pytest.fixture(scope="module")
def movie():
    """A 10-frame simulated time-lapse with a stage drift of ``DRIFT`` px per frame."""
    sample = make_sample(replace(LAPSE, preset="timelapse"), seed=4, index=0)
    shifts = [tuple(DRIFT * t) for t in range(sample.n_frames)]

    def drifting(stack: np.ndarray) -> np.ndarray:
        return np.stack([np.roll(m, s, (0, 1)) for m, s in zip(stack, shifts, strict=True)])

    return drifting(sample.mask), drifting(sample.migrasome_ids), sample.truth


def test_drift_offsets_map_each_frame_onto_the_first(movie):
    mask, _, _ = movie
    drift = DriftEstimator()
    offsets = np.array([drift.update(frame) for frame in mask])
    np.testing.assert_allclose(offsets, -np.outer(np.arange(len(mask)), DRIFT), atol=0.5)


def test_links_bridge_two_missing_frames_but_not_three():
    rng = np.random.default_rng(0)
    frames = np.arange(12)
    seen = np.ones(12, bool)
    seen[[3, 4]] = False  # a two-frame gap: one track
    seen[[8, 9, 10]] = False  # a three-frame gap: a new track after it
    y = 5 + rng.normal(0, 0.1, 12)
    x = 7 + rng.normal(0, 0.1, 12)
    other = np.arange(12)  # a neighbour 3 µm away, seen in every frame
    ids = link(
        np.r_[frames[seen], other],
        np.r_[y[seen], np.full(12, 8.0)],
        np.r_[x[seen], np.full(12, 7.0)],
        MIGRASOME_LINKS,
    )
    first, second = ids[: seen.sum()], ids[seen.sum() :]
    assert len(set(second)) == 1 and not set(second) & set(first)
    assert list(first[frames[seen] < 8]) == [first[0]] * 6 and len(set(first)) == 2


def test_growth_rate_and_fate():
    t = np.arange(6) * 2.0
    assert max_growth_rate(t, 0.5 + 0.1 * t) == pytest.approx(0.1)
    assert max_growth_rate(t, np.minimum(0.5 + 0.2 * t, 1.5)) == pytest.approx(0.2)
    assert np.isnan(max_growth_rate(t[:1], t[:1]))
    assert fate(True, 1.0, 1.1) == "persists"
    assert fate(False, 1.0, 1.1) == "vanished"
    assert fate(True, 0.5, 1.1) == "shrank"


def truth_track(ids: np.ndarray, rows: list[dict]) -> list[int]:
    """The true migrasome id under each row's centroid (0: none)."""
    at = [(int(r["frame"]), float(r["y_px"]), float(r["x_px"])) for r in rows]
    return [int(ids[t, round(y), round(x)]) for t, y, x in at]


def test_predict_tracks_a_drifting_simulated_time_lapse(oracle, movie, tmp_path):
    mask, ids, truth = movie
    path = tmp_path / "movie.tif"
    tifffile.imwrite(
        path,
        as_image(mask),
        imagej=True,
        resolution=(1 / PIXEL_SIZE, 1 / PIXEL_SIZE),
        metadata={"axes": "TYX", "unit": "um", "finterval": INTERVAL * 60},
    )
    [report] = run(oracle, [path], tmp_path / "out")
    assert report.status == "done", report.message
    out = tmp_path / "out"
    rows = read_csv(out / "movie_migrasomes.csv")
    true_ids = truth_track(ids, rows)
    by_truth: dict[int, set[str]] = {}
    for r, true_id in zip(rows, true_ids, strict=True):
        if true_id:
            by_truth.setdefault(true_id, set()).add(r["track_id"])
    assert len(by_truth) >= 3
    assert sum(len(tracks) == 1 for tracks in by_truth.values()) >= 0.9 * len(by_truth)

    tracks = read_csv(out / "movie_tracks.csv")
    assert {t["track_id"] for t in tracks} == {r["track_id"] for r in rows}
    assert {t["time_unit"] for t in tracks} == {"min"}
    for t in tracks:
        assert float(t["first_time_min"]) == pytest.approx(int(t["first_frame"]) * INTERVAL)
        assert t["site_at_birth"] in {"tip", "branch", "along", "detached"}
        assert t["fate"] in {"persists", "shrank", "vanished"}
    # nucleation: a track born in the movie starts in the first frame its migrasome is seen
    first_seen = {}
    for frame in truth["frames"]:
        for m in frame["migrasomes"]:
            if m["area_px"]:
                first_seen.setdefault(m["id"], frame["t"])
    born = [t for t in tracks if t["born_in_movie"] == "True"]
    assert born
    starts = {r["track_id"]: tid for r, tid in zip(rows, true_ids, strict=True) if tid}
    errors = [
        abs(int(t["first_frame"]) - first_seen[starts[t["track_id"]]])
        for t in born
        if t["track_id"] in starts
    ]
    assert np.median(errors) <= 1

    rois = roifile.roiread(out / "movie_migrasomes.zip")
    assert [roi.name for roi in rois] == [f"t{r['track_id']}_f{r['frame']}" for r in rows]
    napari = read_csv(out / "movie_tracks_napari.csv")
    assert list(napari[0]) == ["track_id", "t", "y", "x"] and len(napari) == len(rows)
    cells = read_csv(out / "movie_cells_over_time.csv")
    assert cells and {int(c["frame"]) for c in cells} <= set(range(len(mask)))
    assert (out / "movie_growth.png").stat().st_size > 1000
    check_trackmate(out / "movie_trackmate.xml", rows, n_frames=len(mask))


def check_trackmate(path, rows: list[dict], n_frames: int) -> None:
    """TrackMate's XML holds every migrasome as a spot named as its ROI, at its position in µm,
    and links each track's detections frame after frame."""
    root = ElementTree.parse(path).getroot()
    spots = {s.get("ID"): s for s in root.iter("Spot")}
    assert int(root.find("Model/AllSpots").get("nspots")) == len(spots) == len(rows)
    assert sorted(s.get("name") for s in spots.values()) == sorted(
        f"t{r['track_id']}_f{r['frame']}" for r in rows
    )
    row = rows[0]
    spot = next(s for s in spots.values() if s.get("name") == f"t{row['track_id']}_f{row['frame']}")
    assert float(spot.get("POSITION_X")) == pytest.approx(float(row["x_px"]) * PIXEL_SIZE, abs=1e-3)
    per_track = Counter(r["track_id"] for r in rows)
    tracks = root.findall("Model/AllTracks/Track")
    assert {t.get("TRACK_ID") for t in tracks} == {k for k, n in per_track.items() if n > 1}
    for track in tracks:
        edges = [(spots[e.get("SPOT_SOURCE_ID")], spots[e.get("SPOT_TARGET_ID")]) for e in track]
        assert len(edges) == per_track[track.get("TRACK_ID")] - 1
        for source, target in edges:
            assert int(source.get("FRAME")) < int(target.get("FRAME"))
            assert source.get("name").split("_")[0] == f"t{track.get('TRACK_ID')}"
    filtered = {t.get("TRACK_ID") for t in root.iter("TrackID")}
    assert filtered == {t.get("TRACK_ID") for t in tracks}
    image = root.find("Settings/ImageData")
    assert (image.get("filename"), int(image.get("nframes"))) == (
        path.name.replace("_trackmate.xml", ".tif"),
        n_frames,
    )


def test_one_frame_gives_no_tracks_and_no_interval_means_frames(oracle, movie, tmp_path):
    mask, _, _ = movie
    write_imagej(tmp_path / "still.tif", as_image(mask[:1]), "TYX")
    write_imagej(tmp_path / "short.tif", as_image(mask[:3]), "TYX")
    reports = run(oracle, [tmp_path / "still.tif", tmp_path / "short.tif"], tmp_path / "out")
    assert [r.status for r in reports] == ["done", "done"]
    assert not list((tmp_path / "out").glob("still_tracks*"))
    assert "track_id" not in read_csv(tmp_path / "out" / "still_migrasomes.csv")[0]
    tracks = read_csv(tmp_path / "out" / "short_tracks.csv")
    assert {t["time_unit"] for t in tracks} == {"frame"}
    again = run(oracle, [tmp_path / "short.tif"], tmp_path / "out", frame_interval_min=2.5)
    assert again[0].status == "done"  # a new option redoes the file
    tracks = read_csv(tmp_path / "out" / "short_tracks.csv")
    assert {t["time_unit"] for t in tracks} == {"min"}


def test_frames_of_different_sizes_fail_naming_the_file(oracle, tmp_path):
    path = tmp_path / "mixed.tif"
    with tifffile.TiffWriter(path) as tif:
        for shape in ((64, 64), (64, 64), (48, 64)):
            tif.write(np.zeros(shape, np.uint16), metadata=None)
    [report] = run(oracle, [path], tmp_path / "out", pixel_size_um=PIXEL_SIZE)
    assert report.status == "failed"
    assert str(path) in report.message and "different sizes" in report.message


def test_tracking_scores_count_switches_and_late_births():
    rows = [(t, i, 5.0 * i, 0.0, 0.5 + 0.1 * t) for t in range(4) for i in (1, 2)]
    rows += [(t, 3, 20.0, 0.0, 0.5 + 0.2 * t) for t in (2, 3)]  # nucleates in frame 2
    truth = pd.DataFrame(rows, columns=["frame", "id", "y_um", "x_um", "diameter_um"])
    perfect = truth.rename(columns={"id": "track_id"})
    scores = tracking_scores([(truth, perfect, 2.0)])
    assert scores["idf1"] == 1 and scores["id_switches"] == 0 and scores["true_links"] == 7
    assert scores["growth_rate_rel_error_median"] == 0
    assert scores["nucleation_error_frames_median"] == 0
    swapped = perfect.copy()
    late = (swapped["frame"] >= 2) & (swapped["track_id"] < 3)
    swapped.loc[late, "track_id"] = 3 - swapped.loc[late, "track_id"]  # 1 and 2 trade ids
    missed = swapped[~((swapped["track_id"] == 3) & (swapped["frame"] == 2))]  # seen a frame late
    scores = tracking_scores([(truth, missed, 2.0)])
    assert scores["id_switches"] == 2 and scores["idf1"] < 0.8
    assert scores["nucleation_error_frames_median"] == 1


def test_growth_error_leaves_out_true_migrasomes_that_do_not_grow():
    plateau = pd.DataFrame(
        [(t, 1, 0.0, 0.0, 1.0 + 1e-12 * t) for t in range(4)],
        columns=["frame", "id", "y_um", "x_um", "diameter_um"],
    )
    jittery = plateau.rename(columns={"id": "track_id"}).assign(diameter_um=[1.0, 1.02, 1.0, 1.03])
    scores = tracking_scores([(plateau, jittery, 2.0)])
    assert scores["n_growth_tracks"] == 0 and np.isnan(scores["growth_rate_rel_error_median"])


def test_simulated_fates_show_in_the_tracks_fate_column():
    """Migrasomes that rupture end as ``vanished`` tracks, those that shrink as ``shrank``."""
    fated = replace(
        LAPSE.timelapse,
        shrink_fraction=0.5,
        rupture_fraction=0.5,
        fate_delay_min=(0.0, 2.0),
        shrink_time_min=(2.0, 4.0),
    )
    sample = make_sample(replace(LAPSE, preset="timelapse", timelapse=fated), seed=2, index=0)
    px = sample.pixel_size_um
    measured = [
        (t, None, measure_frame(labels, lambda a, b, t=t: sample.image[t][:, a:b], px, POST))
        for t, labels in enumerate(sample.mask)
    ]
    stacked = track_stack(measured, px, INTERVAL)
    matched = matched_ids(truth_detections(sample.truth), predicted_detections(stacked, px))
    tracked = {row["track_id"]: row["fate"] for row in stacked.tracks}
    pairs = Counter((sample.truth["fate"][str(m)], tracked[t]) for t, m in matched.items())
    assert pairs[("ruptures", "vanished")] >= 2 and pairs[("shrinks", "shrank")] >= 2, pairs
    assert pairs[("ruptures", "persists")] == 0, pairs


def test_a_long_stack_streams_its_pixels(oracle, movie, tmp_path, monkeypatch):
    """Predicting and tracking a stack too large to hold for a writer process holds one frame's
    pixels at a time: 150 more frames of 256² add far less Python-side peak memory than their
    pixels (what grows is per migrasome: outlines, table rows, ROIs, TrackMate spots)."""
    import tracemalloc

    monkeypatch.setattr(predict_files, "MAX_HELD_BYTES", 2**20)  # stacks here are larger

    mask, _, _ = movie
    side = 256
    peaks = {}
    for n in (50, 200):
        frames = np.zeros((n, side, side), np.uint8)
        frames[:, : mask.shape[1], : mask.shape[2]] = [mask[t % len(mask)] for t in range(n)]
        path = write_imagej(tmp_path / f"long{n}.tif", as_image(frames), "TYX")
        del frames
        tracemalloc.start()
        [report] = run(oracle, [path], tmp_path / f"out{n}")
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert report.status == "done", report.message
        assert len(read_csv(tmp_path / f"out{n}" / f"long{n}_summary.csv")) == n
        assert read_csv(tmp_path / f"out{n}" / f"long{n}_tracks.csv")
    frame_bytes = side * side * 2
    assert (peaks[200] - peaks[50]) / 150 < frame_bytes / 4, peaks
