"""migraseg-predict's outputs for a biologist (issue 15): the wrong-model warnings, the overlay,
the coloured label image, cell ids and the table columns, on a hand-made scene predicted by an
oracle model (tests/test_predict_files.py), and the modality rule on simulated images."""

import json
from dataclasses import replace

import numpy as np
import pytest
import tifffile
from PIL import Image
from skimage.draw import disk, line

from migraseg.cli.predict import main
from migraseg.constants import CELL, FIBER, MIGRASOME
from migraseg.export import export_torchscript
from migraseg.inference.modality_check import modality_warning, pixel_size_warning
from migraseg.inference.predict_files import MANIFEST
from migraseg.io import read_image
from migraseg.measure.tables import read_csv
from migraseg.synth.generator import make_sample
from migraseg.synth.presets import load_preset
from tests.test_predict_files import ORACLE_META, PIXEL_SIZE, ClassBands, as_image, run
from tests.test_predict_files import write_imagej as write


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    return export_torchscript(ClassBands(), ORACLE_META, tmp_path_factory.mktemp("m") / "oracle.pt")


def scene() -> np.ndarray:
    """A whole cell with a fiber ending in a migrasome and a detached one below it, and a cell
    cut by the top-right border with a migrasome beside it (128 × 160 px at 0.2 µm)."""
    labels = np.zeros((128, 160), np.uint8)
    labels[disk((80, 40), 25)] = CELL
    labels[0:25, 110:160] = CELL
    rr, cc = line(80, 65, 80, 95)
    labels[rr, cc] = labels[rr + 1, cc] = FIBER
    for centre in [(80, 99), (40, 135), (120, 40)]:
        labels[disk(centre, 4)] = MIGRASOME
    return labels


def test_outputs_a_biologist_opens(oracle, tmp_path):
    labels = scene()
    write(tmp_path / "a.tif", as_image(labels), "YX")
    [report] = run(oracle, [tmp_path / "a.tif"], tmp_path / "out")
    assert report.status == "done" and report.warnings == []
    out = tmp_path / "out"

    with tifffile.TiffFile(out / "a_labels.tif") as tif:  # Fiji shows classes in colour
        meta = tif.imagej_metadata
        np.testing.assert_array_equal(tif.asarray(), labels)
    assert tuple(meta["Ranges"]) == (0.0, 3.0) and meta["min"] == 0 and meta["max"] == 3
    lut = np.asarray(meta["LUTs"]).reshape(3, 256)
    assert lut[:, 255].tolist() == [255, 0, 255] and lut[:, 0].tolist() == [0, 0, 0]
    assert "3 migrasome (magenta)" in meta["Info"]

    cells, cells_meta = read_image(out / "a_cells.tif")
    assert cells_meta["pixel_size_um"] == pytest.approx(PIXEL_SIZE)
    assert set(np.unique(cells)) == {0, 1, 2} and np.all((cells > 0) == (labels == CELL))
    table = {int(r["id"]): r for r in read_csv(out / "a_cells.csv")}
    cut = {i for i, r in table.items() if r["cut_by_border"] == "True"}
    assert len(table) == 2 and cells[5, 150] in cut and cells[80, 40] not in cut
    assert int(table[cells[80, 40]]["n_migrasomes"]) == 2

    rows = read_csv(out / "a_migrasomes.csv")
    assert len(rows) == 3
    for r in rows:
        assert float(r["score"]) > 0.95  # the oracle is sure of its migrasomes
        assert 0.8 < float(r["circularity"]) <= 1 and int(r["area_px"]) == disk((9, 9), 4)[0].size
        assert float(r["x_um"]) == pytest.approx((float(r["x_px"]) + 0.5) * PIXEL_SIZE)
        assert float(r["mean_intensity_c0_raw"]) > 3000  # raw counts of the file
    by_place = {(round(float(r["y_px"])), round(float(r["x_px"]))): r for r in rows}
    assert by_place[80, 99]["site"] == "tip" and by_place[120, 40]["site"] == "detached"
    assert by_place[40, 135]["nearest_cell_cut_by_border"] == "True"

    [summary] = read_csv(out / "a_summary.csv")
    assert (summary["n_cells"], summary["n_whole_cells"]) == ("2", "1")
    assert float(summary["migrasomes_per_cell"]) == 2.0  # the whole cell's 2, not 3 / 2
    assert (summary["n_tip"], summary["n_detached"], summary["n_along"]) == ("1", "2", "0")

    overlay = np.asarray(Image.open(out / "a_overlay.png").convert("RGB"))
    assert overlay.shape[0] >= 512 and overlay.shape[:2] == (512, 640)  # enlarged 4×
    colours = {tuple(c) for c in overlay.reshape(-1, 3)}
    assert {(255, 0, 255), (255, 255, 255)} <= colours  # migrasome outlines, scale bar
    r, g, b = np.moveaxis(overlay.astype(int), -1, 0)
    assert np.sum((r > 200) & (g > 180) & (b < 80)) > 20  # yellow ids (antialiased)


