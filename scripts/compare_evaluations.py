"""Paired comparison of two migraseg-eval runs on the same sets, run separately.

One migraseg-eval run compares its models pairwise, but a setting that applies to every model
(``predict.tta=true``, a tile size, a post-processing change) needs two runs. Both runs'
``metrics.json`` keep every image's record, so this script recomputes each set's headline
metrics from them with the same bootstrap resamples for both, and prints B − A with paired 95 %
intervals:

    python scripts/compare_evaluations.py runs/eval_plain/metrics.json:confocal \\
        runs/eval_tta/metrics.json:confocal_tta
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from migraseg.evaluation.scoring import CellRecord, ImageRecord, MigrasomeRecord
from migraseg.evaluation.summary import paired_difference, summarize
from migraseg.metrics.bootstrap import bootstrap_weights
from migraseg.metrics.centerline import FiberScores

METRICS = ("migrasome.f1@0.5", "cell.dice", "retraction_fiber.cldice")


def records(item: dict) -> list[ImageRecord]:
    """Per-image records of one model on one set, from metrics.json."""
    return [
        ImageRecord(
            **{
                **row,
                "retraction_fiber": FiberScores(**row["retraction_fiber"]),
                "migrasome": MigrasomeRecord(**row["migrasome"]),
                "cell": CellRecord(**row["cell"]) if row["cell"] else None,
            }
        )
        for row in item["per_image"]
    ]


def load(spec: str) -> tuple[dict, str]:
    """``path:model`` → (metrics.json, model name)."""
    path, _, model = spec.rpartition(":")
    return json.loads(Path(path).read_text(encoding="utf-8")), model


def compare(a: tuple[dict, str], b: tuple[dict, str], n_bootstrap: int) -> str:
    """A markdown table of B − A per shared set (images matched by stem)."""
    (run_a, model_a), (run_b, model_b) = a, b
    lines = [
        f"| set | {' | '.join(f'{m}: A → B, Δ (95% CI)' for m in METRICS)} |",
        "|---|" + "---|" * len(METRICS),
    ]
    for name, set_b in run_b["sets"].items():
        if name not in run_a["sets"]:
            continue
        rows_a = {r.stem: r for r in records(run_a["sets"][name]["models"][model_a])}
        rows_b = records(set_b["models"][model_b])
        if sorted(rows_a) != sorted(r.stem for r in rows_b):
            raise SystemExit(f"{name}: the two runs scored different images")
        weights = bootstrap_weights(len(rows_b), n_bootstrap)
        summary_a = summarize([rows_a[r.stem] for r in rows_b], weights)
        summary_b = summarize(rows_b, weights)
        delta = paired_difference(summary_b, summary_a)
        cells = []
        for key in METRICS:
            low, high = delta[key]["ci95"]
            cells.append(
                f"{summary_a.values[key]:.3f} → {summary_b.values[key]:.3f}, "
                f"{delta[key]['delta']:+.3f} ({low:+.3f} to {high:+.3f})"
            )
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="metrics.json:model of the reference run")
    parser.add_argument("b", help="metrics.json:model of the run compared with it")
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples")
    args = parser.parse_args(argv)
    print(compare(load(args.a), load(args.b), args.bootstrap))


if __name__ == "__main__":
    main()
