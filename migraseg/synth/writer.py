"""Write simulated images as a dataset folder in the data/README.md contract."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from migraseg.data.contract import make_splits, write_dataset_yaml
from migraseg.io import write_tiff
from migraseg.synth.generator import make_sample
from migraseg.synth.params import SynthConfig
from migraseg.utils.files import write_text_atomic


def _write_one(out: Path, config: SynthConfig, seed: int, index: int) -> str:
    stem = f"synth_{seed}_{index:05d}"
    sample = make_sample(config, seed, index)
    size = sample.pixel_size_um
    write_tiff(out / "images" / f"{stem}.tif", sample.image, size, axes="CYX")
    write_tiff(out / "masks" / f"{stem}.tif", sample.mask, size)
    write_tiff(out / "instances" / f"{stem}.tif", sample.migrasome_ids, size)
    write_tiff(out / "cells" / f"{stem}.tif", sample.cell_ids, size)
    write_text_atomic(out / "truth" / f"{stem}.json", json.dumps(sample.truth, indent=1))
    return stem


def write_synthetic_dataset(
    out: str | Path,
    n: int,
    seed: int = 0,
    config: SynthConfig | None = None,
    workers: int = 1,
    name: str | None = None,
) -> Path:
    """Simulate ``n`` images into ``out`` (created) and write its ``dataset.yaml`` last.

    ``dataset.yaml`` is written only when every image is on disk, so its presence marks a
    complete dataset (``make train`` uses it as the cache marker).
    """
    out = Path(out)
    config = config or SynthConfig()
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            stems = list(pool.map(_write_one, [out] * n, [config] * n, [seed] * n, range(n)))
    else:
        stems = [_write_one(out, config, seed, i) for i in range(n)]
    optics = config.confocal
    write_dataset_yaml(
        out,
        {
            "name": name or out.name,
            "modality": config.modality,
            "pixel_size_um": float(sum(optics.pixel_size_um) / 2),
            "channels": ["tspan4"],
            "description": f"migraseg simulator, seed {seed}, {n} images",
            "splits": make_splits(stems, seed),
            "simulator": asdict(config),
        },
    )
    return out
