"""Training-patch throughput of the data pipeline: patches/s by worker count and cache mode.

Builds the training DataLoader exactly as ``migraseg-train`` does (data and augment configs,
``+`` any overrides), then times batches after the first (worker start-up is reported apart).
Also times the set-up: decoding into RAM, building the memory-map cache, and reusing it.

    python scripts/benchmark_dataloader.py --data data/synthetic_confocal --workers 0 1 2
    python scripts/benchmark_dataloader.py --data /data/set --batches 50 data.patch_size=256
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from migraseg.data.synthetic import write_synthetic_dataset
from migraseg.utils.config import CONFIG_DIR


def build_datamodule(data: Path, overrides: list[str], **loader: object):
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose("train", [f"data.root={data}", "data.synthesize=null", *overrides])
    return instantiate(cfg.data, **loader), cfg


def time_setup(data: Path, overrides: list[str], **loader: object) -> tuple[object, float]:
    start = time.perf_counter()
    datamodule, _ = build_datamodule(data, overrides, **loader)
    datamodule.setup("fit")
    return datamodule, time.perf_counter() - start


def patches_per_second(datamodule, batches: int, repeats: int) -> tuple[float, float]:
    """Median patches/s over ``repeats`` epochs (first batch excluded), and the first batch's s."""
    rates, first = [], []
    for epoch in range(repeats):
        loader = datamodule.train_dataloader()
        loader.sampler.set_epoch(epoch)
        start = time.perf_counter()
        iterator = iter(loader)
        next(iterator)
        first.append(time.perf_counter() - start)
        start, n = time.perf_counter(), 0
        for _, (images, _) in zip(range(batches), iterator, strict=False):
            n += images.shape[0]
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates), statistics.median(first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="dataset folder (default: simulate 8 images)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cache", nargs="+", default=["ram", "memmap"])
    parser.add_argument("--batches", type=int, default=20, help="timed batches per epoch")
    parser.add_argument("--repeats", type=int, default=3, help="epochs timed (median)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. data.patch_size=256")
    args = parser.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or write_synthetic_dataset(Path(tmp) / "synth", n=8, seed=0)
        samples = args.batches + 1  # per epoch: the untimed first batch and the timed ones
        results = []
        time_setup(data, args.overrides)  # warm-up: imports and first-use costs, untimed
        for cache in args.cache:
            cache_dir = Path(tmp) / "cache"
            datamodule, setup_s = time_setup(data, args.overrides, cache=cache, cache_dir=cache_dir)
            reuse_s = time_setup(data, args.overrides, cache=cache, cache_dir=cache_dir)[1]
            for workers in args.workers:
                datamodule.num_workers = workers
                datamodule.samples_per_epoch = samples * datamodule.batch_size
                rate, first = patches_per_second(datamodule, args.batches, args.repeats)
                row = {
                    "cache": cache,
                    "workers": workers,
                    "patches_per_s": round(rate, 1),
                    "per_worker": round(rate / max(workers, 1), 1),
                    "first_batch_s": round(first, 2),
                    "setup_s": round(setup_s, 2),
                    "setup_again_s": round(reuse_s, 2),
                }
                results.append(row)
                print(json.dumps(row), flush=True)
        _, cfg = build_datamodule(data, args.overrides)

    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}; patch {cfg.data.patch_size}², batch {cfg.data.batch_size}, "
        f"augmentation {'on' if cfg.data.augment else 'off'}, "
        f"{args.batches} batches × {args.repeats} epochs\n"
    )
    print("| cache | workers | patches/s | per worker | first batch (s) | setup (s) | again (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['cache']} | {r['workers']} | {r['patches_per_s']} | {r['per_worker']} | "
            f"{r['first_batch_s']} | {r['setup_s']} | {r['setup_again_s']} |"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
