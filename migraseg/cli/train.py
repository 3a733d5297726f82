"""migraseg-train: train a segmentation model (Hydra app; see configs/train.yaml)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from migraseg.cli.errors import user_errors
from migraseg.training.run import TrainingInputError, train
from migraseg.utils.config import CONFIG_DIR


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Train; returns the validation Dice for Hydra sweepers."""
    with user_errors("migraseg-train", TrainingInputError):
        result = train(cfg)
    return result["trainer_metrics"].get("val/dice_fg")


if __name__ == "__main__":
    main()
