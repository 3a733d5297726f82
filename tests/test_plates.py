"""migraseg-predict on OME-Zarr HCS plates: every field of every well, with the oracle model of
test_predict_files (so labels and counts are exact), per-well summaries, and missing parts."""

import sys
from pathlib import Path

import numpy as np
import pytest

from migraseg.inference.plates import PLATE_COLUMNS, attributes, field_stem
from migraseg.inference.predict_files import BatchPredictor, PredictOptions, expand_inputs
from migraseg.inference.predictor import Predictor
from migraseg.io import read_image
from migraseg.measure.tables import read_csv
from tests.test_predict_files import PIXEL_SIZE, as_image, oracle, truth, write_imagej  # noqa: F401

ome_zarr_writer = pytest.importorskip("ome_zarr.writer")

# well → its fields' truth indices (None: listed by the well, never written)
LAYOUT = {"A/1": [0, 1], "B/2": [2, None]}
UNITS = {"A/1": ("micrometer", PIXEL_SIZE), "B/2": ("nanometer", PIXEL_SIZE * 1000)}


def write_plate(path: Path, masks: list[np.ndarray], version: str = "0.5") -> Path:
    """A plate listing wells A/1, A/2 (missing) and B/2, whose field 1 is missing."""
    import zarr
    from ome_zarr.format import format_from_version

    fmt = format_from_version(version)
    root = zarr.open_group(path, mode="w", zarr_format=3 if version == "0.5" else 2)
    wells = ["A/1", "A/2", "B/2"]
    ome_zarr_writer.write_plate_metadata(root, ["A", "B"], ["1", "2"], wells, fmt=fmt)
    for well_path, fields in LAYOUT.items():
        well = root.require_group(well_path)
        ome_zarr_writer.write_well_metadata(well, [str(i) for i in range(len(fields))], fmt=fmt)
        unit, scale = UNITS[well_path]
        for i, index in enumerate(fields):
            if index is not None:
                ome_zarr_writer.write_image(
                    as_image(masks[index], index),
                    well.require_group(str(i)),
                    axes="yx",
                    scale_factors=[2],
                    fmt=fmt,
                    scale={"y": scale, "x": scale},
                    axes_units={"y": unit, "x": unit},
                )
    return path


def predict(model, inputs, out):
    predictor = Predictor.from_path(model, device="cpu", tile_size=128)
    warnings: list[str] = []
    paths, missing = expand_inputs([str(p) for p in inputs], out, warnings.append)
    reports = BatchPredictor(predictor, out, PredictOptions()).run(paths)
    return missing + reports, warnings


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_every_field_of_every_well_is_predicted_and_summarised(oracle, truth, tmp_path, version):  # noqa: F811
    masks = [mask for _, mask, _ in truth]
    plate = write_plate(tmp_path / "screen.zarr", masks, version)
    plain = write_imagej(tmp_path / "plain.tif", as_image(masks[0]), "YX")
    out = tmp_path / "out"
    reports, warnings = predict(oracle, [plate, plain], out)

    assert [r.status for r in reports] == ["done"] * 4
    assert len(warnings) == 2
    assert "A/2" in warnings[0] and "missing" in warnings[0]
    assert str(plate / "B" / "2" / "1") in warnings[1]
    for stem, index in [("screen_A_1_0", 0), ("screen_A_1_1", 1), ("screen_B_2_0", 2)]:
        labels, meta = read_image(out / f"{stem}_labels.tif")
        np.testing.assert_array_equal(labels, masks[index])
        assert meta["pixel_size_um"] == pytest.approx(PIXEL_SIZE)  # 200 nm in B/2

    summary = read_csv(out / "summary.csv")
    keys = [(r["image"], r["plate"], r["well"], r["field"]) for r in summary]
    assert keys == [
        ("screen.zarr/A/1/0", "screen", "A1", "0"),
        ("screen.zarr/A/1/1", "screen", "A1", "1"),
        ("screen.zarr/B/2/0", "screen", "B2", "0"),
        ("plain.tif", "", "", ""),
    ]
    assert [int(r["n_migrasomes"]) for r in summary] == [truth[i][2] for i in (0, 1, 2, 0)]

    wells = read_csv(out / "plate_summary.csv")
    assert list(wells[0]) == PLATE_COLUMNS
    assert [(w["well"], w["n_fields"]) for w in wells] == [("A1", "2"), ("B2", "1")]
    assert int(wells[0]["n_migrasomes"]) == truth[0][2] + truth[1][2]
    diameters = [
        float(m["diameter_um"])
        for stem in ("screen_A_1_0", "screen_A_1_1")
        for m in read_csv(out / f"{stem}_migrasomes.csv")
    ]
    assert float(wells[0]["median_diameter_um"]) == pytest.approx(np.median(diameters), abs=1e-6)
    whole = sum(int(r["n_whole_cells"]) for r in summary[:2])
    on_whole = sum(int(r["n_migrasomes_of_whole_cells"]) for r in summary[:2])
    ratio = wells[0]["migrasomes_per_cell"]  # empty without a whole cell
    assert (float(ratio) if ratio else None) == (pytest.approx(on_whole / whole) if whole else None)

    again, _ = predict(oracle, [plate, plain], out)
    assert [r.status for r in again] == ["skipped"] * 4
    assert read_csv(out / "plate_summary.csv") == wells


def test_unreadable_field_fails_alone(oracle, truth, tmp_path):  # noqa: F811
    plate = write_plate(tmp_path / "screen.zarr", [mask for _, mask, _ in truth])
    chunks = [p for p in (plate / "A" / "1" / "0" / "s0").rglob("*") if p.is_file()]
    for chunk in chunks:
        if chunk.name != "zarr.json":
            chunk.write_bytes(b"not a chunk")
    (tmp_path / "image.zarr").mkdir()  # not a plate
    reports, _ = predict(oracle, [tmp_path / "*.zarr"], tmp_path / "out")
    assert [r.status for r in reports] == ["failed", "failed", "done", "done"]
    assert "image.zarr: not an OME-Zarr plate" in reports[0].message
    reports = reports[1:]
    assert "screen.zarr/A/1/0" in reports[0].message
    assert "cannot read pixel data" in reports[0].message


def test_without_ome_zarr_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ome_zarr.io", None)
    with pytest.raises(ValueError, match=r"migraseg\[plates\]"):
        attributes(tmp_path)


def test_field_stems_come_from_the_path():
    assert field_stem(Path("/data/screen.ome.zarr/B/12/3")) == "screen_B_12_3"
    assert field_stem(Path("/data/screen.zarr/B/12/3.tif")) is None
    assert field_stem(Path("/data/screen/B/12/3")) is None
