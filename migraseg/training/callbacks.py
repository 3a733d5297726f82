"""Callbacks specific to migraseg (Lightning's own ones are configured in configs/callbacks)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from migraseg.training.checkpointing import LAST
from migraseg.visualize import panel

log = logging.getLogger(__name__)


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


class PreemptionCheckpoint(Checkpoint):
    """On a stop signal, writes ``last.ckpt`` at the next training-batch boundary, then exits.

    The checkpoint holds the weights, optimizer, scheduler, loop counters and the position in the
    epoch's patch sequence, so a resumed run continues exactly where this one stopped.

    - ``SIGTERM`` (SLURM's time limit, preemption, ``scancel``, ``scontrol requeue``; ``kill``):
      Lightning records it (``trainer.received_sigterm``) and this callback acts on it.
    - ``defer_signals`` (default ``SIGUSR2``, submitit's early warning before the time limit):
      their handlers are held back until the checkpoint is on disk, then run (submitit then
      requeues the job), so no signal interrupts a half-done optimizer step.
    - ``SIGUSR1`` is left to Lightning's SLURM auto-requeue (checkpoint ``hpc_ckpt_<n>.ckpt``,
      ``scontrol requeue``), whose ``SIGTERM`` then brings the run here.

    As a :class:`~lightning.pytorch.callbacks.Checkpoint`, Lightning runs it after the other
    callbacks of each batch. Under DDP all ranks agree on stopping at the same batch (one
    all-reduce of a flag per step). A ``SIGTERM`` that lands during validation, or after this
    callback's turn in a batch, stops the run at Lightning's next check without a new checkpoint:
    the run then resumes from the previous one (the last epoch end).

    Args:
        defer_signals: names of signals to hold back until a checkpoint is written.
    """

    def __init__(self, defer_signals: Sequence[str] = ("SIGUSR2",)):
        self.signums = [signal.Signals[name] for name in defer_signals]
        self.received: list[int] = []
        self._original: dict[int, Any] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.received = []
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for signum in self.signums:
            self._original[signum] = signal.signal(signum, self._hold)

    def _hold(self, signum: int, frame: Any) -> None:
        self.received.append(signum)  # no logging here: a handler may interrupt the logger

    def checkpoint_path(self, trainer: L.Trainer) -> Path:
        """``<ModelCheckpoint dirpath>/last.ckpt``, else ``<default_root_dir>/checkpoints/``."""
        dirpaths = [c.dirpath for c in trainer.callbacks if isinstance(c, ModelCheckpoint)]
        dirpath = next((d for d in dirpaths if d), None)
        return Path(dirpath or Path(trainer.default_root_dir) / "checkpoints") / f"{LAST}.ckpt"

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        stop = bool(self.received) or trainer.received_sigterm
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if not stop:
            return
        path = self.checkpoint_path(trainer)
        trainer.save_checkpoint(path)
        log.warning(
            "stopped at step %d (epoch %d): checkpoint %s; rerun in the same run folder to resume",
            trainer.global_step,
            trainer.current_epoch,
            path,
        )
        held, self.received = self.received, []
        self._restore_handlers()
        for signum in held:
            handler = signal.getsignal(signum)
            if callable(handler):
                handler(signum, None)
        raise SIGTERMException

    def _restore_handlers(self) -> None:
        for signum, handler in self._original.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        self._original = {}

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._restore_handlers()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self._restore_handlers()
