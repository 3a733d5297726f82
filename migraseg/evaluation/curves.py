"""Training curves from a run folder's CSV log (Lightning's CSVLogger, ``logger=default``).

Loss (training, averaged per epoch, and validation) and the validation scores against epoch,
drawn into ``training_curves.png`` in the run folder and into the evaluation report. The CSV
log needs no account and no network, unlike the W&B run beside it.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from migraseg.utils.files import atomic_path

CURVES_FILE = "training_curves.png"
# (logged key, legend); train/loss_epoch is the epoch's mean, train/loss every few steps
LOSS_KEYS = (("train/loss_epoch", "train"), ("train/loss", "train"), ("val/loss", "validation"))
# validation scores drawn, with their legend labels
SCORE_KEYS = {
    "val/dice_cell": "cell Dice",
    "val/dice_retraction_fiber": "fiber Dice",
    "val/dice_migrasome": "migrasome Dice",
    "val/f1_migrasome": "migrasome F1 @ IoU 0.5",
    "val/dice_fg": "mean foreground Dice (monitored)",
}


@dataclass
class TrainingLog:
    """Per-epoch means of each logged value: ``series[key][epoch] = value``."""

    series: dict[str, dict[int, float]] = field(default_factory=dict)

    def curve(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Epochs (0-based) and values of ``key``, sorted by epoch; empty if never logged."""
        points = sorted(self.series.get(key, {}).items())
        return np.array([e for e, _ in points], int), np.array([v for _, v in points], float)

    @property
    def n_epochs(self) -> int:
        return 1 + max((max(s) for s in self.series.values() if s), default=-1)


def metric_logs(run_dir: str | Path) -> list[Path]:
    """The CSV logs of a run folder, oldest version first (a resumed run adds a version)."""
    logs = Path(run_dir).glob("csv/version_*/metrics.csv")
    return sorted(logs, key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0))


def read_training_log(paths: list[Path]) -> TrainingLog:
    """Per-epoch means of every numeric column; a later file overrides an epoch it repeats."""
    log = TrainingLog()
    for path in paths:
        sums: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                epoch = row.get("epoch")
                if not epoch:
                    continue
                for key, text in row.items():
                    if key in ("epoch", "step") or not text:
                        continue
                    try:
                        sums[key][int(float(epoch))].append(float(text))
                    except ValueError:
                        continue
        for key, epochs in sums.items():
            target = log.series.setdefault(key, {})
            target.update({e: float(np.mean(v)) for e, v in epochs.items()})
    return log


def plot_training_curves(log: TrainingLog, path: Path, title: str = "Training") -> Path:
    """Loss (left) and validation scores (right) against epoch (1-based), as a PNG."""
    fig = Figure(figsize=(10, 3.8))
    loss_ax, score_ax = fig.subplots(1, 2)
    drawn = set()
    for key, label in LOSS_KEYS:
        epochs, values = log.curve(key)
        if len(epochs) and label not in drawn:
            loss_ax.plot(epochs + 1, values, marker="o", ms=3, label=label)
            drawn.add(label)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    for key, label in SCORE_KEYS.items():
        epochs, values = log.curve(key)
        if len(epochs):
            score_ax.plot(epochs + 1, values, marker="o", ms=3, label=label)
    score_ax.set(xlabel="epoch", ylabel="score", ylim=(0, 1.02), title="Validation")
    for ax in (loss_ax, score_ax):
        if ax.lines:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
    return path


def write_training_curves(run_dir: str | Path, path: Path | None = None) -> Path | None:
    """Draw ``run_dir``'s CSV log into ``path`` (default ``run_dir/training_curves.png``);
    None when the run has no CSV log (``logger=wandb`` or ``logger=none``) or it holds no epoch."""
    run_dir = Path(run_dir)
    logs = metric_logs(run_dir)
    if not logs:
        return None
    log = read_training_log(logs)
    if not log.n_epochs:
        return None
    title = f"Training curves: {run_dir.name} ({log.n_epochs} epochs)"
    return plot_training_curves(log, path or run_dir / CURVES_FILE, title)
