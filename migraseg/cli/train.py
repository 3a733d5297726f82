"""migraseg-train: train a segmentation model (Hydra app; see configs/train.yaml)."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from migraseg.cli.help import AppHelp, handle_help
from migraseg.utils.config import CONFIG_DIR

HELP = AppHelp(
    app="migraseg-train",
    summary="train a U-Net that segments cells, retraction fibers and migrasomes.",
    examples=(
        ("migraseg-train experiment=quickstart", "what `make train` runs: simulated confocal data"),
        (
            "migraseg-train data=tiff_folder data.root=/data/my_dataset trainer=gpu",
            "your annotated images (data/README.md)",
        ),
        (
            "migraseg-train experiment=finetune init_from=outputs/<run>/model.pt "
            "data=tiff_folder data.root=/data/my_five_images",
            "fine-tune a trained model",
        ),
    ),
    config_name="train",
    groups=(
        "experiment",
        "data",
        "data/synth",
        "augment",
        "model",
        "loss",
        "optimizer",
        "scheduler",
        "trainer",
        "callbacks",
        "logger",
        "debug",
    ),
    footer=(
        "A run writes outputs/<date>/<time>/: checkpoints/, model.pt, metrics.json, report.html,",
        "training_curves.png (from the CSV log in csv/).",
        "--cfg job prints the composed config (the simulator's parameters included) without "
        "running; --help-all prints Hydra's full help. Docs: README.md, docs/.",
    ),
)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def run(cfg: DictConfig) -> float | None:
    """Train; returns the validation Dice for Hydra sweepers."""
    from migraseg.cli.errors import user_errors  # torch and Lightning: not for --help
    from migraseg.training.run import TrainingInputError, train

    with user_errors("migraseg-train", TrainingInputError):
        result = train(cfg)
    return result["trainer_metrics"].get("val/dice_fg")


def main() -> None:
    """The console script: the short help, or Hydra."""
    handle_help(HELP, Path(CONFIG_DIR))
    run()


if __name__ == "__main__":
    main()
