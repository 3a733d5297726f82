"""Callbacks specific to migraseg (Lightning's own ones are configured in configs/callbacks)."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.loggers import WandbLogger

from migraseg.visualize import panel


class ValidationImagePanels(L.Callback):
    """Logs input | truth | prediction panels of a few validation crops to wandb each epoch."""

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        examples = getattr(pl_module, "val_examples", [])
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger) and examples:
                logger.log_image(
                    key="val/examples",
                    images=[panel(e["image"], e["truth"], e["pred"]) for e in examples],
                    caption=["input | truth | prediction"] * len(examples),
                    step=trainer.global_step,
                )
