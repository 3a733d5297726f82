"""'Add to training set': one corrected plane into a dataset folder (data/README.md).

The image and the corrected mask are written with migraseg's annotation writer, and
``dataset.yaml`` is created or updated (new stems go to ``train``; existing stems keep their
split). A stem already in the folder is overwritten: adding the same plane again after more
corrections replaces it. Optionally every pixel the user left as the model predicted it is
written as 255, "not annotated", so that only what a person checked teaches the model.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from migraseg.annotations.writer import update_dataset_yaml, write_sample
from migraseg.constants import IGNORE_LABEL, NUM_CLASSES
from migraseg.data.contract import IMAGE_DTYPES


def dataset_stem(name: str, frame: int | None = None) -> str:
    """A file stem from a layer name (and plane): letters, digits, ``-`` and ``_`` only."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "image"
    return stem if frame is None else f"{stem}_t{frame:03d}"


def training_mask(corrected: np.ndarray, predicted: np.ndarray | None) -> np.ndarray:
    """The mask to write: the corrected labels, with pixels equal to the prediction set to 255
    when ``predicted`` is given.

    Raises:
        ValueError: labels other than the four classes (napari lets one paint any id).
    """
    mask = np.asarray(corrected).astype(np.uint8)
    bad = np.setdiff1d(np.unique(corrected), np.arange(NUM_CLASSES))
    if bad.size:
        raise ValueError(
            f"the labels hold ids {bad.tolist()}: paint only 0 background, 1 cell, 2 fiber, "
            "3 migrasome"
        )
    if predicted is not None:
        mask = np.where(mask == predicted, IGNORE_LABEL, mask).astype(np.uint8)
    return mask


def add_to_training_set(
    folder: str | Path,
    stem: str,
    image: np.ndarray,
    mask: np.ndarray,
    pixel_size_um: float,
    channels: list[str],
    modality: str,
) -> Path:
    """Write ``images/<stem>.tif`` and ``masks/<stem>.tif`` and update ``dataset.yaml``.

    Args:
        image: (C, Y, X) raw image (float data other than float32 is stored as float32).
        mask: (Y, X) uint8 class ids, 255 where not annotated.

    Returns:
        The dataset folder's ``dataset.yaml``.

    Raises:
        ValueError: the folder's dataset.yaml disagrees (modality, channel count) or is broken.
    """
    folder = Path(folder)
    if image.dtype not in IMAGE_DTYPES:
        image = image.astype(np.uint16 if image.dtype.kind in "ui" else np.float32)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(exist_ok=True)
    path, problems = update_dataset_yaml(
        folder, [stem], name=None, modality=modality, pixel_size_um=pixel_size_um,
        channels=channels,
    )  # fmt: skip
    if problems:
        raise ValueError("; ".join(problems))
    write_sample(folder, stem, image, pixel_size_um, mask, None, None)
    return path
