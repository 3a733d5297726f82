"""data.synthetic.ensure_synthetic_dataset: one "simulate if absent" for training and eval sets."""

import pytest
import yaml

from migraseg.data.contract import load_dataset
from migraseg.data.synthetic import ensure_synthetic_dataset, recipe_config

SMALL = ["confocal.image_size_px=[64,64]", "scene.n_cells=[1,1]"]


def test_simulates_once_checks_without_simulating_and_refuses_another_recipe(tmp_path):
    root = tmp_path / "sim"
    recipe = {"n": 2, "seed": 3, "preset": "confocal", "overrides": SMALL}
    assert ensure_synthetic_dataset(root, recipe, simulate=False) is False  # a waiting rank
    assert not (root / "dataset.yaml").exists()
    assert ensure_synthetic_dataset(root, recipe) is True
    assert len(load_dataset(root).samples) == 2
    assert ensure_synthetic_dataset(root, recipe, simulate=False) is True  # cached
    with pytest.raises(ValueError, match="other settings"):
        ensure_synthetic_dataset(root, {**recipe, "seed": 4})
    with pytest.raises(ValueError, match=r"differ in \['scene'\]"):
        ensure_synthetic_dataset(root, {**recipe, "overrides": [*SMALL, "scene.n_cells=[2,2]"]})


def test_a_change_to_the_other_modality_does_not_make_a_cached_dataset_stale(tmp_path):
    """As when a new release changes a TEM default: the record of a confocal set differs there."""
    recipe = {"n": 1, "seed": 0, "preset": "confocal", "overrides": SMALL}
    ensure_synthetic_dataset(tmp_path / "sim", recipe)
    record_file = tmp_path / "sim" / "dataset.yaml"
    record = yaml.safe_load(record_file.read_text())
    record["simulator"]["tem"]["rim_um"] = [0.5, 0.6]
    record_file.write_text(yaml.safe_dump(record))
    assert ensure_synthetic_dataset(tmp_path / "sim", recipe, simulate=False) is True
    record["simulator"]["confocal"]["image_size_px"] = [96, 96]
    record_file.write_text(yaml.safe_dump(record))
    with pytest.raises(ValueError, match=r"differ in \['confocal'\]"):
        ensure_synthetic_dataset(tmp_path / "sim", recipe, simulate=False)


def test_a_recipe_names_a_preset_or_carries_the_simulator_mapping():
    by_preset = recipe_config({"preset": "tem", "overrides": ["tem.image_size_px=[64,64]"]})
    assert by_preset.modality == "tem" and by_preset.tem.image_size_px == (64, 64)
    by_mapping = recipe_config({"simulator": {"modality": "tem", "preset": "x"}})
    assert by_mapping.modality == "tem" and by_mapping.preset == "x"
