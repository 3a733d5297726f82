"""evaluation.pipeline: the classical baseline on a dataset that has nothing to tune on."""

import logging
import shutil

import yaml

from migraseg.baseline import ClassicalParams
from migraseg.evaluation.pipeline import run_evaluation
from migraseg.evaluation.sets import EvalSet


def test_classical_on_a_test_only_dataset_runs_untuned_with_a_warning(
    tiny_dataset, tmp_path, caplog
):
    root = shutil.copytree(tiny_dataset, tmp_path / "test_only")
    info = yaml.safe_load((root / "dataset.yaml").read_text())
    stems = sorted(p.stem for p in (root / "images").glob("*.tif"))[:2]
    info["splits"] = {"test": stems}  # no train split: nothing to tune on
    (root / "dataset.yaml").write_text(yaml.safe_dump(info))
    with caplog.at_level(logging.WARNING, logger="migraseg.evaluation.pipeline"):
        run = run_evaluation(
            {"classical": "classical"}, [EvalSet("t", root, "test")], tmp_path / "out", report=False
        )
    assert "no 'train' split to tune the classical baseline on" in caplog.text
    described = run.metrics["models"]["classical"]
    assert described["params"] == ClassicalParams().to_dict()
    assert described["params_source"] == "defaults"
    assert run.metrics["sets"]["t"]["n_images"] == 2
