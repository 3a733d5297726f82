import numpy as np
import pytest
import tifffile

from migraseg.io import ImageReadError, read_image, write_tiff


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.uint32])
def test_write_read_round_trip_keeps_pixel_size(tmp_path, dtype):
    array = (np.arange(2 * 16 * 24) % 200).reshape(2, 16, 24).astype(dtype)
    path = write_tiff(tmp_path / "a.tif", array, 0.065, axes="CYX")
    back, meta = read_image(path)
    np.testing.assert_array_equal(back, array)
    assert meta["pixel_size_um"] == pytest.approx(0.065, rel=1e-6)
    assert meta["axes"] == "CYX"


def test_ome_pixel_size_in_nanometres_is_converted(tmp_path):
    path = tmp_path / "ome.tif"
    tifffile.imwrite(
        path,
        np.zeros((8, 8), np.uint16),
        ome=True,
        metadata={"axes": "YX", "PhysicalSizeX": 4.0, "PhysicalSizeXUnit": "nm"},
    )
    assert read_image(path)[1]["pixel_size_um"] == pytest.approx(0.004)


def test_uncalibrated_tiff_has_no_pixel_size(tmp_path):
    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((8, 8), np.uint8))
    assert read_image(tmp_path / "plain.tif")[1]["pixel_size_um"] is None


def test_screen_dpi_is_not_a_calibration(tmp_path):
    tifffile.imwrite(
        tmp_path / "dpi.tif", np.zeros((8, 8), np.uint8), resolution=(72, 72), resolutionunit="INCH"
    )
    assert read_image(tmp_path / "dpi.tif")[1]["pixel_size_um"] is None


def test_corrupt_and_missing_files_name_the_file(tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"not a tiff at all")
    with pytest.raises(ImageReadError, match=r"broken\.tif"):
        read_image(bad)
    with pytest.raises(ImageReadError, match=r"missing\.tif: file not found"):
        read_image(tmp_path / "missing.tif")


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path):
    write_tiff(tmp_path / "x.tif", np.zeros((4, 4), np.uint8), 0.1)
    with pytest.raises(ValueError, match="axes"):
        write_tiff(tmp_path / "y.tif", np.zeros((4, 4), np.uint8), 0.1, axes="CYX")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.tif"]
