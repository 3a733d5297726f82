"""migraseg-eval: score a model on an annotated dataset (Hydra app; see configs/eval.yaml)."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from migraseg.data.contract import load_dataset
from migraseg.evaluation.harness import evaluate_split, print_metrics, write_metrics
from migraseg.inference.predictor import Predictor
from migraseg.utils.config import CONFIG_DIR


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    predictor = Predictor.from_path(cfg.model_path, **cfg.predict)
    spec = load_dataset(cfg.data_root)
    metrics = evaluate_split(predictor, spec, cfg.split)
    name = f"{spec.name}/{cfg.split}"
    path = write_metrics(
        {"model": str(cfg.model_path), "sets": {name: metrics}},
        Path(cfg.paths.output_dir) / "metrics.json",
    )
    print_metrics({name: metrics})
    print(f"metrics: {path}")


if __name__ == "__main__":
    main()
