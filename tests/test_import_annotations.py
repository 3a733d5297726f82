"""migraseg-import: Fiji ROI sets, napari Labels and CSV point lists become a valid dataset.

Masks are checked pixel by pixel against shapes computed here from the documented rule (a pixel
belongs to a shape when its centre does; ImageJ coordinates, pixel i's centre at i + 0.5).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import roifile
import yaml
from roifile import ROI_OPTIONS, ROI_SUBTYPE, ROI_TYPE, ImagejRoi

from migraseg.annotations.classes import NOT_ANNOTATED, class_hint, parse_class
from migraseg.annotations.points import read_points
from migraseg.annotations.raster import polygon_pixels, polyline_pixels
from migraseg.annotations.rois import RoiOptions, rois_to_objects
from migraseg.cli.import_annotations import main
from migraseg.constants import BACKGROUND, CELL, FIBER, MIGRASOME
from migraseg.data.contract import DatasetError, load_dataset
from migraseg.io import read_image, write_tiff

REPO = Path(__file__).resolve().parents[1]
SIZE = 64
PIXEL = 0.1  # µm


def write_image(path: Path, pixel_size: float | None = PIXEL, shape=(SIZE, SIZE), seed=0):
    image = np.random.default_rng(seed).integers(100, 4000, shape).astype(np.uint16)
    write_tiff(path, image, pixel_size)
    return image


def oval(left, top, right, bottom, name="", **kw) -> ImagejRoi:
    return ImagejRoi(roitype=ROI_TYPE.OVAL, left=left, top=top, right=right, bottom=bottom,
                     name=name, **kw)  # fmt: skip


def shape_roi(points, roitype=ROI_TYPE.POLYGON, name="", **kw) -> ImagejRoi:
    roi = ImagejRoi.frompoints(np.asarray(points, np.float32), name=name)
    roi.roitype = roitype
    for key, value in kw.items():
        setattr(roi, key, value)
    return roi


def disc(cx, cy, diameter, shape=(SIZE, SIZE)) -> np.ndarray:
    """The documented rule, written independently: pixel centres within the disc."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return (cols + 0.5 - cx) ** 2 + (rows + 0.5 - cy) ** 2 <= (diameter / 2) ** 2


