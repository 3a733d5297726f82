"""The dataset contract: valid folders load, and every kind of bad input is reported by file."""

import shutil

import numpy as np
import pytest
import tifffile
import yaml

from migraseg.data.contract import DatasetError, load_dataset, make_splits, read_dataset_yaml
from migraseg.io import write_tiff


def copy_dataset(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_simulated_dataset_loads_with_splits(tiny_dataset):
    spec = load_dataset(tiny_dataset)
    assert spec.modality == "confocal" and spec.pixel_size_um == pytest.approx(0.2)
    assert spec.channels == ["tspan4"]
    assert sorted(s for split in spec.splits.values() for s in split) == sorted(spec.samples)
    assert all(r.instance_path is not None for r in spec.samples.values())


def test_every_problem_is_reported_at_once_with_its_file(tiny_dataset, tmp_path):
    root = copy_dataset(tiny_dataset, tmp_path / "bad")
    stems = sorted(p.stem for p in (root / "images").glob("*.tif"))
    (root / "masks" / f"{stems[0]}.tif").unlink()  # missing mask
    write_tiff(root / "masks" / f"{stems[1]}.tif", np.zeros((10, 10), np.uint8), 0.2)  # shape
    labels = np.full((128, 128), 7, np.uint8)
    write_tiff(root / "masks" / f"{stems[2]}.tif", labels, 0.2)  # labels outside 0-3
    (root / "images" / f"{stems[3]}.tif").write_bytes(b"garbage")  # unreadable
    nan_image = np.full((1, 128, 128), np.nan, np.float32)
    write_tiff(root / "images" / f"{stems[4]}.tif", nan_image, 0.2, axes="CYX")  # NaN
    with pytest.raises(DatasetError) as info:
        load_dataset(root)
    problems = "\n".join(info.value.problems)
    assert f"masks/{stems[0]}.tif: missing mask" in problems
    assert f"masks/{stems[1]}.tif: shape (10, 10) does not match" in problems
    assert f"masks/{stems[2]}.tif: labels [7] outside 0–3" in problems
    assert f"images/{stems[3]}.tif: cannot read as TIFF" in problems
    assert f"images/{stems[4]}.tif: contains NaN" in problems
    assert len(info.value.problems) == 5


def test_empty_folder_and_missing_yaml_are_reported(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path)
    text = str(info.value)
    assert "dataset.yaml: missing" in text and "no images" in text


def test_bad_yaml_values_and_unknown_split_stems(tiny_dataset, tmp_path):
    root = copy_dataset(tiny_dataset, tmp_path / "ds")
    info = yaml.safe_load((root / "dataset.yaml").read_text())
    info.update(modality="widefield", pixel_size_um=-1)
    info["splits"]["test"].append("ghost")
    info["classes"] = {"background": 0, "migrasome": 1}
    (root / "dataset.yaml").write_text(yaml.safe_dump(info))
    with pytest.raises(DatasetError) as err:
        load_dataset(root)
    text = str(err.value)
    assert "modality must be one of" in text
    assert "pixel_size_um must be a positive number" in text
    assert "unknown stems ['ghost']" in text
    assert "classes must be" in text


def test_tiff_pixel_size_wins_over_dataset_yaml(tiny_dataset, tmp_path):
    root = copy_dataset(tiny_dataset, tmp_path / "ds")
    stem = sorted(p.stem for p in (root / "images").glob("*.tif"))[0]
    image = tifffile.imread(root / "images" / f"{stem}.tif")
    write_tiff(root / "images" / f"{stem}.tif", image[None], 0.3, axes="CYX")
    spec = load_dataset(root)
    assert spec.samples[stem].pixel_size_um == pytest.approx(0.3)
    assert spec.pixel_size_um == pytest.approx(0.2)


def test_uncalibrated_images_take_the_yaml_pixel_size(tiny_dataset, tmp_path):
    root = copy_dataset(tiny_dataset, tmp_path / "ds")
    stem = sorted(p.stem for p in (root / "images").glob("*.tif"))[0]
    image = tifffile.imread(root / "images" / f"{stem}.tif")
    tifffile.imwrite(root / "images" / f"{stem}.tif", image)  # no resolution tags
    assert load_dataset(root).samples[stem].pixel_size_um == pytest.approx(0.2)


def test_missing_splits_get_a_seeded_split():
    stems = [f"s{i:02d}" for i in range(20)]
    a, b = make_splits(stems, seed=3), make_splits(stems, seed=3)
    assert a == b and a != make_splits(stems, seed=4)
    assert (len(a["train"]), len(a["val"]), len(a["test"])) == (14, 3, 3)
    assert sorted(a["train"] + a["val"] + a["test"]) == stems


CLASSES_AS_NAMES = "{background: 0, cell: 1, retraction_fiber: 2, migrasome: 3}"
CLASSES_AS_IDS = "{0: background, 1: cell, 2: retraction_fiber, 3: migrasome}"


@pytest.mark.parametrize(
    "classes,accepted",
    [
        (CLASSES_AS_NAMES, True),  # name → id (nnU-Net's way, what migraseg writes)
        (CLASSES_AS_IDS, True),  # id → name (the way most tools write it)
        ("{'0': background, '1': cell, '2': retraction_fiber, '3': migrasome}", True),
        ("{0: background, 1: migrasome, 2: retraction_fiber, 3: cell}", False),  # disagrees
        ("{background: 0, migrasome: 1}", False),
        ("[background, cell, retraction_fiber, migrasome]", False),
    ],
)
def test_dataset_yaml_classes_in_either_direction(tmp_path, classes, accepted):
    text = f"name: x\nmodality: confocal\npixel_size_um: 0.1\nclasses: {classes}\n"
    (tmp_path / "dataset.yaml").write_text(text)
    _, problems = read_dataset_yaml(tmp_path)
    assert (problems == []) == accepted, problems
    if not accepted:
        assert "classes must be" in problems[0]
