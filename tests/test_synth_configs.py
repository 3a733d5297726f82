"""Simulator presets: every config group option composes, the default is in sync, CLI works."""

import pytest
import yaml
from hydra.utils import instantiate
from omegaconf import open_dict

from migraseg.cli.synth import main as synth_main
from migraseg.data.contract import load_dataset
from migraseg.io import read_image
from migraseg.synth.params import SynthConfig, synth_config_from_mapping
from migraseg.synth.presets import load_preset, preset_names

from .conftest import compose_config


def test_the_confocal_preset_is_the_python_default():
    assert load_preset("confocal") == SynthConfig()


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_composes_and_names_itself(name):
    config = load_preset(name)
    assert config.preset == name
    cfg = compose_config("train", [f"data/synth={name}", "data.root=unused"])
    assert synth_config_from_mapping(cfg.data.synthesize.simulator) == config


def test_dataset_folder_follows_the_preset_and_experiments_pick_it():
    cfg = compose_config("train", ["data/synth=confocal_wga"])
    assert cfg.data.root.endswith("synthetic_confocal_wga")
    assert compose_config("train", []).data.root.endswith("synthetic_confocal")
    tem = compose_config("train", ["experiment=tem"])
    assert tem.data.synthesize.simulator.modality == "tem"
    assert tem.data.root.endswith("synthetic_tem")


def test_unknown_parameters_and_bad_ranges_are_refused():
    with pytest.raises(ValueError, match=r"confocal\.peak_photon"):
        synth_config_from_mapping({"confocal": {"peak_photon": [1, 2]}})
    with pytest.raises(ValueError, match="peak_photons"):
        load_preset("confocal", ["confocal.peak_photons=[300,20]"])
    with pytest.raises(ValueError, match="pixel_size_um must be positive"):
        load_preset("tem", ["tem.pixel_size_um=[0,0.01]"])
    with pytest.raises(ValueError, match="markers"):
        synth_config_from_mapping({"confocal": {"channels": ["mito"]}})
    with pytest.raises(ValueError, match="known"):
        load_preset("no_such_preset")


def test_datamodule_synthesizes_the_composed_preset(tmp_path):
    cfg = compose_config(
        "train",
        [
            "data/synth=confocal_dual",
            f"data.root={tmp_path / 'ds'}",
            "data.synthesize.n=2",
            "data.synthesize.workers=1",
            "data.synthesize.simulator.confocal.image_size_px=[64,64]",
        ],
    )
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    info = yaml.safe_load((tmp_path / "ds" / "dataset.yaml").read_text())
    assert info["channels"] == ["tspan4", "wga"] and datamodule.in_channels == 2
    assert info["simulator"]["preset"] == "confocal_dual"
    assert info["simulator"]["confocal"]["image_size_px"] == [64, 64]
    assert load_dataset(tmp_path / "ds").samples
    datamodule.prepare_data()  # cached and matching: nothing to do
    with open_dict(cfg):
        cfg.data.synthesize.simulator.confocal.image_size_px = [96, 96]
    with pytest.raises(
        ValueError, match=r"other settings \(simulator settings differ in \['confocal'\]"
    ):
        instantiate(cfg.data).prepare_data()


def test_cli_modality_preset_timelapse_and_overrides(tmp_path, capsys):
    assert (
        synth_main([str(tmp_path / "c"), "--modality", "confocal", "--n", "2", "--size", "64"]) == 0
    )
    assert load_dataset(tmp_path / "c").modality == "confocal"
    assert synth_main([str(tmp_path / "t"), "--modality", "tem", "--n", "1", "--size", "64"]) == 0
    assert load_dataset(tmp_path / "t").modality == "tem"
    args = [str(tmp_path / "l"), "--timelapse", "3", "--n", "1", "--size", "64", "--seed", "3"]
    assert synth_main([*args, "scene.n_cells=[1,1]"]) == 0
    image, meta = read_image(next((tmp_path / "l" / "images").glob("*.tif")))
    assert meta["axes"] == "TYX" and image.shape == (3, 64, 64)
    assert synth_main([str(tmp_path / "x"), "--preset", "tem", "--modality", "confocal"]) == 2
    assert synth_main([str(tmp_path / "y"), "--preset", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
