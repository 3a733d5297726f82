"""SegmentationModule: the LightningModule around a segmentation network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from migraseg.constants import CLASS_NAMES, FOREGROUND_CLASSES, IGNORE_LABEL, MIGRASOME
from migraseg.metrics.objects import drop_ignored_objects, match_instances
from migraseg.metrics.pixel import class_counts, scores_from_counts
from migraseg.models.factory import OUTPUT_STRIDE
from migraseg.postprocess import settle_migrasomes


def pad_to_multiple(
    x: torch.Tensor, multiple: int = OUTPUT_STRIDE
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad (N, C, H, W) on the bottom/right to multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
    return x, (h, w)


class SegmentationModule(L.LightningModule):
    """Trains ``net`` with ``loss``; validates on whole images with pixel and object metrics.

    Args:
        net: network mapping (N, C, H, W) to logits (N, 4, H, W).
        loss: callable(logits, target) → scalar.
        optimizer: partial taking the parameters.
        scheduler: partial taking (optimizer, total_steps), stepped every optimizer step.
        meta: what an exported model carries (model kwargs, pixel size, normalisation, ...);
            saved in the checkpoint's hyper-parameters so a checkpoint rebuilds without Hydra.
        channels_last: use the channels-last memory format (faster convolutions on GPUs).
        n_val_examples: validation crops kept for image panels.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        meta: dict[str, Any] | None = None,
        channels_last: bool = False,
        n_val_examples: int = 4,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["net", "loss", "optimizer", "scheduler"])
        self.net, self.loss = net, loss
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.meta = meta or {}
        self.channels_last, self.n_val_examples = channels_last, n_val_examples
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.val_examples: list[dict[str, np.ndarray]] = []
        self._stats: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        image, mask = batch
        loss = self.loss(self(image), mask)
        self.log("train/loss", loss, prog_bar=True, batch_size=image.shape[0])
        # the epoch's mean, whatever log_every_n_steps: the training curve's point
        self.log("train/loss_epoch", loss, on_step=False, on_epoch=True, batch_size=image.shape[0])
        return loss

    # --- evaluation on whole images -------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        if "pixel_size_um" not in self.meta:
            raise ValueError("SegmentationModule needs meta['pixel_size_um'] to decode objects")
        self._reset_stats()
        self.val_examples = []

    def _reset_stats(self) -> None:
        zeros = torch.zeros
        self._stats = {
            "counts": zeros(len(CLASS_NAMES), 3, dtype=torch.float64),
            "objects": zeros(3, dtype=torch.float64),
            "loss": zeros(2, dtype=torch.float64),
        }

    def validation_step(
        self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch_idx: int
    ) -> None:
        """Whole images: pixel counts, and migrasome matches against the true instances with
        predictions decoded by the model's own post-processing (as the evaluation does).
        Unannotated pixels (``IGNORE_LABEL``) count nowhere, nor do predicted migrasomes lying
        mostly in them."""
        image, mask, truth_ids = batch
        padded, (h, w) = pad_to_multiple(image)
        logits = self(padded)[..., :h, :w]
        self._stats["loss"] += torch.tensor(
            [float(self.loss(logits, mask)), 1.0], dtype=torch.float64
        )
        pred = logits.argmax(1).cpu().numpy().astype(np.uint8)
        migrasome = logits.detach().softmax(1)[:, MIGRASOME].float().cpu().numpy()
        truth = mask.cpu().numpy().astype(np.uint8)
        pixel_size = float(self.meta["pixel_size_um"])
        post = self.meta.get("postprocess", {})
        arrays = (pred, migrasome, truth, truth_ids.cpu().numpy(), image.cpu().numpy())
        for p, prob, t, ids, x in zip(*arrays, strict=True):
            self._stats["counts"] += torch.from_numpy(class_counts(p, t)).double()
            pred_ids = drop_ignored_objects(
                settle_migrasomes(p, prob, pixel_size, post), t == IGNORE_LABEL
            )
            match = match_instances(ids, pred_ids)
            self._stats["objects"] += torch.tensor(
                [match.tp, match.fp, match.fn], dtype=torch.float64
            )
            if len(self.val_examples) < self.n_val_examples:
                self.val_examples.append(example_crop(x, t, p))

    def _log_validation_stats(self) -> None:
        # sum over DDP ranks: each rank saw a disjoint shard of the images (ShardSampler)
        stats = {
            k: self.trainer.strategy.reduce(v.to(self.device), reduce_op="sum").cpu()
            for k, v in self._stats.items()
        }
        scores = scores_from_counts(stats["counts"].numpy())
        tp, fp, fn = stats["objects"].tolist()
        values = {f"val/dice_{CLASS_NAMES[c]}": scores["dice"][c] for c in FOREGROUND_CLASSES}
        values["val/dice_fg"] = float(np.nanmean(scores["dice"][list(FOREGROUND_CLASSES)]))
        values["val/f1_migrasome"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
        values["val/loss"] = stats["loss"][0].item() / max(stats["loss"][1].item(), 1)
        values["val/n_images"] = stats["loss"][1].item()  # over all ranks: each image once
        # classes absent from truth and prediction are NaN, except the monitored score, which
        # must stay finite for checkpointing and early stopping (0: nothing to segment yet)
        values["val/dice_fg"] = float(np.nan_to_num(values["val/dice_fg"]))
        self.log_dict({k: float(v) for k, v in values.items()}, sync_dist=False, prog_bar=False)

    def on_validation_epoch_end(self) -> None:
        self._log_validation_stats()

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        scheduler = self.scheduler_factory(
            optimizer, total_steps=int(self.trainer.estimated_stepping_batches)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


def example_crop(
    image: np.ndarray, truth: np.ndarray, pred: np.ndarray, size: int = 192
) -> dict[str, np.ndarray]:
    """A crop centred on the first migrasome (or the image centre) for image panels."""
    ys, xs = np.nonzero(truth == MIGRASOME)
    cy, cx = (int(ys[0]), int(xs[0])) if ys.size else (truth.shape[0] // 2, truth.shape[1] // 2)
    y0 = int(np.clip(cy - size // 2, 0, max(truth.shape[0] - size, 0)))
    x0 = int(np.clip(cx - size // 2, 0, max(truth.shape[1] - size, 0)))
    window = (slice(y0, y0 + size), slice(x0, x0 + size))
    return {"image": image[0][window], "truth": truth[window], "pred": pred[window]}
