"""Annotated sets to evaluate on: a dataset folder (data/README.md contract) and a split.

Sets are named in the Hydra group ``configs/eval/sets/`` or given as paths. A set may carry a
``synthesize`` recipe: if its folder has no ``dataset.yaml`` yet, the simulator writes it first,
so a shifted synthetic benchmark is reproducible from its config alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from migraseg.data.contract import DatasetSpec, SampleRecord, load_dataset, read_migrasome_instances
from migraseg.io import read_image


@dataclass(frozen=True)
class EvalSet:
    """One annotated set: ``root`` folder, ``split`` (train, val, test or all), display name."""

    name: str
    root: Path
    split: str = "test"
    synthesize: dict[str, Any] | None = field(default=None, compare=False)


def ensure_synthesized(eval_set: EvalSet) -> None:
    """Simulate the set's folder from its ``synthesize`` recipe when it does not exist yet
    (:func:`~migraseg.data.synthetic.ensure_synthetic_dataset`; recipe keys ``n``, ``seed``,
    ``preset``, ``overrides``, ``workers``).

    Raises:
        ValueError: the folder holds a simulated set made from another recipe.
    """
    if eval_set.synthesize:
        from migraseg.data.synthetic import ensure_synthetic_dataset  # the simulator: only here

        ensure_synthetic_dataset(eval_set.root, eval_set.synthesize)


def set_from_path(path: str | Path, split: str) -> EvalSet:
    """A set given as a folder; named ``<folder>/<split>``."""
    path = Path(path)
    return EvalSet(f"{path.name}/{split}", path, split)


def open_set(eval_set: EvalSet) -> tuple[DatasetSpec, list[SampleRecord]]:
    """Validate the set's dataset (simulating it first if it has a recipe) and list its split."""
    ensure_synthesized(eval_set)
    spec = load_dataset(eval_set.root)
    records = spec.split(eval_set.split)
    if not records:
        raise ValueError(f"{eval_set.root}: split {eval_set.split!r} is empty")
    return spec, records


@dataclass
class Truth:
    """Annotations of one sample on its own grid."""

    labels: np.ndarray  # (Y, X) class ids
    migrasome_ids: np.ndarray  # (Y, X) instance ids
    cell_ids: np.ndarray | None  # (Y, X) cell instance ids, when the dataset has cells/


def cells_path(record: SampleRecord) -> Path:
    """``cells/<stem>.tif`` beside the sample's ``masks/`` (optional in the contract)."""
    return record.mask_path.parent.parent / "cells" / f"{record.stem}.tif"


def read_truth(record: SampleRecord) -> Truth:
    """Masks of a sample; migrasome instances from ``instances/`` when given, else the
    connected components of the migrasome class."""
    labels = read_image(record.mask_path)[0]
    ids = read_migrasome_instances(record, labels)
    cells = None
    path = cells_path(record)
    if path.is_file():
        cells = read_image(path)[0]
        if cells.shape != labels.shape:
            raise ValueError(f"{path}: shape {cells.shape} != mask shape {labels.shape}")
    return Truth(labels, ids, cells)
