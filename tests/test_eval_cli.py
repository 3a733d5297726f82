"""migraseg-eval from the command line: two models on two named sets, then cached parameters."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from migraseg.data.contract import load_dataset
from migraseg.data.truth import read_truth
from migraseg.evaluation.sets import EvalSet, ensure_synthesized
from migraseg.io import write_tiff

BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # compare_evaluations


def eval_cli(*overrides: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(BIN / "migraseg-eval"), *overrides], capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        raise AssertionError(f"migraseg-eval failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.slow
def test_two_models_on_two_named_sets_then_reuse_the_tuned_baseline(tiny_dataset, tmp_path):
    small = ["confocal.image_size_px=[96,96]", "confocal.pixel_size_um=[0.08,0.08]"]
    recipe = {"preset": "shifted", "n": 2, "seed": 1, "overrides": small}  # as the CLI sees it
    shifted = EvalSet("synthetic_shifted", tmp_path / "shifted", "all", recipe)
    ensure_synthesized(shifted)
    truth_folder = tmp_path / "truth_as_prediction"
    for root in (tiny_dataset, shifted.root):
        for record in load_dataset(root).samples.values():
            labels = read_truth(record).labels
            write_tiff(truth_folder / f"{record.stem}.tif", labels, record.pixel_size_um)
    sets = [
        "eval/sets=[synthetic_test,synthetic_shifted]",
        f"eval.sets.synthetic_test.root={tiny_dataset}",
        "eval.sets.synthetic_test.split=all",
        f"eval.sets.synthetic_shifted.root={tmp_path / 'shifted'}",
        "eval.sets.synthetic_shifted.synthesize.n=2",
        "eval.sets.synthetic_shifted.synthesize.workers=1",
        f"eval.sets.synthetic_shifted.synthesize.overrides=[{','.join(map(repr, small))}]",
        "bootstrap.n=100",
    ]
    first = tmp_path / "first"
    proc = eval_cli(
        f"models=[{truth_folder},classical]",
        *sets,
        "baseline.max_tune_images=3",
        f"hydra.run.dir={first}",
    )
    metrics = json.loads((first / "metrics.json").read_text())
    assert list(metrics["sets"]) == ["synthetic_test", "synthetic_shifted"]
    assert metrics["sets"]["synthetic_shifted"]["n_images"] == 2
    assert metrics["sets"]["synthetic_shifted"]["pixel_size_um"] == [0.08]
    for result in metrics["sets"].values():
        assert list(result["models"]) == ["truth_as_prediction", "classical"]
        assert result["reference"] == "classical"
        assert result["verdict"].startswith("truth_as_prediction is the best of 2 models")
    tuned = metrics["models"]["classical"]
    assert tuned["tuned_on"]["root"] == str(tiny_dataset) and len(tuned["tuned_on"]["stems"]) == 3
    report = (first / "report.md").read_text()
    assert "synthetic_shifted" in report and "synthetic_shifted" in proc.stdout

    second = tmp_path / "second"
    eval_cli(
        "models=[classical]",
        *sets,
        f"baseline.params={first / 'classical_params.json'}",
        "report=false",
        f"hydra.run.dir={second}",
    )
    again = json.loads((second / "metrics.json").read_text())
    assert again["models"]["classical"]["params"] == tuned["params"]
    assert not (second / "report.md").exists() and not (second / "classical_params.json").exists()
    before = metrics["sets"]["synthetic_test"]["models"]["classical"]["headline"]
    assert again["sets"]["synthetic_test"]["models"]["classical"]["headline"] == before

    # two runs compared afterwards (scripts/compare_evaluations.py): the headlines recomputed
    # from per-image records are the harness's, and a run against its rerun differs by nothing
    from compare_evaluations import compare, load

    table = compare(
        load(f"{first}/metrics.json:classical"), load(f"{second}/metrics.json:classical"), 100
    )
    rows = [line for line in table.splitlines() if line.startswith("| synthetic")]
    assert len(rows) == 2 and rows[0].count("+0.000 (+0.000 to +0.000)") == 3
    f1 = metrics["sets"]["synthetic_test"]["models"]["truth_as_prediction"]["headline"]
    vs_truth = compare(
        load(f"{first}/metrics.json:classical"),
        load(f"{first}/metrics.json:truth_as_prediction"),
        100,
    )
    assert f"→ {f1['migrasome.f1@0.5']:.3f}" in vs_truth.splitlines()[2]
