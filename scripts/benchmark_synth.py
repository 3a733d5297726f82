"""Simulator speed: images/s for 512² confocal and TEM images, in memory and written to disk.

    python scripts/benchmark_synth.py                    # 1,000 confocal + 200 TEM to disk
    python scripts/benchmark_synth.py --n 100 --n-tem 20 --workers 2

Prints a Markdown table for BENCHMARKS.md: the median time of ``make_sample`` per image in one
process, and the wall time of ``write_synthetic_dataset`` (images, masks, instances, cells and
truth tables on disk) with ``--workers`` processes. The target is 1,000 confocal 512² images
with masks in under 2 minutes on 2 cores. The load average is printed: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

from migraseg.data.synthetic import write_synthetic_dataset
from migraseg.synth.generator import make_sample
from migraseg.synth.presets import load_preset


def per_image_seconds(config, n: int) -> float:
    """Median seconds of make_sample over n images (after one warm-up)."""
    make_sample(config, 999, 0)
    times = []
    for index in range(n):
        start = time.perf_counter()
        make_sample(config, 0, index)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def dataset_seconds(config, n: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_synthetic_dataset(tmp + "/ds", n, seed=0, config=config, workers=workers)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="confocal images written")
    parser.add_argument("--n-tem", type=int, default=200, help="TEM images written")
    parser.add_argument("--n-timed", type=int, default=20, help="images timed in memory")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    rows = []
    load_before = os.getloadavg()
    for preset, n_written in (("confocal", args.n), ("tem", args.n_tem)):
        config = load_preset(preset).with_acquisition(image_size_px=(args.size, args.size))
        in_memory = per_image_seconds(config, args.n_timed)
        wall = dataset_seconds(config, n_written, args.workers)
        rows.append((preset, in_memory, n_written, wall))
    load_after = os.getloadavg()
    print(
        f"{platform.node()}: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after, "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )
    print()
    print(
        f"| preset ({args.size}²) | make_sample, 1 process (median of {args.n_timed}) | "
        f"dataset on disk, {args.workers} workers | images/s on disk |"
    )
    print("|---|---|---|---|")
    for preset, in_memory, n_written, wall in rows:
        print(
            f"| {preset} | {in_memory * 1000:.0f} ms ({1 / in_memory:.1f} images/s) | "
            f"{n_written} images in {wall:.1f} s | {n_written / wall:.1f} |"
        )


if __name__ == "__main__":
    main()
