"""DDP on CPU (gloo): a 2-process run completes, and its validation metrics are exact.

Validation shards whole images over ranks without padding duplicates (ShardSampler) and sums the
per-class counts over ranks, so the metrics a 2-process run logs must equal a single process
validating the same weights on the same images.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate

from migraseg.data.dataset import PatchSampler
from migraseg.training.module import SegmentationModule
from migraseg.training.run import check_launch
from migraseg.utils.config import CONFIG_DIR

from .conftest import TEST_OVERRIDES, compose_config

VAL_STEMS = 3  # odd: rank 0 validates two images, rank 1 one


@pytest.fixture(scope="module")
def ddp_dataset(tiny_dataset, tmp_path_factory) -> Path:
    """The tiny dataset with three validation images (all six train; no test split, which must
    not share stems with train)."""
    root = tmp_path_factory.mktemp("ddp") / "data"
    shutil.copytree(tiny_dataset, root)
    info = yaml.safe_load((root / "dataset.yaml").read_text())
    stems = sorted(p.stem for p in (root / "images").glob("*.tif"))
    info["splits"] = {"train": stems, "val": stems[:VAL_STEMS], "test": []}
    (root / "dataset.yaml").write_text(yaml.safe_dump(info))
    return root


def ddp_overrides(dataset: Path) -> list[str]:
    return [
        *TEST_OVERRIDES,
        f"data.root={dataset}",
        "logger=csv",
        "evaluate=false",
        "export=false",
        "trainer.limit_val_batches=null",
        "trainer.log_every_n_steps=1",
        "data.samples_per_epoch=16",  # over all ranks: 2 batches of 4 on each of 2 ranks
    ]


def logged_validation(run_dir: Path) -> dict[str, float]:
    (metrics_csv,) = run_dir.glob("csv/version_*/metrics.csv")
    rows = [r for r in csv.DictReader(metrics_csv.open()) if r.get("val/dice_fg")]
    return {k: float(v) for k, v in rows[-1].items() if k.startswith("val/")}


def validate_single_process(dataset: Path, checkpoint: Path) -> dict[str, float]:
    """Validate the checkpoint's weights in this process on all validation images."""
    cfg = compose_config("train", ddp_overrides(dataset))
    datamodule = instantiate(cfg.data)
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    meta = state["hyper_parameters"]["meta"]
    module = SegmentationModule(
        instantiate(cfg.model, in_channels=meta["in_channels"]),
        instantiate(cfg.loss),
        torch.optim.AdamW,
        meta=meta,
    )
    module.load_state_dict(state["state_dict"])
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        use_distributed_sampler=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in each DDP process (Lightning sets OMP_NUM_THREADS=cores/2)
    try:
        (metrics,) = trainer.validate(module, datamodule=datamodule, verbose=False)
    finally:
        torch.set_num_threads(threads)
    return metrics


@pytest.mark.slow
def test_two_process_ddp_run_logs_the_metrics_of_a_single_process(ddp_dataset, tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "migraseg.cli.train",
        *ddp_overrides(ddp_dataset),
        "trainer=ddp_cpu",
        "trainer.devices=2",
        f"hydra.run.dir={run_dir}",
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "distributed_backend=gloo" in proc.stderr and "All distributed processes" in proc.stderr

    last = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 2  # one epoch of 2 steps
    logged = logged_validation(run_dir)
    single = validate_single_process(ddp_dataset, run_dir / "checkpoints" / "last.ckpt")
    assert logged.keys() == single.keys() and len(logged) >= 5
    assert logged["val/n_images"] == VAL_STEMS  # each image validated once over both ranks
    for key, value in single.items():
        tolerance = 1e-4 if key == "val/loss" else 1e-6  # loss: float sums in another order
        assert logged[key] == pytest.approx(value, rel=tolerance, abs=tolerance), key


def test_patch_keys_are_disjoint_across_ranks_and_cover_the_epoch():
    samplers = [PatchSampler(10, rank=r, world_size=3) for r in range(3)]
    for s in samplers:
        s.set_epoch(2)
    keys = [k for s in samplers for k in s]
    assert len(keys) == len(set(keys)) == 12  # 10 rounded up to a multiple of 3 ranks
    assert set(keys) == set(range(24, 36))


def test_multirun_with_a_ddp_trainer_is_refused(tmp_path):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose("train", ["hydra.mode=MULTIRUN"], return_hydra_config=True)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False)
    HydraConfig.instance().set_config(cfg)
    try:
        with pytest.raises(RuntimeError, match="hydra/launcher=slurm"):
            check_launch(trainer)
    finally:
        HydraConfig.instance().cfg = None
    check_launch(trainer)  # a single run may start its ranks by re-running the command
