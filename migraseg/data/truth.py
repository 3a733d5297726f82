"""A sample's annotations on its own grid: class labels, migrasome instances and (optional)
cell instances, as the dataset contract (data/README.md) stores them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from migraseg.data.contract import SampleRecord, read_migrasome_instances
from migraseg.io import read_image


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
