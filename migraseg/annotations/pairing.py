"""Pair images with their annotation files by stem.

For an image ``<stem>.tif`` (or ``.tiff``) the annotation is one of:

- ``<stem>.zip``, ``<stem>.roi``, ``<stem>_rois.zip``: a Fiji ROI set;
- ``<stem>_labels.tif`` / ``<stem>_labels.tiff``: a napari Labels layer;
- ``<stem>.csv``, ``<stem>_points.csv``: migrasome centres and diameters.

Annotations are looked for beside the images, or in a separate folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROI_PATTERNS = ("{}.zip", "{}.roi", "{}_rois.zip")
LABEL_PATTERNS = ("{}_labels.tif", "{}_labels.tiff")
CSV_PATTERNS = ("{}.csv", "{}_points.csv")
_PATTERNS = (*ROI_PATTERNS, *LABEL_PATTERNS, *CSV_PATTERNS)


@dataclass(frozen=True)
class Pair:
    """An image and its annotation file; ``kind`` is ``"rois"``, ``"labels"`` or ``"points"``."""

    stem: str
    image: Path
    annotation: Path
    kind: str


def _kind(name: str) -> str | None:
    for kind, patterns in (
        ("labels", LABEL_PATTERNS),
        ("rois", ROI_PATTERNS),
        ("points", CSV_PATTERNS),
    ):
        if any(name.endswith(p.format("")) for p in patterns):
            return kind
    return None


def find_pairs(
    images: Path, annotations: Path | None = None
) -> tuple[list[Pair], list[str], list[str]]:
    """Pairs of a folder, sorted by stem.

    Returns:
        ``(pairs, notes, problems)``: notes name images without an annotation (skipped);
        problems name annotations without an image and images with several annotations.
    """
    annotations = annotations or images
    image_files = sorted(
        p
        for p in images.iterdir()
        if p.is_file() and p.suffix.lower() in (".tif", ".tiff") and _kind(p.name) is None
    )
    candidates = {p for p in annotations.iterdir() if p.is_file() and _kind(p.name) is not None}
    pairs, notes, problems = [], [], []
    stems: set[str] = set()
    for image in image_files:
        stem = image.stem
        if stem in stems:
            problems.append(f"{image}: a second image with stem {stem!r} (.tif and .tiff)")
            continue
        stems.add(stem)
        found = [annotations / p.format(stem) for p in _PATTERNS]
        found = [p for p in found if p in candidates]
        candidates -= set(found)
        if not found:
            looked = ", ".join(p.format(stem) for p in _PATTERNS)
            notes.append(f"{image}: no annotation in {annotations} (looked for {looked}); skipped")
        elif len(found) > 1:
            names = ", ".join(sorted(p.name for p in found))
            problems.append(f"{image}: several annotations ({names}); keep one per image")
        else:
            pairs.append(Pair(stem, image, found[0], _kind(found[0].name) or ""))
    problems += [f"{p}: no image in {images} to pair it with" for p in sorted(candidates)]
    return pairs, notes, problems
