"""Annotated sets to evaluate on: a dataset folder (data/README.md contract) and a split.

Sets are named in the Hydra group ``configs/eval/sets/`` or given as paths. A set may carry a
``synthesize`` recipe: if its folder has no ``dataset.yaml`` yet, the simulator writes it first,
so a shifted synthetic benchmark is reproducible from its config alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migraseg.data.contract import DatasetSpec, SampleRecord, load_dataset, read_dataset_yaml


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


def is_simulated(root: str | Path) -> bool:
    """True for a dataset migraseg's simulator wrote (its dataset.yaml records a ``synthesis``)."""
    info, _ = read_dataset_yaml(Path(root))
    return "synthesis" in info
