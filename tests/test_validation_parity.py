"""Validation during training scores what migraseg-eval scores: on the same images, the logged
pixel Dice and migrasome F1 equal the harness's pooled numbers. Checkpoint selection on
``val/dice_fg`` and the evaluation report must not disagree about what is good."""

from functools import partial

import lightning as L
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from migraseg.constants import CLASS_NAMES, FOREGROUND_CLASSES
from migraseg.evaluation.harness import EvaluationSettings, evaluate
from migraseg.evaluation.sets import EvalSet
from migraseg.evaluation.sources import Segmentation
from migraseg.inference.predictor import Predictor
from migraseg.losses import CompoundLoss
from migraseg.model_meta import ModelMeta
from migraseg.training.module import SegmentationModule
from migraseg.training.run import build_meta


class NearestLevel(nn.Module):
    """A fixed 'network': each pixel goes to the class whose level is nearest its normalised
    intensity (dim background, brighter cells and fibers, brightest migrasomes). Its output is
    imperfect but far from empty, so matches, misses and false objects all occur."""

    def __init__(self, levels=(0.05, 0.25, 0.45, 0.8)):
        super().__init__()
        self.register_buffer("levels", torch.tensor(levels).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -50 * (x[:, :1] - self.levels) ** 2


class PredictorSource:
    """The harness's NetworkSource around an in-memory network."""

    needs_image = True

    def __init__(self, predictor: Predictor):
        self.predictor = predictor

    def describe(self) -> dict:
        return {"kind": "test", "path": "", "runner": self.predictor.runner.name}

    def segment(self, record, image):
        prediction = self.predictor.predict(image, record.pixel_size_um)
        return Segmentation(prediction.labels, prediction.migrasome_ids)


def test_validation_metrics_equal_the_harness_on_the_same_images(train_cfg, tiny_dataset):
    datamodule = instantiate(train_cfg.data)
    datamodule.prepare_data()
    meta = build_meta(train_cfg, datamodule)
    net = NearestLevel().eval()
    module = SegmentationModule(
        net, CompoundLoss(), partial(torch.optim.SGD, lr=0.1), meta=meta.to_dict()
    )
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    (logged,) = trainer.validate(module, datamodule=datamodule, verbose=False)

    predictor = Predictor(net, ModelMeta.from_dict(meta.to_dict()), device="cpu")
    eval_set = EvalSet("tiny/val", tiny_dataset, "val")
    (result,) = evaluate(
        {"net": PredictorSource(predictor)}, [eval_set], EvaluationSettings(n_bootstrap=10)
    )
    scored = result.models["net"].summary.values

    assert logged["val/n_images"] == len(result.records) >= 1
    assert scored["migrasome.n_true"] > 0 and scored["migrasome.n_pred"] > 0
    assert 0 < scored["migrasome.f1@0.5"] < 1  # a real mix of hits and errors
    assert logged["val/f1_migrasome"] == pytest.approx(scored["migrasome.f1@0.5"], abs=1e-6)
    for c in FOREGROUND_CLASSES:
        name = CLASS_NAMES[c]
        expected = scored[f"{name}.dice"]
        assert np.isfinite(expected), name
        assert logged[f"val/dice_{name}"] == pytest.approx(expected, abs=1e-4), name
