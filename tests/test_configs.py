"""Every config composes, and its data, model and loss instantiate."""

import inspect
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import open_dict

from migraseg.utils.config import CONFIG_DIR

from .conftest import compose_config

EXPERIMENTS = sorted(p.stem for p in Path(CONFIG_DIR, "experiment").glob("*.yaml"))
GROUPS = ("data", "model", "loss", "optimizer", "scheduler", "trainer", "callbacks", "logger",
          "augment", "debug")  # fmt: skip
GROUP_OPTIONS = [
    (group, p.stem) for group in GROUPS for p in sorted(Path(CONFIG_DIR, group).glob("*.yaml"))
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


def check_option(group: str, cfg) -> None:
    """Build what the option configures and use it once, so a wrong key or value fails here."""
    if group == "data":
        datamodule = instantiate(cfg.data)
        assert datamodule.patch_size % 32 == 0
    elif group == "model":
        assert instantiate(cfg.model, in_channels=1)(torch.rand(1, 1, 64, 64)).shape[1] == 4
    elif group == "loss":
        loss = instantiate(cfg.loss)(torch.randn(2, 4, 8, 8), torch.randint(0, 4, (2, 8, 8)))
        assert torch.isfinite(loss)
    elif group in ("optimizer", "scheduler"):
        optimizer = instantiate(cfg.optimizer)(params=[torch.nn.Parameter(torch.zeros(1))])
        if cfg.get("scheduler"):
            instantiate(cfg.scheduler)(optimizer, total_steps=10).step()
    elif group == "trainer":
        accepted = inspect.signature(L.Trainer).parameters
        assert set(cfg.trainer) - {"_target_"} <= set(accepted)
    elif group in ("callbacks", "logger"):
        built = [instantiate(c) for c in (cfg.get(group) or {}).values() if c is not None]
        assert all(b is not None for b in built)
    elif group == "augment":
        augment = instantiate(cfg.data.augment)
        if augment is not None:
            image, mask = np.random.rand(64, 64, 1).astype(np.float32), np.zeros((64, 64), np.uint8)
            assert augment(image=image, mask=mask)["image"].shape == (64, 64, 1)
    elif group == "debug":
        # the Trainer must accept the patched trainer and callbacks together (debug=fdr once
        # disabled the progress bar but kept the RichProgressBar callback, which Lightning refuses)
        callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
        trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=False)
        short = trainer.fast_dev_run or (
            trainer.max_epochs <= 2 and isinstance(trainer.limit_train_batches, int)
        )
        assert short, "a debug option must shorten the run"
        assert cfg.data.num_workers == 0


@pytest.mark.parametrize("group,option", GROUP_OPTIONS)
def test_every_group_option_builds(group, option, tmp_path):
    target = "augment@data.augment" if group == "augment" else group
    overrides = [f"{target}={option}", f"paths.data_dir={tmp_path}"]
    if option == "tiff_folder":
        overrides.append(f"data.root={tmp_path}")
    cfg = compose_config("train", overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path)
    check_option(group, cfg)


def test_eval_config_composes():
    cfg = compose_config("eval", ["model_path=x.pt"])
    assert cfg.split == "test" and cfg.model_path == "x.pt"


def test_postprocess_defaults_are_one_setting():
    """Models trained by default, label folders scored by default and the classical baseline
    decode migrasomes alike."""
    from migraseg.baseline.classical import ClassicalParams
    from migraseg.constants import MIGRASOME_POSTPROCESS

    for name in ("train", "eval"):
        assert dict(compose_config(name, []).postprocess) == MIGRASOME_POSTPROCESS, name
    params = ClassicalParams()
    assert params.min_diameter_um == MIGRASOME_POSTPROCESS["min_diameter_um"]
    assert params.split_h_um == MIGRASOME_POSTPROCESS["split_h_um"]


def test_defaults_stay_offline():
    cfg = compose_config("train", [])
    assert cfg.model.encoder_weights is None
    assert cfg.logger.wandb.offline is None  # decided from credentials at run time
