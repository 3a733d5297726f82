"""Split one migraseg-predict run into N shards: processes, GPUs, SLURM array tasks.

A shard ``K/N`` (1-based) takes every N-th output stem of the run's inputs, so that the N
shards are disjoint, cover every input, and two inputs that would write the same outputs land
in the same shard (where the usual "would overwrite" check catches them). Shards can share one
``--out``: each keeps its own manifest and summary file there (:func:`manifest_name`,
:func:`summary_name`), and a later run without ``--shard`` over the same inputs reads them all,
skips what is done and writes the merged ``summary.csv``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SHARD_PATTERN = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
MANIFEST_STEM = ".migraseg-manifest"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1 ≤ index ≤ count)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` → Shard(K, N).

        Raises:
            ValueError: not of the form K/N with 1 ≤ K ≤ N (the message says which).
        """
        match = SHARD_PATTERN.fullmatch(text)
        if not match:
            raise ValueError(f"{text!r} is not K/N (e.g. 1/4: the first of four shards)")
        index, count = int(match[1]), int(match[2])
        if count < 1 or not 1 <= index <= count:
            raise ValueError(f"{text!r}: K must be between 1 and N (shards are 1-based)")
        return cls(index, count)

    @property
    def tag(self) -> str:
        return f"{self.index}-of-{self.count}"

    def select(self, paths: Sequence[Path], stem_of) -> list[Path]:
        """This shard's ``paths``: those whose output stem (``stem_of(path)``) is at position
        ``index - 1`` modulo ``count`` among the run's stems in sorted order."""
        stems = sorted({stem_of(p) for p in paths})
        mine = set(stems[self.index - 1 :: self.count])
        return [p for p in paths if stem_of(p) in mine]


def manifest_name(shard: Shard | None) -> str:
    """The manifest a run writes: the folder's own, or one per shard."""
    return f"{MANIFEST_STEM}.json" if shard is None else f"{MANIFEST_STEM}.shard-{shard.tag}.json"


def manifest_files(out_dir: Path) -> list[Path]:
    """Every manifest in ``out_dir``: the folder's own first, then the shards' (sorted)."""
    main = out_dir / manifest_name(None)
    shards = sorted(out_dir.glob(f"{MANIFEST_STEM}.shard-*.json"))
    return [main, *shards] if main.is_file() else shards


def summary_name(shard: Shard | None) -> str:
    """``summary.csv`` for a whole run, ``summary.shard-K-of-N.csv`` for a shard."""
    return "summary.csv" if shard is None else f"summary.shard-{shard.tag}.csv"


def shard_per_gpu(argv: Sequence[str], n_gpus: int) -> list[subprocess.Popen]:
    """Start ``migraseg-predict argv --shard i/n`` on each of ``n_gpus`` GPUs (one process per
    GPU, each seeing only its own through ``CUDA_VISIBLE_DEVICES``)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = visible.split(",") if visible else [str(i) for i in range(n_gpus)]
    processes = []
    for i, gpu in enumerate(ids[:n_gpus], start=1):
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
        command = [sys.executable, "-m", "migraseg.cli.predict", *argv, "--shard", f"{i}/{n_gpus}"]
        processes.append(subprocess.Popen(command, env=env))
    return processes
