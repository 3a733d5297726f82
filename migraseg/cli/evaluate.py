"""migraseg-eval: score models on annotated sets, side by side (Hydra app; configs/eval.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig, OmegaConf

from migraseg.cli.help import AppHelp, handle_help
from migraseg.utils.config import CONFIG_DIR

if TYPE_CHECKING:
    from migraseg.evaluation import EvalSet, EvaluationSettings

HELP = AppHelp(
    app="migraseg-eval",
    summary="score models against annotated images, side by side, with a report and a verdict.",
    examples=(
        (
            "migraseg-eval models=[outputs/<run>/model.pt,classical] eval/sets=[synthetic_test]",
            "a trained model beside the classical baseline",
        ),
        (
            "migraseg-eval model_path=outputs/<run>/model.pt data_root=/data/my_dataset split=test",
            "your annotated images (data/README.md)",
        ),
        (
            "migraseg-eval 'models={unet:run1/model.pt,fiji:classical}' data_root=/data/a",
            "name the models (quote the braces for the shell)",
        ),
    ),
    config_name="eval",
    groups=("eval/sets",),
    footer=(
        "Writes outputs/<date>/<time>/: metrics.json, report.md, report.html, figures/.",
        "--cfg job prints the composed config without running; --help-all prints Hydra's full "
        "help. Docs: docs/evaluation.md.",
    ),
)


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if OmegaConf.is_list(value) or isinstance(value, list | tuple) else [value]


def models_from_config(cfg: DictConfig) -> dict[str, str]:
    """``models`` (a list, or a mapping name → spec) plus ``model_path``, named uniquely."""
    from migraseg.evaluation.sources import name_models

    models = OmegaConf.to_container(cfg.models, resolve=True) if cfg.models else []
    if isinstance(models, dict):
        named = name_models(models)
        extra = name_models([cfg.model_path]) if cfg.model_path else {}
        return {**named, **{k: v for k, v in extra.items() if k not in named}}
    return name_models([*models, *_as_list(cfg.model_path)])


def sets_from_config(cfg: DictConfig) -> list[EvalSet]:
    """Named sets (``eval/sets=[...]``) followed by folders given as ``data_root``."""
    from migraseg.evaluation import EvalSet
    from migraseg.evaluation.sets import set_from_path

    named = cfg.get("eval", {}).get("sets") or {}
    sets = [
        EvalSet(
            name,
            Path(s.root),
            str(s.get("split", "test")),
            OmegaConf.to_container(s.synthesize, resolve=True) if s.get("synthesize") else None,
        )
        for name, s in named.items()
    ]
    return sets + [set_from_path(p, str(cfg.split)) for p in _as_list(cfg.data_root)]


def settings_from_config(cfg: DictConfig) -> EvaluationSettings:
    from migraseg.evaluation import EvaluationSettings, ScoringSettings, VerdictThresholds

    m = cfg.metrics
    return EvaluationSettings(
        scoring=ScoringSettings(
            fiber_tolerance_um=float(m.fiber_tolerance_um),
            size_bin_edges_um=tuple(float(e) for e in m.size_bin_edges_um),
            cell_min_area_um2=float(m.cell_min_area_um2),
        ),
        n_bootstrap=int(cfg.bootstrap.n),
        bootstrap_seed=int(cfg.bootstrap.seed),
        reference=cfg.reference,
        verdict=VerdictThresholds(**OmegaConf.to_container(cfg.verdict, resolve=True)),
    )


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def run(cfg: DictConfig) -> None:
    from migraseg.cli.errors import user_errors

    with user_errors("migraseg-eval"):
        evaluate(cfg)


def main() -> None:
    """The console script: the short help, or Hydra."""
    handle_help(HELP, Path(CONFIG_DIR))
    run()


def evaluate(cfg: DictConfig) -> None:
    from migraseg.evaluation import BaselineOptions, print_metrics, run_evaluation
    from migraseg.inference.settings import PredictSettings

    models, sets = models_from_config(cfg), sets_from_config(cfg)
    if not models or not sets:
        raise SystemExit(
            "migraseg-eval: give models (models=[model.pt,classical] or model_path=...) and sets "
            "(eval/sets=[synthetic_test,...] or data_root=/path/to/dataset)"
        )
    run = run_evaluation(
        models,
        sets,
        cfg.paths.output_dir,
        settings_from_config(cfg),
        predict=PredictSettings.from_mapping(OmegaConf.to_container(cfg.predict, resolve=True)),
        postprocess=OmegaConf.to_container(cfg.postprocess, resolve=True),
        baseline=BaselineOptions(**OmegaConf.to_container(cfg.baseline, resolve=True)),
        report=bool(cfg.report),
    )
    print_metrics(run.results)
    print(f"metrics: {run.metrics_path}")
    if run.report_paths:
        print(f"report: {run.report_paths[0]} and {run.report_paths[1].name}")


if __name__ == "__main__":
    main()