def run(*args, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def mask_of(root: Path, stem: str) -> np.ndarray:
    return read_image(root / "masks" / f"{stem}.tif")[0]


@pytest.fixture(scope="module")
def accepts_not_annotated(tmp_path_factory) -> bool:
    """Whether the contract reader accepts 255 (not annotated) in masks yet (issue 10, part 4,
    another change); tests expect the matching outcome either way."""
    root = tmp_path_factory.mktemp("probe")
    write_image(root / "images" / "p.tif")
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[0, 0] = NOT_ANNOTATED
    write_tiff(root / "masks" / "p.tif", mask, PIXEL)
    (root / "dataset.yaml").write_text("name: p\nmodality: confocal\npixel_size_um: 0.1\n")
    try:
        load_dataset(root)
    except DatasetError:
        return False
    return True


def check_validation(code: int, err: str, accepts: bool, mask_file: Path) -> None:
    """Exit 0 when the contract knows 255; otherwise exit 1 naming the mask that holds it."""
    if accepts:
        assert code == 0, err
    else:
        assert code == 1 and f"{mask_file}: labels [255]" in err, err


# ---------------------------------------------------------------- Fiji ROI sets


def test_oval_polyline_and_freehand_rois_become_exact_masks(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_image(raw / "a.tif")
    rois = [
        oval(10, 10, 20, 20, name="mig1"),
        shape_roi([[30, 40.5], [60, 40.5]], ROI_TYPE.POLYLINE, name="fiber 1"),
        shape_roi([[2, 40], [25, 40], [25, 62], [2, 62]], ROI_TYPE.FREEHAND, name="cell"),
    ]
    roifile.roiwrite(raw / "a.zip", rois)
    code, out, err = run(raw, tmp_path / "ds", "--fiber-width", "0.3", capsys=capsys)
    assert code == 0, err
    assert "a: 3 ROI(s): 1 cell, 1 retraction_fiber, 1 migrasome" in out
    mask = mask_of(tmp_path / "ds", "a")
    expected = np.zeros((SIZE, SIZE), np.uint8)
    expected[disc(15, 15, 10)] = MIGRASOME
    # 0.3 µm = 3 px: centres within 1.5 px of y = 40.5 are rows 39–41; the round caps reach the
    # centres 0.5 px beyond each end (x 29.5 and 60.5) on all three rows
    expected[39:42, 29:61] = FIBER
    expected[40:62, 2:25] = CELL  # centres x 2.5–24.5, y 40.5–61.5 lie inside
    np.testing.assert_array_equal(mask, expected)
    assert disc(15, 15, 10).sum() == 80
    ids = read_image(tmp_path / "ds" / "instances" / "a.tif")[0]
    np.testing.assert_array_equal(ids > 0, mask == MIGRASOME)
    assert read_image(tmp_path / "ds" / "cells" / "a.tif")[0].max() == 1
    spec = load_dataset(tmp_path / "ds")
    assert list(spec.samples) == ["a"] and spec.pixel_size_um == PIXEL
    assert spec.samples["a"].instance_path is not None


@pytest.mark.parametrize(("width_um", "rows"), [(0.1, 1), (0.3, 3), (0.5, 5)])
def test_fiber_width_in_micrometres_sets_the_painted_width(width_um, rows):
    """A horizontal fiber through pixel centres is exactly width/pixel rows wide (odd widths);
    under 1.5 px it is widened to 1.5 px, which keeps one row here. Ends are round."""
    pixels = polyline_pixels(np.array([[5.5, 20.5], [50.5, 20.5]]), width_um / PIXEL, (40, 60))
    painted = np.zeros((40, 60), bool)
    painted[pixels] = True
    assert painted[:, 30].sum() == rows
    half = max(width_um / PIXEL / 2, 0.75)  # round caps: centres up to half a width past the ends
    last = 50 + int(np.floor(half))
    assert painted[20, 5 - int(np.floor(half)) : last + 1].all() and not painted[20, last + 1]


def test_diagonal_fiber_is_a_connected_band_of_the_given_width():
    pixels = polyline_pixels(np.array([[4.0, 4.0], [36.0, 36.0]]), 3.0, (40, 40))
    painted = np.zeros((40, 40), bool)
    painted[pixels] = True
    rows, cols = np.mgrid[:40, :40]
    # distance of each centre to the line y = x is |x - y| / √2, within the segment's span
    inside = (
        (np.abs(cols - rows) / np.sqrt(2) <= 1.5) & (cols + rows + 1 >= 8) & (cols + rows + 1 <= 72)
    )
    np.testing.assert_array_equal(painted[5:35, 5:35], inside[5:35, 5:35])


def test_polygon_fill_matches_matplotlib_point_in_path_even_odd():
    """Random (self-intersecting, partly outside, holed) polygons: the scanline fill agrees
    with matplotlib's point-in-path test at every pixel centre."""
    from matplotlib.path import Path as MplPath

    rng = np.random.default_rng(0)
    shape = (60, 50)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    centres = np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], axis=1)
    for k in range(60):
        rings = [rng.uniform(-10, 70, (rng.integers(3, 30), 2))]
        if k % 2:
            rings.append(rng.uniform(-10, 70, (rng.integers(3, 10), 2)))
        painted = np.zeros(shape, bool)
        painted[polygon_pixels(rings, shape)] = True
        expected = np.zeros(centres.shape[0], bool)
        for ring in rings:
            expected ^= MplPath(ring).contains_points(centres)
        np.testing.assert_array_equal(painted.ravel(), expected)


def test_class_comes_from_name_then_group_then_colour():
    groups, colours = {1: CELL, 2: FIBER, 3: MIGRASOME}, {"#ff0000": MIGRASOME}
    assert class_hint("Migrasome 12", 1, "#ff0000", groups, colours) == (MIGRASOME, "name")
    assert class_hint("rf-3", 0, None, groups, colours) == (FIBER, "name")
    assert class_hint("0012-0345", 1, "#ff0000", groups, colours) == (CELL, "group 1")
    assert class_hint("0012-0345", 0, "#ff0000", groups, colours) == (MIGRASOME, "colour #ff0000")
    assert class_hint("0012-0345", 0, "#ffff00", groups, colours) == (None, "")
    with pytest.raises(ValueError, match="several classes"):
        class_hint("migrasome on fiber", 0, None, groups, colours)
    assert parse_class("mig") == MIGRASOME and parse_class("retraction_fiber") == FIBER
    with pytest.raises(ValueError, match="unknown class 'vesicle'"):
        parse_class("vesicle")


