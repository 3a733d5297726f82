"""Kill-and-resume: a run stopped by a signal mid-epoch resumes to the same weights.

Also: checkpoints are written atomically, a damaged last.ckpt falls back to its predecessor, and
the training loader resumes mid-epoch with the patches an uninterrupted run would draw.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import open_dict

from migraseg.data.datamodule import SegmentationDataModule
from migraseg.training.checkpointing import (
    AtomicCheckpointIO,
    find_resume_checkpoint,
    previous_path,
    resolve_ckpt_path,
)
from migraseg.training.run import train

from .conftest import TEST_OVERRIDES, compose_config

# 4 batches per epoch, 2 epochs: the signal at step 6 lands in the middle of the second epoch.
RESUME_OVERRIDES = [
    *TEST_OVERRIDES,
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=null",
    "data.samples_per_epoch=16",
    "data.batch_size=4",
    "evaluate=false",
    "export=false",
    "tune_decoding=false",
    "callbacks.early_stopping=null",
]
STEPS_PER_EPOCH, KILL_STEP = 4, 6


class SignalAtStep(L.Callback):
    """Sends ``signum`` to this process when training reaches ``step`` (as a scheduler would)."""

    def __init__(self, step: int, signum: str = "SIGTERM"):
        self.step, self.signum = step, signal.Signals[signum]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


def resume_cfg(dataset: Path, out: Path, *extra: str):
    cfg = compose_config("train", [*RESUME_OVERRIDES, f"data.root={dataset}", *extra])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    return cfg


def kill_cfg(dataset: Path, out: Path, signum: str = "SIGTERM"):
    cfg = resume_cfg(dataset, out)
    with open_dict(cfg):
        cfg.callbacks.kill = {
            "_target_": f"{__name__}.SignalAtStep",
            "step": KILL_STEP,
            "signum": signum,
        }
    return cfg


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def assert_same_training_state(a: dict, b: dict) -> None:
    assert a["global_step"] == b["global_step"] and a["epoch"] == b["epoch"]
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=0, atol=0, msg=key)
    for state_a, state_b in zip(
        a["optimizer_states"][0]["state"].values(),
        b["optimizer_states"][0]["state"].values(),
        strict=True,
    ):
        torch.testing.assert_close(state_b["exp_avg"], state_a["exp_avg"], rtol=0, atol=0)
    assert a["lr_schedulers"] == b["lr_schedulers"]


@pytest.fixture(scope="module")
def uninterrupted(tiny_dataset, tmp_path_factory) -> Path:
    """The reference: 2 epochs of 4 steps in one go."""
    out = tmp_path_factory.mktemp("uninterrupted")
    train(resume_cfg(tiny_dataset, out))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("signum", ["SIGTERM", "SIGUSR2"])
def test_run_killed_mid_epoch_resumes_to_identical_weights(
    uninterrupted, tiny_dataset, tmp_path, signum
):
    with pytest.raises(SystemExit) as stopped:
        train(kill_cfg(tiny_dataset, tmp_path, signum))
    assert stopped.value.code == 128 + signal.SIGTERM
    interrupted = load(tmp_path / "checkpoints" / "last.ckpt")
    assert interrupted["global_step"] == KILL_STEP and interrupted["epoch"] == 1  # mid-epoch
    (loader_state,) = interrupted["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    assert loader_state == {"epoch": 1, "batches_done": KILL_STEP - STEPS_PER_EPOCH}

    result = train(resume_cfg(tiny_dataset, tmp_path))  # same run folder, ckpt_path=auto

    assert result["trainer_metrics"]["val/dice_fg"] >= 0
    reference = load(uninterrupted / "checkpoints" / "last.ckpt")
    resumed = load(tmp_path / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == 2 * STEPS_PER_EPOCH
    assert_same_training_state(reference, resumed)


@pytest.mark.slow
def test_damaged_last_checkpoint_falls_back_to_its_predecessor(
    uninterrupted, tiny_dataset, tmp_path
):
    train(resume_cfg(tiny_dataset, tmp_path))
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert previous_path(last).is_file()  # kept by AtomicCheckpointIO at the second save
    for best in tmp_path.glob("checkpoints/epoch*.ckpt"):
        best.unlink()  # leave last.ckpt and its predecessor only
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # a truncated copy
    with pytest.warns(UserWarning, match=r"last\.ckpt is unreadable"):
        found = find_resume_checkpoint(tmp_path)
    assert found == previous_path(last) and load(found)["global_step"] == STEPS_PER_EPOCH

    with pytest.warns(UserWarning, match="unreadable"):
        train(resume_cfg(tiny_dataset, tmp_path))  # epoch 1 again, from last.prev.ckpt
    assert_same_training_state(load(uninterrupted / "checkpoints" / "last.ckpt"), load(last))


def test_atomic_checkpoint_write_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, path)
    io.save_checkpoint({"step": 2}, path)
    assert load(path) == {"step": 2} and load(previous_path(path)) == {"step": 1}

    def crash(obj, f):
        f.write(b"partial")
        raise KeyboardInterrupt  # killed in the middle of writing

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 3}, path)
    assert load(path) == {"step": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt", "last.prev.ckpt"]


def test_resolve_ckpt_path(tmp_path):
    assert resolve_ckpt_path("auto", tmp_path) is None
    assert resolve_ckpt_path(None, tmp_path) is None
    with pytest.raises(FileNotFoundError, match=r"hydra\.run\.dir"):
        resolve_ckpt_path("last", tmp_path)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        resolve_ckpt_path(str(tmp_path / "missing.ckpt"), tmp_path)


def test_training_loader_resumes_mid_epoch_with_the_same_patches(tiny_dataset):
    def loader():
        dm = SegmentationDataModule(
            str(tiny_dataset), patch_size=64, batch_size=2, samples_per_epoch=10
        )
        dm.setup("fit")
        train_loader = dm.train_dataloader()
        train_loader.sampler.set_epoch(3)
        return train_loader

    full = [image for image, _ in loader()]
    first = loader()
    batches = iter(first)
    next(batches), next(batches)
    state = first.state_dict()
    assert state == {"epoch": 3, "batches_done": 2}

    resumed = loader()
    resumed.load_state_dict(state)
    rest = [image for image, _ in resumed]
    assert len(rest) == len(full) - 2
    for a, b in zip(full[2:], rest, strict=True):
        torch.testing.assert_close(a, b)
    assert len(list(resumed)) == len(full)  # the skip applies to the resumed epoch only
