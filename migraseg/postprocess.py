"""From semantic labels to object instances: the decoding that counts and sizes depend on.

Every step works on one connected component at a time, inside its bounding box, so the cost
follows the objects' area rather than the image's (1024² images with a few dozen migrasomes
decode in milliseconds, not seconds).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import label
from skimage.morphology import h_maxima
from skimage.segmentation import relabel_sequential, watershed

from migraseg.constants import BACKGROUND, CELL, MIGRASOME, MIGRASOME_POSTPROCESS

EIGHT_CONNECTED = np.ones((3, 3), bool)
MIN_CELL_AREA_UM2 = 5.0  # smaller cell-class components are specks (see cell_instances)


def grown_box(box: tuple[slice, ...], margin: int, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """``box`` widened by ``margin`` px on every side, clipped to ``shape``."""
    return tuple(
        slice(max(0, b.start - margin), min(n, b.stop + margin))
        for b, n in zip(box, shape, strict=True)
    )


def _split_component(obj: np.ndarray, split_h_px: float) -> np.ndarray:
    """Instance ids (1..n) of one connected binary object, split at distance-map necks."""
    if split_h_px <= 0:
        return obj.astype(np.int32)
    distance = ndi.distance_transform_edt(obj)
    if distance.max() <= split_h_px + 1:  # too thin to hold two maxima split_h deep
        return obj.astype(np.int32)
    markers = label(h_maxima(distance, split_h_px) & obj)
    if markers.max() < 2:
        return obj.astype(np.int32)
    return watershed(-distance, markers, mask=obj).astype(np.int32)


def _component_boxes(binary: np.ndarray) -> tuple[np.ndarray, list[tuple[slice, slice]]]:
    """8-connected components and their bounding boxes grown by one pixel (inside the image)."""
    components, _ = ndi.label(binary, structure=EIGHT_CONNECTED)
    return components, [grown_box(box, 1, binary.shape) for box in ndi.find_objects(components)]


def decode_instances(
    binary: np.ndarray, min_area_px: float = 0.0, split_h_px: float = 0.0
) -> np.ndarray:
    """Instances of a binary mask: holes filled, small objects dropped, touching objects split.

    Holes are filled per object (large migrasomes image as rings). Objects whose filled area is
    below ``min_area_px`` are dropped. Within an object, maxima of the distance to the background
    deeper than ``split_h_px`` seed separate instances (watershed): two touching discs meet at a
    neck where the distance dips, shallower dips are noise.

    Shape: binary (Y, X) bool → (Y, X) int32 instance ids 1..n, 0 = none.
    """
    components, boxes = _component_boxes(binary)
    out = np.zeros(binary.shape, np.int32)
    next_id = 1
    for index, box in enumerate(boxes, start=1):
        if (box[0].stop - box[0].start) * (box[1].stop - box[1].start) < min_area_px:
            continue  # even filled, the object is smaller than its box
        obj = ndi.binary_fill_holes(components[box] == index)
        if obj.sum() < min_area_px:
            continue
        parts = _split_component(obj, split_h_px)
        target = out[box]
        target[parts > 0] = parts[parts > 0] + (next_id - 1)
        next_id += int(parts.max())
    return out


def _probability_scale(probability: np.ndarray) -> float:
    """What a probability of 1 reads as in ``probability``: maps come as floats in [0, 1] or as
    uint8 × 255 (the predictor's compact form)."""
    return 255.0 if probability.dtype == np.uint8 else 1.0


def migrasome_pixels(
    labels: np.ndarray,
    probability: np.ndarray | None,
    min_probability: float = MIGRASOME_POSTPROCESS["min_probability"],
) -> np.ndarray:
    """Pixels decoded as migrasome: those the network finds likeliest to be one and, below 0.5,
    those whose migrasome probability reaches ``min_probability`` though another class is
    likelier. On images unlike its training images the network grows unsure of real
    migrasomes first, and the most likely class loses them; a lower threshold finds them but
    grows every migrasome (docs/results.md, "Pixels below the likeliest class").

    Shape: labels (Y, X) class ids, probability (Y, X) in [0, 1] or uint8 × 255 → (Y, X) bool.
    """
    binary = labels == MIGRASOME
    if min_probability >= 0.5:  # a probability of 0.5 or more is the likeliest class already
        return binary
    if probability is None:
        raise ValueError(f"min_probability={min_probability} needs the migrasome probability map")
    return binary | (probability >= min_probability * _probability_scale(probability))


def migrasome_instances(
    labels: np.ndarray,
    pixel_size_um: float,
    min_diameter_um: float = MIGRASOME_POSTPROCESS["min_diameter_um"],
    split_h_um: float = MIGRASOME_POSTPROCESS["split_h_um"],
    min_score: float = MIGRASOME_POSTPROCESS["min_score"],
    probability: np.ndarray | None = None,
    min_probability: float = MIGRASOME_POSTPROCESS["min_probability"],
) -> np.ndarray:
    """Instances of the migrasome class in a semantic label image.

    Pixels are chosen by :func:`migrasome_pixels`, holes are filled, objects smaller than a disc
    of ``min_diameter_um`` are dropped, touching migrasomes are split
    (:func:`decode_instances`), and objects whose mean migrasome ``probability`` is below
    ``min_score`` are dropped (:func:`drop_unsure`).

    Shape: labels (Y, X) class ids, probability (Y, X) in [0, 1] or uint8 × 255 → (Y, X) int32
    instance ids 1..n, 0 = none.
    """
    binary = migrasome_pixels(labels, probability, min_probability)
    ids = decode_migrasome_pixels(binary, pixel_size_um, min_diameter_um, split_h_um)
    return drop_unsure(ids, probability, min_score)


def decode_migrasome_pixels(
    binary: np.ndarray, pixel_size_um: float, min_diameter_um: float, split_h_um: float
) -> np.ndarray:
    """:func:`decode_instances` of migrasome pixels, its sizes given in µm: objects smaller than
    a disc ``min_diameter_um`` across dropped, necks ``split_h_um`` deep split.

    Shape: binary (Y, X) bool → (Y, X) int32 instance ids 1..n, 0 = none.
    """
    min_area_px = np.pi * (min_diameter_um / pixel_size_um / 2) ** 2
    return decode_instances(binary, min_area_px, split_h_um / pixel_size_um)


def drop_unsure(ids: np.ndarray, probability: np.ndarray | None, min_score: float) -> np.ndarray:
    """``ids`` without the objects whose mean probability is below ``min_score``, renumbered
    1..n: the network may call a dim punctum migrasome by a hair, pixel by pixel, while being
    unsure of it as a whole (docs/evaluation.md, "Decoding"). A ``min_score`` of 0 or less keeps
    every object and needs no probabilities (label files carry none).

    Shape: ids (Y, X) int, probability (Y, X) in [0, 1], or uint8 meaning probability × 255.
    """
    if min_score <= 0:
        return ids
    if probability is None:
        raise ValueError(f"min_score={min_score} needs the migrasome probability map")
    if not ids.any():
        return ids
    scores = object_scores(ids, probability)
    kept = np.concatenate([[0], np.where(scores >= min_score, np.arange(1, len(scores) + 1), 0)])
    return relabel_sequential(kept[ids])[0].astype(np.int32)


def object_scores(ids: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """Each object's ``score``, its mean probability over its pixels: the one definition that
    ``min_score`` filters on and the migrasome tables report.

    Shape: ids (Y, X) int ids 1..n, probability (Y, X) in [0, 1] or uint8 × 255 → (n,) float64.
    """
    means = ndi.mean(probability, ids, index=np.arange(1, int(ids.max()) + 1))
    return np.asarray(means) / _probability_scale(probability)


def settle_migrasomes(
    labels: np.ndarray, probability: np.ndarray | None, pixel_size_um: float, postprocess: Mapping
) -> np.ndarray:
    """Migrasome instances of ``labels`` by the model's ``postprocess``, with ``labels`` made to
    agree (in place): pixels that ``min_probability`` adds to a migrasome found become
    migrasome, and those of objects dropped for a low score background, so that label images,
    object tables and counts agree.

    Shape: labels (Y, X) uint8 class ids, probability (Y, X) → (Y, X) int32 instance ids.
    """
    post = {**MIGRASOME_POSTPROCESS, **postprocess}  # a model's meta may predate a setting
    binary = migrasome_pixels(labels, probability, post["min_probability"])
    decoded = decode_migrasome_pixels(
        binary, pixel_size_um, post["min_diameter_um"], post["split_h_um"]
    )
    ids = drop_unsure(decoded, probability, post["min_score"])
    labels[(ids > 0) & binary] = MIGRASOME  # pixels won below 0.5 (min_probability)
    labels[(decoded > 0) & (ids == 0) & (labels == MIGRASOME)] = BACKGROUND
    return ids


def cell_instances(
    labels: np.ndarray, pixel_size_um: float, min_area_um2: float = MIN_CELL_AREA_UM2
) -> np.ndarray:
    """Cell instances of a semantic label image — the one rule for counting cells everywhere
    (evaluation and migraseg-predict's tables).

    A cell is an 8-connected component of the cell class with its holes filled (migrasomes or
    fibers drawn over a cell body do not cut it), kept if its filled area is at least
    ``min_area_um2``; touching cells stay merged (cell bodies are not round enough for a
    distance-map watershed). Cells cut by the image border count like any other: the default
    5 µm² drops only prediction specks (a whole cell is ≳ 100 µm²), not a border cell's sliver.

    Shape: labels (Y, X) class ids → (Y, X) int32 instance ids, 0 = none.
    """
    return decode_instances(labels == CELL, min_area_um2 / pixel_size_um**2)
