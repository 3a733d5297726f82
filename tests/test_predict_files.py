"""migraseg-predict on real files: round trips with known truth, layouts, bad inputs, outputs.

The model here is an *oracle* exported like any other: it reads the class off the normalised
intensity (images are simulated masks × 1000 counts), so every difference between its outputs
and the simulator's truth comes from the file handling, rescaling, tiling or measuring.
"""

import hashlib
import os
import shutil

import numpy as np
import pytest
import roifile
import tifffile
import torch
from torch import nn

from migraseg.constants import SITES
from migraseg.export import export_torchscript
from migraseg.inference.predict_files import MANIFEST, BatchPredictor, PredictOptions, expand_inputs
from migraseg.inference.predictor import Predictor
from migraseg.io import read_image
from migraseg.measure.tables import read_csv
from migraseg.model_meta import ModelMeta

PIXEL_SIZE = 0.2  # µm/px of the tiny simulated dataset


class ClassBands(nn.Module):
    """Logits favouring class k where the normalised intensity is near k / 3."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centres = torch.arange(4, dtype=x.dtype, device=x.device).view(1, 4, 1, 1) / 3
        return -200 * (x[:, :1] - centres) ** 2


ORACLE_META = ModelMeta(
    in_channels=1,
    pixel_size_um=PIXEL_SIZE,
    patch_size=64,
    model={},
    channel_names=["tspan4"],
    normalization={"method": "percentile", "low": 0.0, "high": 100.0},
)


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    return export_torchscript(ClassBands(), ORACLE_META, tmp_path_factory.mktemp("m") / "oracle.pt")


@pytest.fixture(scope="module")
def truth(tiny_dataset):
    """(stem, mask, true migrasome count) of the first three simulated images."""
    items = []
    for path in sorted((tiny_dataset / "masks").glob("*.tif"))[:3]:
        mask = read_image(path)[0]
        n = len(np.unique(read_image(tiny_dataset / "instances" / path.name)[0])) - 1
        items.append((path.stem, mask, n))
    return items


def as_image(mask: np.ndarray, seed: int = 0) -> np.ndarray:
    """Simulated masks as uint16 counts: class × 1000 plus noise."""
    noise = np.random.default_rng(seed).integers(0, 40, mask.shape)
    return (mask.astype(np.uint16) * 1000 + 100 + noise).astype(np.uint16)


def write_imagej(path, array, axes, pixel_size=PIXEL_SIZE, **kwargs):
    resolution = (1 / pixel_size, 1 / pixel_size) if pixel_size else None
    metadata = {"axes": axes, **({"unit": "um"} if pixel_size else {})}
    tifffile.imwrite(path, array, imagej=True, resolution=resolution, metadata=metadata, **kwargs)
    return path


def run(oracle, inputs, out, tile_size=128, **options):
    predictor = Predictor.from_path(oracle, device="cpu", tile_size=tile_size)
    paths, missing = expand_inputs([str(p) for p in inputs], out)
    return missing + BatchPredictor(predictor, out, PredictOptions(**options)).run(paths)


def test_round_trip_gives_the_truth(oracle, truth, tmp_path):
    """Labels equal the masks pixel for pixel and the tables count the true migrasomes, also
    when the image is read in thin strips (the path huge images take) with small tiles."""
    (tmp_path / "in").mkdir()
    for stem, mask, _ in truth:
        write_imagej(tmp_path / "in" / f"{stem}.tif", as_image(mask), "YX")
    for out, options in [("whole", {}), ("strips", {"tile_size": 64, "strip_pixels": 20 * 128})]:
        reports = run(oracle, [tmp_path / "in"], tmp_path / out, **options)
        assert [r.status for r in reports] == ["done"] * 3
        for stem, mask, n_true in truth:
            labels, meta = read_image(tmp_path / out / f"{stem}_labels.tif")
            np.testing.assert_array_equal(labels, mask)
            assert meta["pixel_size_um"] == pytest.approx(PIXEL_SIZE)
            rows = read_csv(tmp_path / out / f"{stem}_migrasomes.csv")
            assert len(rows) == n_true
            assert {r["site"] for r in rows} <= set(SITES)
            rois = roifile.roiread(tmp_path / out / f"{stem}_migrasomes.zip")
            assert len(rois) == n_true
        summary = read_csv(tmp_path / out / "summary.csv")
        assert [int(r["n_migrasomes"]) for r in summary] == [n for _, _, n in truth]
    whole = read_csv(tmp_path / "whole" / f"{truth[0][0]}_migrasomes.csv")
    assert whole == read_csv(tmp_path / "strips" / f"{truth[0][0]}_migrasomes.csv")


def test_rescaling_to_the_model_pixel_size_keeps_positions_in_microns(oracle, truth, tmp_path):
    _, mask, n_true = truth[0]
    fine = np.kron(mask, np.ones((2, 2), np.uint8))  # the same scene at 0.1 µm/px
    write_imagej(tmp_path / "coarse.tif", as_image(mask), "YX")
    write_imagej(tmp_path / "fine.tif", as_image(fine), "YX", pixel_size=PIXEL_SIZE / 2)
    assert [
        r.status
        for r in run(oracle, [tmp_path / "coarse.tif", tmp_path / "fine.tif"], tmp_path / "out")
    ] == ["done"] * 2
    labels, meta = read_image(tmp_path / "out" / "fine_labels.tif")
    assert labels.shape == fine.shape and meta["pixel_size_um"] == pytest.approx(0.1)
    assert (labels == fine).mean() > 0.97
    coarse_rows = read_csv(tmp_path / "out" / "coarse_migrasomes.csv")
    fine_rows = read_csv(tmp_path / "out" / "fine_migrasomes.csv")
    assert len(coarse_rows) == len(fine_rows) == n_true
    for a, b in zip(coarse_rows, fine_rows, strict=True):
        assert float(a["x_um"]) == pytest.approx(float(b["x_um"]), abs=0.1)
        assert float(a["y_um"]) == pytest.approx(float(b["y_um"]), abs=0.1)
        assert float(b["diameter_um"]) == pytest.approx(float(a["diameter_um"]), rel=0.12, abs=0.1)


def test_time_series_z_stacks_and_channels(oracle, truth, tmp_path):
    masks = np.stack([m for _, m, _ in truth])
    counts = [n for _, _, n in truth]
    write_imagej(tmp_path / "movie.tif", as_image(masks), "TYX")
    write_imagej(tmp_path / "stack.tif", as_image(masks), "ZYX")
    two = np.stack([np.full(masks[0].shape, 7, np.uint16), as_image(masks[0])])
    tifffile.imwrite(
        tmp_path / "two.ome.tif",
        two,
        ome=True,
        metadata={
            "axes": "CYX",
            "Channel": {"Name": ["dapi", "tspan4"]},
            "PhysicalSizeX": PIXEL_SIZE,
            "PhysicalSizeY": PIXEL_SIZE,
        },
    )
    inputs = [tmp_path / n for n in ("movie.tif", "stack.tif", "two.ome.tif")]
    assert all(r.status == "done" for r in run(oracle, inputs, tmp_path / "slices"))
    assert all(r.status == "done" for r in run(oracle, inputs[1:2], tmp_path / "max", z_mode="max"))

    labels, meta = read_image(tmp_path / "slices" / "movie_labels.tif")
    assert meta["axes"] == "TYX" and labels.shape == masks.shape
    np.testing.assert_array_equal(labels, masks)
    rows = read_csv(tmp_path / "slices" / "movie_migrasomes.csv")
    assert [sum(int(r["frame"]) == t for r in rows) for t in range(3)] == counts
    rois = roifile.roiread(tmp_path / "slices" / "movie_migrasomes.zip")
    assert sorted({r.t_position for r in rois}) == [1, 2, 3]
    summary = read_csv(tmp_path / "slices" / "movie_summary.csv")
    assert [int(r["n_migrasomes"]) for r in summary] == counts

    labels, meta = read_image(tmp_path / "slices" / "stack_labels.tif")
    assert meta["axes"] == "ZYX" and labels.shape == masks.shape
    assert [r["z"] for r in read_csv(tmp_path / "slices" / "stack_summary.csv")] == ["0", "1", "2"]
    projected, meta = read_image(tmp_path / "max" / "stack_labels.tif")
    assert projected.shape == masks.shape[1:]
    np.testing.assert_array_equal(projected, masks.max(0))

    labels, _ = read_image(tmp_path / "slices" / "two_labels.tif")  # tspan4 chosen by name
    np.testing.assert_array_equal(labels, masks[0])
    rows = read_csv(tmp_path / "slices" / "two_migrasomes.csv")
    assert len(rows) == counts[0] and float(rows[0]["mean_intensity_dapi_raw"]) == 7.0
    assert float(rows[0]["mean_intensity_tspan4_raw"]) > 3000


def test_probabilities_are_written_on_request(oracle, truth, tmp_path):
    _, mask, _ = truth[0]
    write_imagej(tmp_path / "a.tif", as_image(mask), "YX")
    run(oracle, [tmp_path / "a.tif"], tmp_path / "out", save_probs=True)
    probs, meta = read_image(tmp_path / "out" / "a_probs.tif")
    assert probs.dtype == np.uint8 and probs.shape == (4, *mask.shape) and meta["axes"] == "CYX"
    assert meta["pixel_size_um"] == pytest.approx(PIXEL_SIZE)
    np.testing.assert_array_equal(probs.argmax(0), mask)


BAD_INPUTS = {
    "junk.tif": "cannot read as TIFF",
    "truncated.tif": "cannot read pixel data",
    "uncalibrated.tif": "no pixel size in the file's metadata; pass --pixel-size",
    "frames.tif": "unknown axes 'IYX'",
    "nan.tif": "NaN",
    "line.tif": "too small",
    "channels.tif": "choose with --channel",
    "missing.tif": "no such file or folder",
}


def make_bad_inputs(folder, mask):
    folder.mkdir()
    (folder / "junk.tif").write_bytes(b"this is not a TIFF")
    write_imagej(folder / "truncated.tif", as_image(mask), "YX")
    data = (folder / "truncated.tif").read_bytes()
    (folder / "truncated.tif").write_bytes(data[: len(data) // 2])
    tifffile.imwrite(folder / "uncalibrated.tif", as_image(mask))
    with tifffile.TiffWriter(folder / "frames.tif") as tif:  # 5 pages, no axes metadata
        for _ in range(5):
            tif.write(as_image(mask), metadata=None)
    nan = as_image(mask).astype(np.float32)
    nan[10, 10] = np.nan
    write_imagej(folder / "nan.tif", nan, "YX")
    write_imagej(folder / "line.tif", as_image(mask)[:1], "YX")
    write_imagej(folder / "channels.tif", np.stack([as_image(mask)] * 2), "CYX")


def test_each_bad_input_is_reported_by_name_and_the_batch_goes_on(oracle, truth, tmp_path):
    _, mask, n_true = truth[0]
    make_bad_inputs(tmp_path / "in", mask)
    write_imagej(tmp_path / "in" / "good.tif", as_image(mask), "YX")
    inputs = [tmp_path / "in", tmp_path / "in" / "missing.tif"]
    reports = {r.path.name: r for r in run(oracle, inputs, tmp_path / "out")}
    assert reports["good.tif"].status == "done" and reports["good.tif"].migrasomes == n_true
    for name, message in BAD_INPUTS.items():
        assert reports[name].status == "failed", name
        assert name in reports[name].message and message in reports[name].message, reports[
            name
        ].message
    assert [r["image"] for r in read_csv(tmp_path / "out" / "summary.csv")] == ["good.tif"]
    assert sorted(
        p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith("good")
    ) == [MANIFEST, "summary.csv"]
    # the same files pass once their problem is named on the command line
    fixed = run(
        oracle, [tmp_path / "in" / "uncalibrated.tif"], tmp_path / "fixed", pixel_size_um=PIXEL_SIZE
    )
    framed = run(
        oracle,
        [tmp_path / "in" / "frames.tif"],
        tmp_path / "fixed",
        axes="TYX",
        pixel_size_um=PIXEL_SIZE,
    )
    chosen = run(oracle, [tmp_path / "in" / "channels.tif"], tmp_path / "fixed", channels=["1"])
    assert [r.status for r in fixed + framed + chosen] == ["done"] * 3
    assert read_image(tmp_path / "fixed" / "frames_labels.tif")[0].shape == (5, *mask.shape)


def test_finished_files_are_skipped_inputs_untouched_and_overwrite_redoes(oracle, truth, tmp_path):
    _, mask, _ = truth[0]
    path = write_imagej(tmp_path / "a.tif", as_image(mask), "YX")
    before = hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns
    assert run(oracle, [path], tmp_path / "out")[0].status == "done"
    labels = tmp_path / "out" / "a_labels.tif"
    stamp = labels.stat().st_mtime_ns
    again = run(oracle, [path], tmp_path / "out")
    assert again[0].status == "skipped" and labels.stat().st_mtime_ns == stamp
    assert [r["image"] for r in read_csv(tmp_path / "out" / "summary.csv")] == ["a.tif"]
    assert run(oracle, [path], tmp_path / "out", overwrite=True)[0].status == "done"
    assert labels.stat().st_mtime_ns != stamp
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns) == before
    hidden = [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    assert hidden == [MANIFEST]  # no temp files
    # our own outputs in --out are never taken as inputs, and same stems are refused
    shutil.copy(path, tmp_path / "out" / "b.tif")
    (tmp_path / "sub").mkdir()
    shutil.copy(path, tmp_path / "sub" / "a.tif")
    reports = run(oracle, [tmp_path / "out", tmp_path / "sub"], tmp_path / "out")
    # (sub/a.tif is another input than the a.tif that made a_*: redone, see test_reliability)
    assert [(r.path.name, r.status) for r in reports] == [("b.tif", "done"), ("a.tif", "done")]


@pytest.mark.export
def test_onnx_export_runs_on_onnxruntime_with_the_same_result(oracle, truth, tmp_path):
    from migraseg.export import export_onnx

    shutil.copy(oracle, tmp_path / "oracle.pt")
    export_onnx(ClassBands(), ORACLE_META, tmp_path / "oracle.onnx")
    onnx = Predictor.from_path(tmp_path / "oracle.pt", device="cpu", tile_size=64)
    torch_ = Predictor.from_path(
        tmp_path / "oracle.pt", device="cpu", tile_size=64, backend="torch"
    )
    assert onnx.runner.name == "onnxruntime/cpu"
    assert torch_.runner.name == "torchscript-frozen/cpu"
    image = as_image(truth[0][1])[None]
    np.testing.assert_allclose(
        onnx.probabilities(image, 0.15), torch_.probabilities(image, 0.15), atol=1e-5
    )
