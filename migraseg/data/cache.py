"""Preprocessed samples held in RAM or memory-mapped from a cache of ``.npy`` files.

Decoding a TIFF, rescaling it to the model's pixel size and normalising it is done once. With
``cache="ram"`` every process (each DDP rank; DataLoader workers share it copy-on-write) keeps its
own arrays. With ``cache="memmap"`` the preprocessed arrays are written once to ``cache_dir`` and
memory-mapped: all ranks and workers of a node share one copy in the page cache, start-up after
the first run skips the decoding, and datasets larger than RAM still train.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from migraseg.data.contract import SampleRecord
from migraseg.data.dataset import LoadedSample, load_sample
from migraseg.utils.files import atomic_path

CACHE_MODES = ("ram", "memmap")
CACHE_VERSION = 2  # bump when preprocessing changes, so stale caches are not reused


def cache_key(
    record: SampleRecord, pixel_size_um: float | None, percentiles: tuple[float, float]
) -> str:
    """A digest of everything the preprocessed arrays depend on (files, their sizes and times)."""
    files = (record.image_path, record.mask_path)
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    payload = [CACHE_VERSION, stats, record.pixel_size_um, pixel_size_um, list(percentiles)]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:20]


def memmap_sample(
    record: SampleRecord,
    cache_dir: Path,
    pixel_size_um: float | None,
    percentiles: tuple[float, float],
) -> LoadedSample:
    """The preprocessed sample, memory-mapped read-only; computed and written atomically if absent.

    Several processes may build the same entry at once: each writes a complete file under a
    temporary name and renames it, so readers never see a partial array.
    """
    stem = f"{record.stem}-{cache_key(record, pixel_size_um, percentiles)}"
    image_path, mask_path = cache_dir / f"{stem}.image.npy", cache_dir / f"{stem}.mask.npy"
    target = float(pixel_size_um or record.pixel_size_um)
    if not (image_path.exists() and mask_path.exists()):
        sample = load_sample(record, pixel_size_um, percentiles)
        for path, array in ((mask_path, sample.mask), (image_path, sample.image)):
            with atomic_path(path) as tmp:
                np.save(tmp, array)
    return LoadedSample(
        record.stem,
        np.load(image_path, mmap_mode="r"),
        np.load(mask_path, mmap_mode="r"),
        target,
    )


def load_samples(
    records: Sequence[SampleRecord],
    pixel_size_um: float | None,
    percentiles: tuple[float, float],
    cache: str = "ram",
    cache_dir: str | Path | None = None,
) -> list[LoadedSample]:
    """Preprocessed samples, in RAM (``cache="ram"``) or memory-mapped from ``cache_dir``."""
    if cache not in CACHE_MODES:
        raise ValueError(f"data.cache must be one of {CACHE_MODES}, got {cache!r}")
    if cache == "ram":
        return [load_sample(r, pixel_size_um, percentiles) for r in records]
    if cache_dir is None:
        raise ValueError("data.cache=memmap needs data.cache_dir (a folder for .npy files)")
    return [memmap_sample(r, Path(cache_dir), pixel_size_um, percentiles) for r in records]
