import numpy as np
import pytest
import tifffile

from migraseg.io import (
    ImageReadError,
    LazyTiff,
    create_tiff_memmap,
    read_image,
    write_tiff,
    write_tiff_pages,
)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.uint32])
def test_write_read_round_trip_keeps_pixel_size(tmp_path, dtype):
    array = (np.arange(2 * 16 * 24) % 200).reshape(2, 16, 24).astype(dtype)
    path = write_tiff(tmp_path / "a.tif", array, 0.065, axes="CYX")
    back, meta = read_image(path)
    np.testing.assert_array_equal(back, array)
    assert meta["pixel_size_um"] == pytest.approx(0.065, rel=1e-6)
    assert meta["axes"] == "CYX"


@pytest.mark.parametrize(
    "size,unit,expected",
    [(4.0, "nm", 0.004), (2e-5, "cm", 0.2), (0.1, "µm", 0.1), (3.0, "pixel", None)],
)
def test_ome_pixel_size_units(tmp_path, size, unit, expected):
    """Known units are converted to µm; an unknown one ("pixel") means no pixel size."""
    path = tmp_path / "ome.tif"
    tifffile.imwrite(
        path,
        np.zeros((8, 8), np.uint16),
        ome=True,
        metadata={"axes": "YX", "PhysicalSizeX": size, "PhysicalSizeXUnit": unit},
    )
    assert read_image(path)[1]["pixel_size_um"] == (expected and pytest.approx(expected))


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


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_lazy_reads_equal_the_full_array(tmp_path, compression):
    """Uncompressed files go through a memory map, compressed ones through zarr."""
    array = np.random.default_rng(0).integers(0, 60000, (2, 3, 2, 70, 50)).astype(np.uint16)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, array, imagej=True, compression=compression, metadata={"axes": "TZCYX"})
    with LazyTiff(path) as tiff:
        assert tiff.axes == "TZCYX" and tiff.shape == array.shape
        np.testing.assert_array_equal(
            tiff.read((1, 2, 0, slice(10, 33), slice(None))), array[1, 2, 0, 10:33]
        )
        every = slice(None, None, 3)
        np.testing.assert_array_equal(tiff.read((0, 1, 1, every, every)), array[0, 1, 1, ::3, ::3])


def test_lazy_reads_big_endian_files_in_native_order(tmp_path):
    array = np.arange(30 * 40, dtype=">u2").reshape(30, 40)
    tifffile.imwrite(tmp_path / "be.tif", array, byteorder=">")
    with LazyTiff(tmp_path / "be.tif") as tiff:
        part = tiff.read((slice(5, 9), slice(None)))
    assert part.dtype == np.dtype("=u2")
    np.testing.assert_array_equal(part, array[5:9])


def test_lazy_open_and_truncated_data_name_the_file(tmp_path):
    with pytest.raises(ImageReadError, match=r"nope\.tif: file not found"):
        LazyTiff(tmp_path / "nope.tif")
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, np.ones((200, 300), np.uint16))
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ImageReadError, match=r"cut\.tif"), LazyTiff(path) as tiff:
        tiff.read((slice(None), slice(None)))


def test_pages_are_written_as_a_calibrated_hyperstack(tmp_path):
    pages = (np.full((16, 24), t, np.uint8) for t in range(3))
    path = write_tiff_pages(tmp_path / "labels.tif", pages, (3, 16, 24), np.uint8, 0.25, "TYX")
    back, meta = read_image(path)
    assert back.shape == (3, 16, 24) and meta["axes"] == "TYX"
    assert meta["pixel_size_um"] == pytest.approx(0.25)
    np.testing.assert_array_equal(back[:, 0, 0], [0, 1, 2])


def test_a_failing_page_source_leaves_no_file(tmp_path):
    def pages():
        yield np.zeros((16, 24), np.uint8)
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError, match="model crashed"):
        write_tiff_pages(tmp_path / "labels.tif", pages(), (2, 16, 24), np.uint8, 0.1, "TYX")
    assert list(tmp_path.iterdir()) == []


def test_memmapped_output_is_calibrated(tmp_path):
    probs = create_tiff_memmap(tmp_path / "p.tif", (2, 4, 8, 8), np.uint8, 0.1, "TCYX")
    probs[1, 3] = 200
    probs.flush()
    del probs
    back, meta = read_image(tmp_path / "p.tif")
    assert meta["axes"] == "TCYX" and meta["pixel_size_um"] == pytest.approx(0.1)
    assert back[1, 3].min() == 200 and back[0].max() == 0


def test_outputs_get_the_permissions_of_a_plain_write(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    written = write_tiff(tmp_path / "x.tif", np.zeros((4, 4), np.uint8), 0.1)
    assert written.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
