"""Benchmark: score 100 predicted 1024² images against their truth (metrics only).

Simulates a dataset once (cached in --data), writes perturbed truth masks as the "model's"
label TIFFs (objects shifted by a pixel, every tenth migrasome dropped, a few false ones
added), then times migraseg's evaluation harness on that folder, metrics.json included and
the report excluded; the report is timed separately once.

    python scripts/benchmark_eval.py --n 100 --size 1024 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from skimage.draw import disk

from migraseg.constants import MIGRASOME
from migraseg.data.contract import load_dataset
from migraseg.data.synthetic import write_synthetic_dataset
from migraseg.data.truth import read_truth
from migraseg.evaluation.harness import EvaluationSettings
from migraseg.evaluation.pipeline import run_evaluation
from migraseg.evaluation.sets import EvalSet
from migraseg.io import write_tiff
from migraseg.synth.params import SynthConfig


def prepare(root: Path, n: int, size: int, pixel_size: float, workers: int) -> tuple[Path, Path]:
    """The dataset and a folder of perturbed predictions, created once."""
    data, pred = root / "data", root / "predictions"
    if not (data / "dataset.yaml").exists():
        config = SynthConfig()
        optics = replace(
            config.confocal, image_size_px=(size, size), pixel_size_um=(pixel_size, pixel_size)
        )
        write_synthetic_dataset(
            data, n, seed=11, config=replace(config, confocal=optics), workers=workers
        )
    spec = load_dataset(data)
    rng = np.random.default_rng(0)
    for record in spec.samples.values():
        target = pred / f"{record.stem}_labels.tif"
        if target.exists():
            continue
        truth = read_truth(record)
        labels = np.roll(truth.labels, 1, axis=1)
        dropped = np.roll(truth.migrasome_ids % 10 == 1, 1, axis=1) & (labels == MIGRASOME)
        labels[dropped] = 0
        for _ in range(3):
            centre = tuple(rng.integers(0, size, 2))
            labels[disk(centre, rng.uniform(5, 15), shape=labels.shape)] = MIGRASOME
        write_tiff(target, labels, record.pixel_size_um)
    return data, pred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--pixel-size", type=float, default=0.05, help="µm (dense scenes)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="simulation only")
    parser.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "migraseg_bench_eval"))
    args = parser.parse_args()

    root = Path(args.data) / f"n{args.n}_s{args.size}_p{args.pixel_size:g}"
    data, pred = prepare(root, args.n, args.size, args.pixel_size, args.workers)
    sets = [EvalSet("bench", data, "all")]
    models = {"perturbed_truth": str(pred)}
    settings = EvaluationSettings(progress=False)
    seconds, run = [], None
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.repeats):
            start = time.perf_counter()
            run = run_evaluation(models, sets, out, settings, report=False)
            seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_evaluation(models, sets, out, settings, report=True)
        with_report = time.perf_counter() - start
    result = run.metrics["sets"]["bench"]["models"]["perturbed_truth"]
    summary = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "images": args.n,
        "size_px": args.size,
        "pixel_size_um": args.pixel_size,
        "true_migrasomes": result["classes"]["migrasome"]["n_true"],
        "metrics_only_s": [round(s, 2) for s in seconds],
        "metrics_only_median_s": round(statistics.median(seconds), 2),
        "per_image_ms": round(1000 * statistics.median(seconds) / args.n, 1),
        "with_report_s": round(with_report, 2),
        "migrasome_f1": round(result["headline"]["migrasome.f1@0.5"], 3),
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
