"""Partial annotations (mask value 255 = not annotated) and the soft clDice loss term."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import open_dict

from migraseg.constants import BACKGROUND, CELL, FIBER, IGNORE_LABEL, MIGRASOME
from migraseg.data.contract import DatasetError, load_dataset
from migraseg.data.dataset import LoadedSample, PatchDataset
from migraseg.data.truth import Truth
from migraseg.evaluation.scoring import score_image
from migraseg.evaluation.sources import Segmentation
from migraseg.io import read_image, write_tiff
from migraseg.losses import CompoundLoss, soft_cldice_loss
from migraseg.metrics.objects import drop_ignored_objects
from migraseg.metrics.pixel import class_counts

from .conftest import TEST_OVERRIDES, compose_config


def fiber_target(n: int = 2, size: int = 32) -> torch.Tensor:
    """Targets with a 2-px horizontal fiber and a migrasome disc."""
    target = torch.zeros(n, size, size, dtype=torch.long)
    target[:, 15:17, 2:30] = FIBER
    target[:, 4:9, 4:9] = MIGRASOME
    return target


def perfect_logits(target: torch.Tensor, scale: float = 30.0) -> torch.Tensor:
    return torch.nn.functional.one_hot(target, 4).permute(0, 3, 1, 2).float() * scale


# --- loss ---------------------------------------------------------------------------------
@pytest.mark.parametrize("focal", [False, True])
def test_loss_ignores_unannotated_pixels(focal):
    torch.manual_seed(0)
    target = fiber_target()
    target[:, 20:, :] = IGNORE_LABEL
    logits = torch.randn(2, 4, 32, 32, requires_grad=True)
    loss = CompoundLoss(focal=focal, cldice_weight=0.5)
    value = loss(logits, target)
    value.backward()
    assert torch.isfinite(value)
    assert logits.grad[:, :, 20:].abs().max() == 0  # no signal from the ignored rows
    assert logits.grad[:, :, :20].abs().max() > 0
    changed = logits.detach().clone()
    changed[:, :, 20:] = torch.randn(2, 4, 12, 32) * 10
    assert torch.allclose(loss(changed, target), value.detach(), atol=1e-6)


def test_loss_of_an_unannotated_batch_is_zero_not_nan():
    logits = torch.randn(2, 4, 16, 16, requires_grad=True)
    value = CompoundLoss()(logits, torch.full((2, 16, 16), IGNORE_LABEL))
    value.backward()
    assert value.item() == 0.0 and torch.isfinite(logits.grad).all()


def test_soft_cldice_is_near_zero_for_a_perfect_prediction_and_large_for_a_missed_fiber():
    target = fiber_target()
    loss = CompoundLoss(dice_weight=0.0, ce_weight=0.0, cldice_weight=1.0)
    assert loss(perfect_logits(target), target).item() < 0.02
    missed = target.clone()
    missed[missed == FIBER] = BACKGROUND
    assert loss(perfect_logits(missed), target).item() > 0.9
    # a fiber broken in the middle keeps its pixel overlap but loses topology sensitivity
    broken = target.clone()
    broken[:, 15:17, 14:18] = BACKGROUND
    assert 0.02 < loss(perfect_logits(broken), target).item() < 0.9


def test_soft_cldice_gradients_flow_to_fiber_logits():
    target = fiber_target()
    logits = torch.zeros(2, 4, 32, 32, requires_grad=True)
    CompoundLoss(dice_weight=0.0, ce_weight=0.0, cldice_weight=1.0)(logits, target).backward()
    fiber_grad = logits.grad[:, FIBER][target == FIBER]
    assert fiber_grad.abs().sum() > 0 and (fiber_grad <= 0).all()  # raising them lowers the loss


def test_soft_cldice_respects_ignored_pixels():
    target = fiber_target()
    prob = torch.zeros(2, 1, 32, 32)
    prob[:, :, 15:17, 2:30] = 1.0
    prob[:, :, 25:27, 2:30] = 1.0  # a second fiber, absent from the truth ...
    truth = (target == FIBER).unsqueeze(1).float()
    assert soft_cldice_loss(prob, truth).item() > 0.2
    valid = torch.ones_like(prob)
    valid[:, :, 22:] = 0  # ... where nobody annotated
    assert soft_cldice_loss(prob, truth, valid).item() < 0.02


def test_loss_configs_leave_cldice_off_by_default():
    cfg = compose_config("train", [])
    assert cfg.loss.cldice_weight == 0 and cfg.loss.ignore_index == IGNORE_LABEL
    cfg = compose_config("train", ["loss=dice_ce_cldice"])
    assert cfg.loss.cldice_weight > 0 and cfg.loss.cldice_class == FIBER


# --- metrics ------------------------------------------------------------------------------
def test_class_counts_leave_out_unannotated_pixels():
    truth = np.array([[CELL, CELL, IGNORE_LABEL, IGNORE_LABEL]])
    pred = np.array([[CELL, BACKGROUND, CELL, MIGRASOME]])
    counts = class_counts(pred, truth)
    assert counts[CELL].tolist() == [1, 0, 1]
    assert counts[MIGRASOME].tolist() == [0, 0, 0]
    assert counts[BACKGROUND].tolist() == [0, 1, 0]
    assert counts[:, 0].sum() + counts[:, 2].sum() == 2  # each annotated pixel once


def test_predicted_objects_mostly_in_ignored_pixels_are_dropped():
    ids = np.zeros((10, 10), np.int32)
    ids[0:4, 0:4] = 1  # all ignored
    ids[6:10, 6:10] = 2  # a quarter ignored
    ignored = np.zeros((10, 10), bool)
    ignored[:5, :5] = True
    ignored[6:8, 6:8] = True
    kept = drop_ignored_objects(ids, ignored)
    assert set(np.unique(kept)) == {0, 2}
    assert drop_ignored_objects(ids, np.zeros_like(ignored)) is ids


def test_score_image_counts_no_false_positive_in_unannotated_regions():
    truth = np.full((40, 40), IGNORE_LABEL, np.uint8)
    truth[:, :20] = BACKGROUND
    truth[5:10, 5:10] = MIGRASOME
    truth_ids = (truth == MIGRASOME).astype(np.int32)
    pred = np.zeros((40, 40), np.uint8)
    pred[5:10, 5:10] = MIGRASOME
    pred[25:30, 25:30] = MIGRASOME  # unannotated: neither right nor wrong
    pred[30:32, 21:39] = FIBER
    pred_ids = np.zeros((40, 40), np.int32)
    pred_ids[5:10, 5:10], pred_ids[25:30, 25:30] = 1, 2
    row = score_image(Segmentation(pred, pred_ids), Truth(truth, truth_ids, None), 0.1)
    assert row.migrasome.fp == 0 and row.migrasome.tp == 1
    assert row.scores["migrasome.f1@0.5"] == 1.0
    assert row.counts[FIBER] == [0, 0, 0]
    assert row.retraction_fiber.cldice != row.retraction_fiber.cldice  # NaN: no fiber


# --- data ---------------------------------------------------------------------------------
def partial_dataset(source: Path, root: Path, keep_background_rows: int = 24) -> Path:
    """A copy of ``source`` where only migrasomes and a band of background are painted."""
    shutil.copytree(source, root)
    shutil.rmtree(root / "cells", ignore_errors=True)
    for path in sorted((root / "masks").glob("*.tif")):
        mask, meta = read_image(path)
        partial = np.full_like(mask, IGNORE_LABEL)
        partial[mask == MIGRASOME] = MIGRASOME
        band = np.zeros(mask.shape, bool)
        band[:keep_background_rows] = True
        partial[band & (mask == BACKGROUND)] = BACKGROUND
        write_tiff(path, partial, meta.get("pixel_size_um"))
    return root


def test_contract_accepts_255_but_still_rejects_other_labels(tiny_dataset, tmp_path):
    root = partial_dataset(tiny_dataset, tmp_path / "partial")
    spec = load_dataset(root)
    assert len(spec.samples) == 6
    stem = sorted(spec.samples)[0]
    mask, meta = read_image(root / "masks" / f"{stem}.tif")
    mask[0, 0] = 7
    write_tiff(root / "masks" / f"{stem}.tif", mask, meta.get("pixel_size_um"))
    with pytest.raises(DatasetError, match=r"labels \[7\] outside 0–3 .* or 255"):
        load_dataset(root)


def test_patches_are_centred_on_annotated_pixels_and_unannotated_images_never_drawn():
    mask = np.full((64, 64), IGNORE_LABEL, np.uint8)
    mask[40:44, 50:54] = BACKGROUND
    image = np.random.default_rng(0).random((1, 64, 64), dtype=np.float32)
    empty = LoadedSample("empty", image, np.full((64, 64), IGNORE_LABEL, np.uint8), 0.1)
    dataset = PatchDataset([empty, LoadedSample("a", image, mask, 0.1)], 32, None, 0, 0.0, 0.0)
    for key in range(20):
        _, patch = dataset[key]
        assert (patch != IGNORE_LABEL).any()
    with pytest.raises(ValueError, match="every mask is 255"):
        PatchDataset([empty], 32)


def partial_train_cfg(root: Path, out: Path, *extra: str):
    cfg = compose_config("train", [*TEST_OVERRIDES, f"data.root={root}", *extra])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    return cfg


@pytest.mark.slow
def test_a_set_with_only_migrasomes_and_some_background_painted_trains(tiny_dataset, tmp_path):
    from migraseg.training.run import train

    root = partial_dataset(tiny_dataset, tmp_path / "partial")
    result = train(partial_train_cfg(root, tmp_path / "run"))
    assert result["checkpoint"] and Path(result["model_path"]).is_file()
    losses = [v for k, v in result["trainer_metrics"].items() if k.endswith("loss")]
    assert losses and all(np.isfinite(losses))
    assert result["metrics"] is not None  # the evaluation scored the partial test masks
    assert 0 <= result["trainer_metrics"]["val/dice_fg"] <= 1


def test_a_set_whose_masks_are_all_255_is_refused_before_anything_is_written(
    tiny_dataset, tmp_path
):
    from migraseg.training.run import TrainingInputError, train

    root = partial_dataset(tiny_dataset, tmp_path / "empty", keep_background_rows=0)
    for path in (root / "masks").glob("*.tif"):
        mask, meta = read_image(path)
        write_tiff(path, np.full_like(mask, IGNORE_LABEL), meta.get("pixel_size_um"))
    with pytest.raises(TrainingInputError, match="every training mask is 255") as err:
        train(partial_train_cfg(root, tmp_path / "run"))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


def test_report_images_show_unannotated_pixels_as_such_not_as_migrasomes():
    from migraseg.visualize import CLASS_COLOURS, colorize, error_map

    truth = np.array([[MIGRASOME, IGNORE_LABEL]], np.uint8)
    colours = colorize(truth)
    assert (colours[0, 0] == CLASS_COLOURS[MIGRASOME]).all()
    assert not (colours[0, 1] == CLASS_COLOURS[MIGRASOME]).all()
    image = np.full((1, 2), 0.5, np.float32)
    plain = error_map(image, np.zeros_like(truth), np.zeros_like(truth))
    shown = error_map(image, truth, np.array([[MIGRASOME, CELL]], np.uint8))
    assert (shown[0, 1] == plain[0, 1]).all()  # a prediction where nobody annotated: no outcome
    assert not (shown[0, 0] == plain[0, 0]).all()
