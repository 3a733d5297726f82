"""The fine-tune run the widget starts: the command, and the epoch lines it reads back.

The widget runs ``migraseg-train experiment=finetune init_from=<model> data=tiff_folder
data.root=<folder>`` (docs/finetuning.md) in a child process, with the run folder fixed
(``hydra.run.dir``) so that it knows where ``model.pt`` will be, and with :class:`EpochLine`
added as a callback: after every training epoch it prints one line, ``migraseg-epoch 3/20``,
which the widget turns into progress. This module imports no Qt (the callback runs in the
training process).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import lightning as L

EPOCH_LINE = re.compile(r"^migraseg-epoch (\d+)/(\d+)$")
CALLBACK = "+callbacks.napari_epochs._target_=migraseg.napari.finetune.EpochLine"


class EpochLine(L.Callback):
    """Prints ``migraseg-epoch <done>/<max>`` to stdout after each training epoch."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            print(f"migraseg-epoch {trainer.current_epoch + 1}/{trainer.max_epochs}", flush=True)


def finetune_command(
    init_from: Path, dataset: Path, run_dir: Path, extra: Sequence[str] = ()
) -> list[str]:
    """The fine-tune command line, run with this Python (the widget's environment)."""
    return [
        sys.executable, "-m", "migraseg.cli.train", "experiment=finetune",
        f"init_from={init_from}", "data=tiff_folder", f"data.root={dataset}",
        f"hydra.run.dir={run_dir}", CALLBACK, *extra,
    ]  # fmt: skip


def parse_epoch(line: str) -> tuple[int, int] | None:
    """``(done, max)`` of an epoch line, None for any other output line."""
    found = EPOCH_LINE.match(line.strip())
    return (int(found[1]), int(found[2])) if found else None


def finished_model(run_dir: Path) -> Path | None:
    """The model a finished run exported (``model.pt``), or None."""
    path = run_dir / "model.pt"
    return path if path.is_file() else None
