"""Markdown tables of headline metrics with 95% intervals from migraseg-eval's metrics.json files.

One row per (set, model): migrasome F1@0.5, cell Dice and fiber clDice, each with its bootstrap
interval over images, plus the count error. Used for the README's generalisation tables:

    python scripts/generalisation_table.py outputs/eval_a/metrics.json outputs/eval_b/metrics.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = {
    "migrasome.f1@0.5": "migrasome F1@0.5",
    "cell.dice": "cell Dice",
    "retraction_fiber.cldice": "fiber clDice",
    "migrasome.count_mae": "count error / image",
}


def cell(value: float | None, interval: list[float] | None) -> str:
    """``0.93 (0.90–0.95)``, or ``–`` for a metric without a value."""
    if value is None:
        return "–"
    if not interval or interval[0] is None:
        return f"{value:.3f}"
    return f"{value:.3f} ({interval[0]:.2f}–{interval[1]:.2f})"


def rows(metrics: dict) -> list[list[str]]:
    """Table rows ``[set, images, model, metric cells ...]`` of one metrics.json."""
    out = []
    for set_name, s in metrics["sets"].items():
        for model_name, m in s["models"].items():
            values = [cell(m["headline"].get(k), m.get("ci95", {}).get(k)) for k in COLUMNS]
            out.append([set_name, str(s["n_images"]), model_name, *values])
    return out


def table(paths: list[Path]) -> str:
    """One Markdown table over every set and model of the given metrics.json files."""
    header = ["set", "images", "model", *COLUMNS.values()]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for path in paths:
        lines += ["| " + " | ".join(r) + " |" for r in rows(json.loads(path.read_text()))]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", nargs="+", type=Path, help="metrics.json files")
    print(table(parser.parse_args(argv).metrics))


if __name__ == "__main__":
    main()