def test_no_overlay_and_skipping_a_file_done_without_one(oracle, tmp_path):
    write(tmp_path / "a.tif", as_image(scene()), "YX")
    first = run(oracle, [tmp_path / "a.tif"], tmp_path / "out", overlay=False)
    again = run(oracle, [tmp_path / "a.tif"], tmp_path / "out", overlay=False)
    assert [first[0].status, again[0].status] == ["done", "skipped"]
    assert not (tmp_path / "out" / "a_overlay.png").exists()
    assert run(oracle, [tmp_path / "a.tif"], tmp_path / "out")[0].status == "done"
    assert (tmp_path / "out" / "a_overlay.png").is_file()


def test_wrong_model_warnings_and_strict(oracle, tmp_path, capsys):
    image = as_image(scene())
    write(tmp_path / "coarse.tif", image[60:124, 60:124], "YX", pixel_size=0.9)  # 4.5× the model's
    write(tmp_path / "tem_like.tif", (4000 - image).astype(np.uint16), "YX")
    reports = run(oracle, [tmp_path / "coarse.tif", tmp_path / "tem_like.tif"], tmp_path / "w")
    assert [r.status for r in reports] == ["done", "done"]
    [coarse], [tem_like] = reports[0].warnings, reports[1].warnings
    assert "pixel size 0.9 µm is 4.5× larger than the model's 0.2 µm" in coarse
    assert "dark objects on a light background" in tem_like and "confocal" in tem_like

    args = [str(oracle), str(tmp_path / "tem_like.tif"), "--out", str(tmp_path / "s")]
    code = main([*args, "--tile-size", "128"])
    err = capsys.readouterr().err
    assert code == 0 and "WARNING tem_like.tif: the image shows dark objects" in err
    assert main([*args, "--tile-size", "128", "--strict", "--quiet", "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'tem_like.tif'}: the image shows dark objects" in err
    assert "(an error with --strict)" in err


def test_pixel_size_warning_beyond_4x_only():
    assert pixel_size_warning(0.2 * 3.9, 0.2) is None and pixel_size_warning(0.2 / 3.9, 0.2) is None
    assert "4.5× smaller" in pixel_size_warning(0.2 / 4.5, 0.2)
    assert "model's 0.1 µm" in pixel_size_warning(0.009, 0.1)  # a TEM image, a confocal model


@pytest.mark.parametrize("preset", ["confocal", "tem"])
def test_modality_rule_on_simulated_images(preset):
    """Each modality's simulated image passes its own model and warns the other one."""
    config = load_preset(preset)
    if preset == "tem":
        config = replace(config, tem=replace(config.tem, image_size_px=(256, 256)))
    else:
        config = replace(config, confocal=replace(config.confocal, image_size_px=(256, 256)))
    image = make_sample(config, seed=7, index=0).image[0]
    other = "tem" if preset == "confocal" else "confocal"
    assert modality_warning(image, preset) is None
    assert modality_warning(image, other) is not None


def test_flips_are_averaged_unless_no_tta(oracle, tmp_path):
    """The manifest records the flip averaging; switching it off predicts the file again."""
    write(tmp_path / "a.tif", as_image(scene()), "YX")
    args = [str(oracle), str(tmp_path / "a.tif"), "--out", str(tmp_path / "out"), "--quiet"]

    def tiling() -> dict:
        manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
        return manifest["inputs"]["a"]["settings"]["tiling"]

    assert main([*args, "--tile-size", "128"]) == 0 and tiling()["tta"] is True
    before = (tmp_path / "out" / "a_labels.tif").stat().st_mtime_ns
    assert main([*args, "--tile-size", "128", "--no-tta"]) == 0 and tiling()["tta"] is False
    assert (tmp_path / "out" / "a_labels.tif").stat().st_mtime_ns != before


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 512)" in text and "(default: 0.25)" in text and "--no-overlay" in text
