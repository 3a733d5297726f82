"""The study scripts: the table (metrics.json in, a Markdown row per set and model with
intervals) and the tracking evaluation on true masks or a model."""

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from generalisation_table import cell, table


def test_cells_show_a_value_with_its_interval_or_a_dash():
    assert cell(0.9123, [0.88, 0.94]) == "0.912 (0.88–0.94)"
    assert cell(0.5, None) == "0.500"
    assert cell(None, None) == "–"


def test_table_has_one_row_per_set_and_model(tmp_path):
    headline = {"migrasome.f1@0.5": 0.9, "cell.dice": 0.95, "retraction_fiber.cldice": 0.7}
    models = {
        "unet": {"headline": {**headline, "migrasome.count_mae": 1.0}, "ci95": {}},
        "classical": {"headline": {"migrasome.f1@0.5": 0.1}, "ci95": {}},
    }
    metrics = {"sets": {"family_rim": {"n_images": 24, "models": models}}}
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(metrics))
    lines = table([path]).splitlines()
    assert len(lines) == 4 and lines[0].startswith("| set | images | model |")
    assert lines[2] == "| family_rim | 24 | unet | 0.900 | 0.950 | 0.700 | 1.000 |"
    assert lines[3] == "| family_rim | 24 | classical | 0.100 | – | – | – |"


def run_evaluate_tracking(*args: str) -> dict:
    script = Path(__file__).resolve().parents[1] / "scripts" / "evaluate_tracking.py"
    common = ["--n", "1", "--frames", "4", "--size", "96", "--seed", "3"]
    done = subprocess.run(
        [sys.executable, str(script), *common, *args], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_evaluate_tracking_scores_true_masks_and_a_model_with_its_segmenting_time(trained):
    truth = run_evaluate_tracking()
    assert truth["segmented_by"] == "true masks" and truth["segment_seconds"] == 0
    assert truth["idf1"] > 0.9 and truth["id_switches"] == 0
    model = run_evaluate_tracking("--model", str(trained["model_path"]))
    assert model["segmented_by"] == str(trained["model_path"]) and model["segment_seconds"] > 0
    assert model["frames"] == 4 and model["true_links"] == truth["true_links"] > 0
    assert 0 <= model["idf1"] <= 1
