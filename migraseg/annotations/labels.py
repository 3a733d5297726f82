"""napari Labels layers saved as TIFF (semantic or instance) to a class mask.

- Semantic: values in {0, 1, 2, 3, 255} (the class ids, 255 = not annotated) are kept as they are.
- Instance: every non-zero id is one object of the class given by ``--instance-class``. Without
  that flag, a file with values outside {0, 1, 2, 3, 255} is refused with a message: its ids
  could be anything. Ids 1–3 alone look like class ids, so instance images with at most three
  objects need the flag.

napari's label 0 means "not painted": it becomes background, or 255 (not annotated) with
``--unannotated-as-ignore``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from migraseg.annotations.classes import NOT_ANNOTATED
from migraseg.constants import CELL, CLASS_NAMES, MIGRASOME, NUM_CLASSES
from migraseg.io import ImageReadError, read_image

SEMANTIC_VALUES = frozenset(range(NUM_CLASSES)) | {NOT_ANNOTATED}


def read_labels(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A (Y, X) integer label image of the given shape (singleton axes dropped).

    Raises:
        ValueError: unreadable, not integer, or another shape; the message names the file.
    """
    try:
        labels, _ = read_image(path)
    except ImageReadError as err:
        raise ValueError(str(err)) from err
    labels = np.squeeze(labels)
    if labels.dtype.kind not in "uib":
        raise ValueError(f"{path}: dtype {labels.dtype}; a labels image holds integers")
    if labels.shape != tuple(shape):
        raise ValueError(f"{path}: shape {labels.shape} does not match its image's Y×X {shape}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"{path}: negative labels")
    return labels


def labels_to_mask(
    labels: np.ndarray, instance_class: int | None, unannotated: int, source: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(mask, migrasome_ids, cell_ids)`` from a napari labels image.

    Args:
        labels: (Y, X) integers ≥ 0.
        instance_class: the class of every non-zero id, or None for a semantic image.
        unannotated: the value of label 0 (0 = background, or 255 = not annotated).

    Raises:
        ValueError: instance ids without ``instance_class``; the message names ``source``.
    """
    if instance_class is None:
        values = set(np.unique(labels).tolist())
        if not values <= SEMANTIC_VALUES:
            extra = sorted(values - SEMANTIC_VALUES)
            shown = ", ".join(map(str, extra[:5])) + (", …" if len(extra) > 5 else "")
            raise ValueError(
                f"{source}: values {shown} are not class ids (0–3, 255); if these are instance "
                f"labels, pass --instance-class (e.g. --instance-class migrasome)"
            )
        mask = labels.astype(np.uint8)
        if unannotated != 0:
            mask[labels == 0] = unannotated
        return mask, None, None
    objects = labels > 0
    mask = np.where(objects, np.uint8(instance_class), np.uint8(unannotated))
    ids = labels.astype(np.uint16 if labels.max(initial=0) < 2**16 else np.uint32)
    ids[~objects] = 0
    if instance_class == MIGRASOME:
        return mask, ids, None
    if instance_class == CELL:
        return mask, None, ids
    return mask, None, None


def describe_instance_class(instance_class: int | None) -> str:
    return "semantic" if instance_class is None else f"instances of {CLASS_NAMES[instance_class]}"
