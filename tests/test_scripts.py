"""The study scripts' table: metrics.json in, a Markdown row per set and model with intervals."""

import json
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
