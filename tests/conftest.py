"""Shared fixtures: a tiny simulated dataset, composed configs, and one trained checkpoint."""

from __future__ import annotations

import os

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from migraseg.data.synthetic import write_synthetic_dataset
from migraseg.synth.params import SynthConfig
from migraseg.utils.config import CONFIG_DIR

torch.set_num_threads(2)

# 128² images at 0.2 µm: a 25.6 µm field still holds a cell, fibers and migrasomes.
TINY_SYNTH = replace(
    SynthConfig(),
    confocal=replace(SynthConfig().confocal, image_size_px=(128, 128), pixel_size_um=(0.2, 0.2)),
)
TEST_OVERRIDES = [
    "model=unet_tiny",
    "logger=none",
    "trainer=cpu",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=2",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "callbacks.progress_bar=null",
    "data.patch_size=64",
    "data.batch_size=4",
    "data.samples_per_epoch=8",
    "data.synthesize=null",
    "predict.tile_size=128",
    "predict.device=cpu",
]


def make_tiny_dataset(root: Path, n: int = 6, seed: int = 0) -> Path:
    return write_synthetic_dataset(root, n=n, seed=seed, config=TINY_SYNTH)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six simulated 128² images with masks, instances and a dataset.yaml (read-only!)."""
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny")


def compose_config(name: str, overrides: list[str]) -> DictConfig:
    """Compose a root config from configs/ as the CLI would (without running Hydra)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        return compose(config_name=name, overrides=overrides)


@pytest.fixture
def train_cfg(tiny_dataset: Path, tmp_path: Path) -> DictConfig:
    """The training config as tests use it: tiny model, CPU, no logger, outputs in tmp_path."""
    cfg = compose_config("train", [*TEST_OVERRIDES, f"data.root={tiny_dataset}"])
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path)
    return cfg


@pytest.fixture(scope="session")
def trained(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Train once for the whole session; yields train()'s result (checkpoint, model.pt, ...)."""
    from migraseg.training.run import train

    out = tmp_path_factory.mktemp("run")
    cfg = compose_config("train", [*TEST_OVERRIDES, f"data.root={tiny_dataset}"])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    return train(cfg)


@pytest.fixture
def fake_slurm(tmp_path: Path) -> Path:
    """A folder of sbatch/srun/sacct stand-ins to put first on PATH: sbatch copies the script to
    ``$FAKE_SLURM_OUT``, srun prints the command it was given, sacct reports the jobs cancelled."""
    bin_dir = tmp_path / "fake-slurm"
    bin_dir.mkdir()
    scripts = {
        "sbatch": '#!/bin/bash\ncp "$1" "$FAKE_SLURM_OUT"\necho "Submitted batch job 4242"\n',
        "srun": '#!/bin/bash\nprintf "%s\\n" "$@"\n',
        "sacct": "#!/bin/bash\nprintf 'JobID|State|NodeList\\n4242_[0-2]|CANCELLED|n\\n'\n",
    }
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir
