"""evaluation.pipeline: the classical baseline without a split to tune on; typed predict
settings from the configs."""

import logging
import shutil

import pytest
import yaml
from omegaconf import OmegaConf

from migraseg.baseline import ClassicalParams
from migraseg.evaluation.pipeline import run_evaluation
from migraseg.evaluation.sets import EvalSet
from migraseg.inference.settings import PredictSettings

from .conftest import compose_config


def test_classical_on_a_test_only_dataset_runs_untuned_with_a_warning(
    tiny_dataset, tmp_path, caplog
):
    root = shutil.copytree(tiny_dataset, tmp_path / "test_only")
    info = yaml.safe_load((root / "dataset.yaml").read_text())
    stems = sorted(p.stem for p in (root / "images").glob("*.tif"))[:2]
    info["splits"] = {"test": stems}  # no train split: nothing to tune on
    (root / "dataset.yaml").write_text(yaml.safe_dump(info))
    with caplog.at_level(logging.WARNING, logger="migraseg.evaluation.pipeline"):
        run = run_evaluation(
            {"classical": "classical"}, [EvalSet("t", root, "test")], tmp_path / "out", report=False
        )
    assert "no 'train' split to tune the classical baseline on" in caplog.text
    described = run.metrics["models"]["classical"]
    assert described["params"] == ClassicalParams().to_dict()
    assert described["params_source"] == "defaults"
    assert run.metrics["sets"]["t"]["n_images"] == 2


def test_predict_settings_from_a_config_section_refuse_unknown_keys():
    settings = PredictSettings.from_mapping({"device": "cpu", "tile_size": 256})
    assert settings == PredictSettings(device="cpu", tile_size=256)
    assert settings.predictor_kwargs()["overlap"] == 0.25
    with pytest.raises(ValueError, match="tile_sise"):
        PredictSettings.from_mapping({"tile_sise": 256})


def test_the_configs_predict_sections_are_predict_settings():
    for name in ("train", "eval"):
        section = OmegaConf.to_container(compose_config(name, []).predict, resolve=True)
        assert PredictSettings.from_mapping(section).tile_size == section["tile_size"]
