"""Training on a tiny simulated set: a fast_dev_run, and the shared trained checkpoint."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import open_dict

from migraseg.data.datamodule import SegmentationDataModule
from migraseg.losses import CompoundLoss
from migraseg.models import build_model
from migraseg.training.module import SegmentationModule, pad_to_multiple
from migraseg.training.run import train

from .conftest import compose_config


def test_pad_to_multiple_pads_bottom_right_only():
    x = torch.arange(2 * 40 * 50, dtype=torch.float32).reshape(1, 2, 40, 50)
    padded, size = pad_to_multiple(x)
    assert padded.shape[-2:] == (64, 64) and size == (40, 50)
    torch.testing.assert_close(padded[..., :40, :50], x)


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`:UserWarning")
def test_module_steps_without_a_trainer(tiny_dataset):
    dm = SegmentationDataModule(str(tiny_dataset), patch_size=64, batch_size=2, samples_per_epoch=4)
    dm.setup("fit")
    net = build_model(encoder_name="tu-test_resnet", encoder_depth=3, decoder_channels=(16, 8, 8))
    module = SegmentationModule(net, CompoundLoss(), torch.optim.AdamW, meta={"pixel_size_um": 0.2})
    batch = next(iter(dm.train_dataloader()))
    loss = module.training_step(batch, 0)
    loss.backward()
    assert torch.isfinite(loss) and net.segmentation_head[0].weight.grad is not None
    module.on_validation_epoch_start()
    image, mask, truth_ids = next(iter(dm.val_dataloader()))
    assert truth_ids.shape == mask.shape and truth_ids.max() >= 1  # the simulator's instances
    module.validation_step((image, mask, truth_ids), 0)
    counts = module._stats["counts"]
    assert counts[:, 0].sum() + counts[:, 2].sum() == mask.numel()  # tp + fn covers all pixels
    assert len(module.val_examples) == 1


@pytest.mark.slow
def test_fast_dev_run(train_cfg):
    cfg = compose_config("train", [*_overrides(train_cfg), "debug=fdr"])
    with open_dict(cfg):
        cfg.paths.output_dir = train_cfg.paths.output_dir
    result = train(cfg)
    assert result["metrics"] is None and "train/loss" in result["trainer_metrics"]


def _overrides(cfg):
    return [
        f"data.root={cfg.data.root}",
        "model=unet_tiny",
        "logger=none",
        "trainer=cpu",
        "callbacks.progress_bar=null",
        "data.patch_size=64",
        "data.batch_size=2",
        "data.synthesize=null",
    ]


@pytest.mark.slow
def test_training_writes_checkpoints_metrics_and_model(trained):
    out = Path(trained["output_dir"])
    assert Path(trained["checkpoint"]).is_file()
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert (out / "config_resolved.yaml").is_file()
    metrics = json.loads(Path(trained["metrics_path"]).read_text())
    (result,) = metrics["sets"].values()
    assert result["split"] == "test" and result["n_images"] >= 1
    (trained_model,) = (m for name, m in result["models"].items() if name != "classical")
    assert "classical" in result["models"]  # the report shows the baseline beside it
    (described,) = (m for name, m in metrics["models"].items() if name != "classical")
    assert described["tta"] is False  # configs/train.yaml: no flips, make train stays short
    headline = trained_model["headline"]
    assert {"cell.dice", "migrasome.f1@0.5", "retraction_fiber.cldice"} <= headline.keys()
    assert (out / "report.md").is_file() and (out / "classical_params.json").is_file()
    assert Path(trained["model_path"]).is_file()
    assert "val/dice_fg" in trained["trainer_metrics"]
    checkpoint = torch.load(trained["checkpoint"], map_location="cpu", weights_only=False)
    meta = checkpoint["hyper_parameters"]["meta"]
    assert meta["pixel_size_um"] == pytest.approx(0.2) and meta["in_channels"] == 1


def test_memmap_cache_matches_ram_and_is_built_once(tiny_dataset, tmp_path):
    def datamodule(**cache):
        dm = SegmentationDataModule(
            str(tiny_dataset), patch_size=64, batch_size=2, samples_per_epoch=4, **cache
        )
        dm.setup("fit")
        return dm

    ram = datamodule()
    mapped = datamodule(cache="memmap", cache_dir=str(tmp_path))
    files = sorted(tmp_path.glob("*.npy"))
    assert len(files) == 2 * sum(len(v) for v in mapped.loaded.values())
    sample = mapped.loaded["train"][0]
    assert isinstance(sample.image, np.memmap) and not sample.image.flags.writeable
    for a, b in zip(ram.loaded["train"], mapped.loaded["train"], strict=True):
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.mask, b.mask)
    for (xa, ya), (xb, yb) in zip(ram.train_dataloader(), mapped.train_dataloader(), strict=True):
        torch.testing.assert_close(xa, xb)
        torch.testing.assert_close(ya, yb)
    image, _, _ = next(iter(mapped.val_dataloader()))
    assert image.shape[-2:] == ram.loaded["val"][0].mask.shape

    stamps = [f.stat().st_mtime_ns for f in files]
    datamodule(cache="memmap", cache_dir=str(tmp_path))  # a second run reuses the cache
    assert [f.stat().st_mtime_ns for f in files] == stamps


def test_unknown_cache_mode_is_a_clear_error(tiny_dataset):
    with pytest.raises(ValueError, match=r"data\.cache must be one of .*'disk'"):
        SegmentationDataModule(str(tiny_dataset), patch_size=64, cache="disk")