def test_polygon_classes_from_group_colour_flag_and_skips_without_one():
    square = [[10, 10], [20, 10], [20, 20], [10, 20]]
    red = bytes([255, 255, 0, 0])  # ARGB
    rois = [
        shape_roi(square, name="cell a"),
        shape_roi(square, group=3),
        shape_roi(square, stroke_color=red),
        shape_roi(square, name="0001-0002"),
    ]
    options = RoiOptions(fiber_width_px=2.5, groups={3: MIGRASOME}, colours={"#ff0000": MIGRASOME})
    objects, skipped = rois_to_objects(rois, (SIZE, SIZE), options, "a.zip")
    assert [o.class_id for o in objects] == [CELL, MIGRASOME, MIGRASOME]
    assert len(skipped) == 1 and "ROI 4 '0001-0002' (polygon)" in skipped[0]
    assert "--roi-class" in skipped[0]
    assert all(o.pixels[0].size == 100 for o in objects)  # centres 10.5 … 19.5
    options.roi_class = FIBER  # the flag overrides names, groups and colours
    objects, skipped = rois_to_objects(rois, (SIZE, SIZE), options, "a.zip")
    assert [o.class_id for o in objects] == [FIBER] * 4 and not skipped


def test_group_and_colour_flags_replace_the_default_maps(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_image(raw / "a.tif")
    square = [[10, 10], [20, 10], [20, 20], [10, 20]]
    green = bytes([255, 0, 255, 0])
    rois = [  # unique names: a zip holds one entry per name
        shape_roi(square, name="0001-0010", group=4),
        shape_roi(square, name="0002-0010", group=3),
        shape_roi(square, name="0003-0010", stroke_color=green),
    ]
    roifile.roiwrite(raw / "a.zip", rois)
    code, out, err = run(raw, tmp_path / "ds", capsys=capsys)  # defaults: group 3, green
    assert code == 0 and "a: 3 ROI(s): 1 retraction_fiber, 1 migrasome; 1 skipped" in out, err
    assert "ROI 1 '0001-0010' (polygon): skipped" in out
    args = ("--group-class", "4=cell", "--color-class", "green=migrasome")
    code, out, err = run(raw, tmp_path / "ds", *args, capsys=capsys)
    assert code == 0 and "a: 3 ROI(s): 1 cell, 1 migrasome; 1 skipped" in out, err
    assert "ROI 2 '0002-0010' (polygon): skipped, a polygon has no class in its name" in out


def test_unmappable_rois_are_named_and_skipped_and_the_rest_converted(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_image(raw / "a.tif")
    text = shape_roi([[1, 1], [9, 9]], ROI_TYPE.RECT, name="label text")
    text.subtype = ROI_SUBTYPE.TEXT
    rois = [
        oval(10, 10, 20, 20),
        shape_roi([[40, 40], [45, 30], [50, 40]], ROI_TYPE.ANGLE, name="my angle"),
        shape_roi([[30, 30]], ROI_TYPE.POINT, name="a point"),
        text,
        shape_roi([[5, 50], [20, 50]], ROI_TYPE.POLYLINE, name="cell edge"),
        oval(200, 200, 210, 210, name="far away"),
    ]
    roifile.roiwrite(raw / "a.zip", rois)
    code, out, err = run(raw, tmp_path / "ds", capsys=capsys)
    assert code == 0, err
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert len(notes) == 5
    for expected in (
        "ROI 2 'my angle' (angle): skipped, an angle cannot be mapped",
        "ROI 3 'a point' (point): skipped, a point has no diameter",
        "ROI 4 'label text' (text): skipped",
        "ROI 5 'cell edge' (segmented line): skipped, a segmented line cannot be a cell",
        "ROI 6 'far away' (oval): skipped, it covers no pixel centre of the 64×64 image",
    ):
        assert any(expected in n and str(raw / "a.zip") in n for n in notes), (expected, notes)
    mask = mask_of(tmp_path / "ds", "a")
    np.testing.assert_array_equal(mask == MIGRASOME, disc(15, 15, 10))
    assert set(np.unique(mask)) == {BACKGROUND, MIGRASOME}


def composite(path: list[float], name: str) -> ImagejRoi:
    data = np.asarray(path, np.float32)
    return ImagejRoi(roitype=ROI_TYPE.RECT, name=name, multi_coordinates=data,
                     shape_roi_size=data.size, left=0, top=0, right=40, bottom=40)  # fmt: skip


def test_composite_roi_keeps_its_hole_and_curved_ones_are_skipped(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_image(raw / "a.tif")
    ring = [0, 10, 10, 1, 30, 10, 1, 30, 30, 1, 10, 30, 4]
    hole = [0, 15, 15, 1, 25, 15, 1, 25, 25, 1, 15, 25, 4]
    curved = [0, 40, 40, 3, 45, 40, 50, 45, 50, 50, 4]  # a cubic Bézier: roifile cannot read it
    rois = [composite(ring + hole, "cell with hole"), composite(curved, "curvy cell")]
    roifile.roiwrite(raw / "a.zip", rois)
    code, out, err = run(raw, tmp_path / "ds", capsys=capsys)
    assert code == 0, err
    assert "ROI 2 'curvy cell' (composite): skipped, its outline cannot be read" in out
    expected = np.zeros((SIZE, SIZE), bool)
    expected[10:30, 10:30] = True
    expected[15:25, 15:25] = False
    np.testing.assert_array_equal(mask_of(tmp_path / "ds", "a") == CELL, expected)


def test_points_with_a_diameter_and_a_line_across_a_migrasome_become_discs(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_image(raw / "a.tif")
    rois = [
        shape_roi([[20, 20], [40, 30]], ROI_TYPE.POINT),  # pixel (20, 20): centre 20.5
        ImagejRoi(roitype=ROI_TYPE.LINE, x1=44, y1=50, x2=56, y2=50, name="migrasome d"),
    ]
    roifile.roiwrite(raw / "a.zip", rois)
    code, _, err = run(raw, tmp_path / "ds", "--point-diameter", "0.8", capsys=capsys)
    assert code == 0, err
    expected = disc(20.5, 20.5, 8) | disc(40.5, 30.5, 8) | disc(50, 50, 12)
    np.testing.assert_array_equal(mask_of(tmp_path / "ds", "a") == MIGRASOME, expected)


def test_simulator_truth_as_ovals_or_csv_reproduces_its_migrasome_mask(tmp_path, capsys):
    """Ovals drawn on a simulated image at its true migrasomes give the simulator's own mask."""
    from migraseg.synth.generator import make_sample
    from migraseg.synth.presets import load_preset

    config = load_preset("confocal").with_acquisition(image_size_px=(96, 96))
    sample = make_sample(config, 1, 0)
    size = sample.pixel_size_um
    raw = tmp_path / "raw"
    write_tiff(raw / "sim.tif", sample.image[0], size)
    rois = []
    for m in sample.truth["migrasomes"]:
        x, y, d = m["x_um"] / size, m["y_um"] / size, m["diameter_um"] / size
        rois.append(
            ImagejRoi(
                roitype=ROI_TYPE.OVAL,
                options=ROI_OPTIONS.SUB_PIXEL_RESOLUTION,
                left=int(x - d / 2),
                top=int(y - d / 2),
                right=int(x + d / 2) + 1,
                bottom=int(y + d / 2) + 1,
                xd=x - d / 2,
                yd=y - d / 2,
                widthd=d,
                heightd=d,
                name=f"migrasome {m['id']}",
            )
        )
    assert rois, "the simulated image should hold migrasomes"
    roifile.roiwrite(raw / "sim.zip", rois)
    code, _, err = run(raw, tmp_path / "ds", capsys=capsys)
    assert code == 0, err
    np.testing.assert_array_equal(
        mask_of(tmp_path / "ds", "sim") == MIGRASOME, sample.mask == MIGRASOME
    )
    # the simulator's own truth table (truth/<stem>.csv) read as a point list gives it too
    from migraseg.synth.truth import csv_text

    counts = tmp_path / "counts"
    write_tiff(counts / "sim.tif", sample.image[0], size)
    (counts / "sim.csv").write_text(csv_text(sample.truth))
    run(counts, tmp_path / "ds_csv", capsys=capsys)
    mask = mask_of(tmp_path / "ds_csv", "sim")
    np.testing.assert_array_equal(mask == MIGRASOME, sample.mask == MIGRASOME)
    np.testing.assert_array_equal(mask == NOT_ANNOTATED, sample.mask != MIGRASOME)
    ids = read_image(tmp_path / "ds_csv" / "instances" / "sim.tif")[0]
    assert ids.max() == len(sample.truth["migrasomes"])


def test_unannotated_as_ignore_writes_255_where_no_roi_lies(
    tmp_path, capsys, accepts_not_annotated
):
    raw = tmp_path / "raw"
    write_image(raw / "a.tif")
    background = shape_roi([[40, 40], [60, 40], [60, 60], [40, 60]], name="bg")
    roifile.roiwrite(raw / "a.zip", [oval(10, 10, 20, 20), background])
    code, _, err = run(raw, tmp_path / "ds", "--unannotated-as-ignore", capsys=capsys)
    mask = mask_of(tmp_path / "ds", "a")
    square = np.zeros((SIZE, SIZE), bool)
    square[40:60, 40:60] = True
    np.testing.assert_array_equal(mask == MIGRASOME, disc(15, 15, 10))
    np.testing.assert_array_equal(mask == BACKGROUND, square)  # painted background
    np.testing.assert_array_equal(mask == NOT_ANNOTATED, ~square & ~disc(15, 15, 10))
    check_validation(code, err, accepts_not_annotated, tmp_path / "ds" / "masks" / "a.tif")
    # without the flag nothing is 255
    run(raw, tmp_path / "ds2", capsys=capsys)
    assert NOT_ANNOTATED not in mask_of(tmp_path / "ds2", "a")


# ---------------------------------------------------------------- CSV point lists


def test_csv_of_centres_and_diameters_becomes_discs_and_255(
    tmp_path, capsys, accepts_not_annotated
):
    raw = tmp_path / "raw"
    write_image(raw / "a.tif")
    (raw / "a.csv").write_text("x_um,y_um,diameter_um\n1.5,2.0,1.0\n4.05,4.05,0.7\n")
    code, out, err = run(raw, tmp_path / "ds", capsys=capsys)
    assert "a: 2 migrasome(s) from points" in out
    mask = mask_of(tmp_path / "ds", "a")
    discs = disc(15, 20, 10) | disc(40.5, 40.5, 7)
    np.testing.assert_array_equal(mask == MIGRASOME, discs)
    np.testing.assert_array_equal(mask == NOT_ANNOTATED, ~discs)  # says nothing else
    check_validation(code, err, accepts_not_annotated, tmp_path / "ds" / "masks" / "a.tif")


def test_csv_column_names_units_and_separators(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("X;Y;Diameter\n10;20;5\n")
    with pytest.raises(ValueError, match=r"p.csv: column 'X' has no unit.*--csv-units"):
        read_points(path, PIXEL, None, None)
    [p] = read_points(path, PIXEL, "px", None)
    assert (p.x_px, p.y_px, p.diameter_px, p.line) == (10, 20, 5, 2)
    [p] = read_points(path, PIXEL, "um", None)
    assert (p.x_px, p.y_px, p.diameter_px) == pytest.approx((100, 200, 50))
    path.write_text(" ,X (µm),Y (µm),radius_px\n1,1.0,2.0,3\n")
    [p] = read_points(path, PIXEL, None, None)
    assert (p.x_px, p.y_px, p.diameter_px) == pytest.approx((10, 20, 6))
    path.write_text("index,axis-0,axis-1\n0,5,7\n")  # napari Points layer: y, x; centres at ints
    [p] = read_points(path, PIXEL, None, 0.5)
    assert (p.x_px, p.y_px, p.diameter_px) == pytest.approx((7.5, 5.5, 5))
    path.write_text("x_px,y_px,d_px\n1,2,3\n4,oops,5\n6,7,-1\n")
    with pytest.raises(ValueError) as err:
        read_points(path, PIXEL, None, None)
    assert "p.csv:3: not a number" in str(err.value) and "p.csv:4: needs" in str(err.value)
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no x/y columns"):
        read_points(path, PIXEL, None, None)


# ---------------------------------------------------------------- napari Labels


def test_napari_semantic_labels_are_kept(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_image(raw / "a.tif")
    labels = np.random.default_rng(1).integers(0, 4, (SIZE, SIZE)).astype(np.uint8)
    write_tiff(raw / "a_labels.tif", labels, None)
    code, out, err = run(raw, tmp_path / "ds", capsys=capsys)
    assert code == 0 and "a: semantic labels" in out, err
    np.testing.assert_array_equal(mask_of(tmp_path / "ds", "a"), labels)
    assert not (tmp_path / "ds" / "instances" / "a.tif").exists()


def test_napari_instance_labels_need_a_class_and_become_it(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_image(raw / "a.tif")
    ids = np.zeros((SIZE, SIZE), np.int32)
    ids[disc(15, 15, 10)] = 7
    ids[disc(40, 40, 8)] = 12
    import tifffile

    tifffile.imwrite(raw / "a_labels.tif", ids)  # napari saves int32 labels without calibration
    code, _, err = run(raw, tmp_path / "ds", capsys=capsys)
    assert code == 1
    assert f"{raw / 'a_labels.tif'}: values 7, 12 are not class ids" in err
    assert "--instance-class" in err and not (tmp_path / "ds" / "masks").exists()
    code, out, err = run(raw, tmp_path / "ds", "--instance-class", "migrasome", capsys=capsys)
    assert code == 0 and "a: instance labels" in out, err
    mask = mask_of(tmp_path / "ds", "a")
    np.testing.assert_array_equal(mask == MIGRASOME, ids > 0)
    assert set(np.unique(mask)) == {BACKGROUND, MIGRASOME}
    np.testing.assert_array_equal(read_image(tmp_path / "ds" / "instances" / "a.tif")[0], ids)
    assert load_dataset(tmp_path / "ds").samples["a"].instance_path is not None


# ---------------------------------------------------------------- the folder as a whole


def test_every_problem_is_listed_with_its_file_and_the_rest_is_written(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_image(raw / "good.tif")
    roifile.roiwrite(raw / "good.zip", [oval(10, 10, 20, 20)])
    (raw / "broken.tif").write_bytes(b"not a tiff")
    roifile.roiwrite(raw / "broken.zip", [oval(1, 1, 5, 5)])
    write_image(raw / "nosize.tif", pixel_size=None)
    roifile.roiwrite(raw / "nosize.zip", [oval(1, 1, 5, 5)])
    write_image(raw / "shape.tif")
    write_tiff(raw / "shape_labels.tif", np.zeros((10, 10), np.uint8), None)
    (raw / "badzip.zip").write_bytes(b"PK not really")
    write_image(raw / "badzip.tif")
    (raw / "orphan.csv").write_text("x_px,y_px,d_px\n1,2,3\n")
    write_image(raw / "twice.tif")
    (raw / "twice.csv").write_text("x_px,y_px,d_px\n1,2,3\n")
    roifile.roiwrite(raw / "twice.zip", [oval(1, 1, 5, 5)])
    write_image(raw / "plain.tif")  # no annotation: a note, not an error
    code, out, err = run(raw, tmp_path / "ds", capsys=capsys)
    assert code == 1
    for expected in (
        f"{raw / 'broken.tif'}: cannot read as TIFF",
        f"{raw / 'nosize.tif'}: no pixel size in the TIFF; pass --pixel-size",
        f"{raw / 'shape_labels.tif'}: shape (10, 10) does not match its image's Y×X (64, 64)",
        f"{raw / 'badzip.zip'}: cannot read as an ImageJ ROI file",
        f"{raw / 'orphan.csv'}: no image in {raw} to pair it with",
        f"{raw / 'twice.tif'}: several annotations (twice.csv, twice.zip)",
    ):
        assert expected in err, (expected, err)
    assert "migraseg-import: 6 problem(s)" in err
    assert f"note: {raw / 'plain.tif'}: no annotation" in out
    assert sorted(p.name for p in (tmp_path / "ds" / "images").iterdir()) == ["good.tif"]
    assert list(load_dataset(tmp_path / "ds").samples) == ["good"]
    # --pixel-size supplies the missing calibration (and overrides the others)
    for name in ("broken", "shape", "badzip", "orphan", "twice"):
        for path in raw.glob(f"{name}*"):
            path.unlink()
    code, _, err = run(raw, tmp_path / "ds", "--pixel-size", "0.2", capsys=capsys)
    assert code == 0, err
    spec = load_dataset(tmp_path / "ds")
    assert spec.samples["nosize"].pixel_size_um == pytest.approx(0.2)
    assert spec.samples["good"].pixel_size_um == pytest.approx(0.2)


def test_separate_annotation_folder_channels_and_dtype_conversion(tmp_path, capsys):
    images, rois = tmp_path / "images_in", tmp_path / "rois_in"
    two = np.random.default_rng(0).integers(0, 255, (2, SIZE, SIZE)).astype(np.uint8)
    write_tiff(images / "two.tif", two, PIXEL, axes="CYX")
    wide = np.random.default_rng(1).integers(-5, 5000, (SIZE, SIZE)).astype(np.int32)
    write_tiff(images / "wide.tif", np.stack([wide, wide]), PIXEL, axes="CYX")
    rois.mkdir()
    for stem in ("two", "wide"):
        roifile.roiwrite(rois / f"{stem}_rois.zip", [oval(10, 10, 20, 20)])
    code, out, err = run(images, tmp_path / "ds", "--annotations", rois, capsys=capsys)
    assert code == 0, err
    assert f"note: {images / 'wide.tif'}: int32 image stored as float32" in out
    spec = load_dataset(tmp_path / "ds")
    assert spec.channels == ["ch0", "ch1"] and set(spec.samples) == {"two", "wide"}
    stored, meta = read_image(tmp_path / "ds" / "images" / "two.tif")
    np.testing.assert_array_equal(stored, two)
    assert meta["pixel_size_um"] == pytest.approx(PIXEL)
    np.testing.assert_array_equal(read_image(tmp_path / "ds" / "images" / "wide.tif")[0][0], wide)
    # a one-channel image cannot join a two-channel dataset
    write_image(images / "one.tif")
    roifile.roiwrite(rois / "one.zip", [oval(10, 10, 20, 20)])
    code, _, err = run(images, tmp_path / "ds", "--annotations", rois, capsys=capsys)
    assert code == 1 and f"{images / 'one.tif'}: 1 channel(s); the dataset has 2 (ch0, ch1)" in err


def test_rerun_updates_and_appends_and_keeps_the_splits(tmp_path, capsys):
    raw = tmp_path / "raw"
    for i in range(4):
        write_image(raw / f"img{i}.tif", seed=i)
        roifile.roiwrite(raw / f"img{i}.zip", [oval(10 + i, 10, 20 + i, 20)])
    out_dir = tmp_path / "ds"
    code, _, err = run(raw, out_dir, "--name", "lab_set", capsys=capsys)
    assert code == 0, err
    first = yaml.safe_load((out_dir / "dataset.yaml").read_text())
    assert first["name"] == "lab_set" and sum(map(len, first["splits"].values())) == 4
    assert first["splits"]["val"] and first["splits"]["test"]  # a seeded split, as the contract
    # a new image and an edited annotation: the new stem goes to train, the others stay put
    write_image(raw / "img9.tif", seed=9)
    roifile.roiwrite(raw / "img9.zip", [oval(30, 30, 40, 40)])
    roifile.roiwrite(raw / "img0.zip", [oval(40, 40, 50, 50)], mode="w")
    code, _, err = run(raw, out_dir, capsys=capsys)
    assert code == 0, err
    second = yaml.safe_load((out_dir / "dataset.yaml").read_text())
    for split, stems in first["splits"].items():
        assert set(stems) <= set(second["splits"][split])
    assert "img9" in second["splits"]["train"] and second["name"] == "lab_set"
    np.testing.assert_array_equal(mask_of(out_dir, "img0") == MIGRASOME, disc(45, 45, 10))
    # --split puts the imported images in one split
    code, _, err = run(raw, out_dir, "--split", "test", capsys=capsys)
    third = yaml.safe_load((out_dir / "dataset.yaml").read_text())
    assert code == 0 and sorted(third["splits"]["test"]) == [f"img{i}" for i in (0, 1, 2, 3, 9)]
    assert third["splits"]["train"] == [] and third["splits"]["val"] == []


def test_modality_conflict_and_bad_flags_are_refused(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_image(raw / "a.tif")
    roifile.roiwrite(raw / "a.zip", [oval(10, 10, 20, 20)])
    assert run(raw, tmp_path / "ds", "--modality", "tem", capsys=capsys)[0] == 0
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "ds").rglob("*")}
    code, _, err = run(raw, tmp_path / "ds", "--modality", "confocal", capsys=capsys)
    assert code == 1 and "modality is 'tem', not 'confocal'" in err
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "ds").rglob("*")} == before  # untouched
    assert run(raw, tmp_path / "ds", "--group-class", "x=cell", capsys=capsys)[0] == 2
    with pytest.raises(SystemExit):
        main([str(raw), str(tmp_path / "ds"), "--roi-class", "vesicle"])
    code, _, err = run(tmp_path / "missing", tmp_path / "ds", capsys=capsys)
    assert code == 1 and f"{tmp_path / 'missing'}: not a folder" in err


# ---------------------------------------------------------------- documented commands


def _documented_commands(path: Path) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", path.read_text(encoding="utf-8"), re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("migraseg-import ")]


def _example_inputs(root: Path) -> None:
    """The folders docs/annotations.md and README.md use."""
    fiji = root / "fiji"
    for i, stem in enumerate(("dish1", "dish2", "dish3")):
        write_image(fiji / f"{stem}.tif", seed=i)
        roifile.roiwrite(
            fiji / f"{stem}.zip",
            [
                oval(10, 10, 18, 18, name="migrasome"),
                shape_roi([[30, 20], [50, 25], [60, 40]], ROI_TYPE.POLYLINE, name="rf"),
                shape_roi([[2, 40], [25, 40], [25, 62], [2, 62]], ROI_TYPE.FREEHAND, name="cell"),
                shape_roi(
                    [[40, 50], [50, 50], [50, 60]],
                    name="0055-0045",  # Fiji's automatic name: no class
                    stroke_color=bytes([255, 255, 0, 255]),  # magenta (ARGB)
                ),
            ],
        )
    napari = root / "napari"
    write_image(napari / "well4.tif")
    ids = np.zeros((SIZE, SIZE), np.uint16)
    ids[disc(20, 20, 8)], ids[disc(40, 30, 6)] = 5, 6
    write_tiff(napari / "well4_labels.tif", ids, None)
    counts = root / "counts"
    write_image(counts / "field7.tif")
    (counts / "field7.csv").write_text("x_um,y_um,diameter_um\n2.0,2.0,1.0\n4.0,3.5,0.8\n")


@pytest.mark.parametrize("doc", ["docs/annotations.md", "README.md"])
def test_documented_commands_run(doc, tmp_path, capsys, monkeypatch, accepts_not_annotated):
    commands = _documented_commands(REPO / doc)
    assert commands, f"{doc} shows no migraseg-import command"
    _example_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    outputs = []
    for command in commands:
        args = shlex.split(command, comments=True)[1:]
        code, out, err = run(*args, capsys=capsys)
        outputs.append(out + err)
        out = Path(args[1])
        writes_255 = "--unannotated-as-ignore" in args or args[0].startswith("counts")
        if writes_255 and not accepts_not_annotated:
            assert code == 1 and "labels [255]" in err, (command, err)
        else:
            assert code == 0, (command, err)
            assert load_dataset(out).samples
    text = (REPO / doc).read_text(encoding="utf-8")
    for note in re.findall(r"^note: .*$", text, re.M):  # example output shown in the docs
        assert any(note in output for output in outputs), note
    if doc != "docs/annotations.md":  # README's other Python examples are tested elsewhere
        return
    [block] = re.findall(r"```python\n(.*?)```", text, re.S)
    exec(compile(block, doc, "exec"), {})
    printed = capsys.readouterr().out
    assert "True {'dish1': '4 ROI(s): 1 cell" in printed, printed


@pytest.mark.slow
def test_console_script_entry_point(tmp_path):
    """``migraseg-import`` is declared in pyproject.toml and runs as a module/script."""
    text = (REPO / "pyproject.toml").read_text()
    assert 'migraseg-import = "migraseg.cli.import_annotations:main"' in text
    raw = tmp_path / "raw"
    write_image(raw / "a.tif")
    roifile.roiwrite(raw / "a.zip", [oval(10, 10, 20, 20)])
    script = Path(sys.executable).parent / "migraseg-import"
    module = [sys.executable, "-m", "migraseg.cli.import_annotations"]
    cmd = [str(script)] if script.exists() else module
    proc = subprocess.run([*cmd, str(raw), str(tmp_path / "ds")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "imported 1 image(s)" in proc.stdout and load_dataset(tmp_path / "ds").samples
