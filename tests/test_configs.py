"""Every config composes, and its data, model and loss instantiate."""

from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import open_dict

from migraseg.utils.config import CONFIG_DIR

from .conftest import compose_config

EXPERIMENTS = sorted(p.stem for p in Path(CONFIG_DIR, "experiment").glob("*.yaml"))
GROUP_OPTIONS = [
    (group, p.stem)
    for group in (
        "model",
        "loss",
        "optimizer",
        "scheduler",
        "trainer",
        "callbacks",
        "logger",
        "augment",
        "debug",
    )
    for p in sorted(Path(CONFIG_DIR, group).glob("*.yaml"))
]


def test_quickstart_exists():
    assert "quickstart" in EXPERIMENTS


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_instantiates(experiment, tmp_path):
    cfg = compose_config("train", [f"experiment={experiment}", f"data.root={tmp_path}"])
    assert cfg.data.patch_size % 32 == 0
    net = instantiate(cfg.model, in_channels=1)
    assert sum(p.numel() for p in net.parameters()) > 0
    instantiate(cfg.loss)
    datamodule = instantiate(cfg.data)
    assert datamodule.patch_size == cfg.data.patch_size


@pytest.mark.parametrize("group,option", GROUP_OPTIONS)
def test_every_group_option_composes(group, option):
    target = "augment@data.augment" if group == "augment" else group
    cfg = compose_config("train", [f"{target}={option}"])
    with open_dict(cfg):
        cfg.paths.output_dir = "unused"
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"


def test_eval_config_composes():
    cfg = compose_config("eval", ["model_path=x.pt"])
    assert cfg.split == "test" and cfg.model_path == "x.pt"


def test_defaults_stay_offline():
    cfg = compose_config("train", [])
    assert cfg.model.encoder_weights is None
    assert cfg.logger.wandb.offline is None  # decided from credentials at run time
