"""Convert a folder of images and their annotations into a dataset folder, then validate it.

:func:`import_annotations` is what ``migraseg-import`` runs. Every problem is collected with
the file it concerns: a sample whose annotation cannot be converted is not written, the others
are, and the whole output folder is then checked by :func:`migraseg.data.contract.load_dataset`
like any dataset.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from migraseg.annotations.classes import (
    DEFAULT_COLOUR_CLASSES,
    DEFAULT_GROUP_CLASSES,
    NOT_ANNOTATED,
)
from migraseg.annotations.labels import labels_to_mask, read_labels
from migraseg.annotations.pairing import Pair, find_pairs
from migraseg.annotations.points import read_points
from migraseg.annotations.raster import LabelObject, compose, ellipse_pixels
from migraseg.annotations.rois import RoiOptions, read_rois, rois_to_objects
from migraseg.annotations.writer import update_dataset_yaml, write_sample
from migraseg.constants import CLASS_NAMES, MIGRASOME
from migraseg.data.contract import (
    IMAGE_DTYPES,
    DatasetError,
    image_to_cyx,
    load_dataset,
    read_dataset_yaml,
)
from migraseg.io import ImageReadError, read_image

# Default fiber mask width: one confocal PSF FWHM (~0.25 µm, as the simulator paints it), and a
# fiber's true diameter in TEM (40–70 nm).
DEFAULT_FIBER_WIDTH_UM = {"confocal": 0.25, "tem": 0.06}


@dataclass
class ImportOptions:
    """Settings of one import; lengths in µm."""

    pixel_size_um: float | None = None  # overrides the images' own
    fiber_width_um: float | None = None  # None: DEFAULT_FIBER_WIDTH_UM of the modality
    point_diameter_um: float | None = None
    roi_class: int | None = None
    groups: dict[int, int] = field(default_factory=lambda: dict(DEFAULT_GROUP_CLASSES))
    colours: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_COLOUR_CLASSES))
    instance_class: int | None = None
    csv_units: str | None = None
    unannotated_as_ignore: bool = False
    name: str | None = None
    modality: str | None = None
    split: str = "auto"
    seed: int = 0


@dataclass
class ImportReport:
    """What an import did: stems written (with a one-line summary each), notes (skipped ROIs,
    unannotated images, converted dtypes) and problems (errors: the exit status is 1)."""

    written: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _load_image(path: Path, notes: list[str]) -> tuple[np.ndarray, dict]:
    """The image as C×Y×X in a contract dtype (others converted, with a note)."""
    array, meta = read_image(path)
    array = image_to_cyx(array, meta["axes"])
    if array.dtype.type not in IMAGE_DTYPES:
        if array.dtype == bool:
            target = np.uint8
        elif array.dtype.kind in "ui" and array.min() >= 0 and array.max() <= 65535:
            target = np.uint16
        else:
            target = np.float32
        notes.append(f"{path}: {array.dtype} image stored as {np.dtype(target).name}")
        array = array.astype(target)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{path}: contains NaN or infinite values")
    return array, meta


def _convert(
    pair: Pair, shape: tuple[int, int], pixel_size: float, modality: str, options: ImportOptions
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, list[str], str]:
    """``(mask, migrasome_ids, cell_ids, notes, summary)`` of one annotation file."""
    unannotated = NOT_ANNOTATED if options.unannotated_as_ignore else 0
    source = str(pair.annotation)
    if pair.kind == "labels":
        labels = read_labels(pair.annotation, shape)
        mask, mig, cells = labels_to_mask(labels, options.instance_class, unannotated, source)
        kind = "semantic" if options.instance_class is None else "instance"
        return mask, mig, cells, [], f"{kind} labels"
    if pair.kind == "points":
        points = read_points(
            pair.annotation, pixel_size, options.csv_units, options.point_diameter_um
        )
        objects, notes = [], []
        for p in points:
            pixels = ellipse_pixels(p.x_px, p.y_px, p.diameter_px / 2, p.diameter_px / 2, shape)
            if pixels[0].size:
                objects.append(LabelObject(MIGRASOME, pixels, f"{source}:{p.line}"))
            else:
                notes.append(f"{source}:{p.line}: skipped, the disc lies outside the image")
        # a point list says nothing about cells or fibers: everything else is not annotated
        mask, mig, cells = compose(shape, objects, NOT_ANNOTATED)
        return mask, mig, cells, notes, f"{len(objects)} migrasome(s) from points"
    width_um = options.fiber_width_um or DEFAULT_FIBER_WIDTH_UM[modality]
    roi_options = RoiOptions(
        fiber_width_px=width_um / pixel_size,
        point_diameter_px=options.point_diameter_um / pixel_size
        if options.point_diameter_um
        else None,
        roi_class=options.roi_class,
        groups=options.groups,
        colours=options.colours,
    )
    rois = read_rois(pair.annotation)
    objects, notes = rois_to_objects(rois, shape, roi_options, source)
    mask, mig, cells = compose(shape, objects, unannotated)
    counts = [sum(o.class_id == c for o in objects) for c in range(len(CLASS_NAMES))]
    parts = [f"{n} {CLASS_NAMES[c]}{'s' if n > 1 else ''}" for c, n in enumerate(counts) if n]
    summary = f"{len(rois)} ROI(s): " + (", ".join(parts) or "none converted")
    if notes:
        summary += f"; {len(notes)} skipped"
    return mask, mig, cells, notes, summary


def import_annotations(
    images: Path, out: Path, options: ImportOptions, annotations: Path | None = None
) -> ImportReport:
    """Convert every annotated image of ``images`` into the dataset folder ``out``.

    Args:
        images: folder of ``<stem>.tif`` images (with their annotation files, unless
            ``annotations`` names another folder).
        out: dataset folder, created or updated.

    Returns:
        The report; ``report.ok`` is False when anything could not be converted or the
        resulting folder fails :func:`migraseg.data.contract.load_dataset`.
    """
    images, out = Path(images), Path(out)
    report = ImportReport()
    for folder in (images, annotations):
        if folder is not None and not folder.is_dir():
            report.problems.append(f"{folder}: not a folder")
    if report.problems:
        return report
    pairs, notes, problems = find_pairs(images, annotations)
    report.notes += notes
    report.problems += problems
    existing, problems = _existing_info(out)
    old_modality = existing.get("modality", options.modality)
    if options.modality and old_modality != options.modality:
        problems.append(
            f"{out / 'dataset.yaml'}: modality is {old_modality!r}, not {options.modality!r}"
        )
    if problems:  # refuse before writing into a dataset that the result would contradict
        report.problems += problems
        return report
    modality = options.modality or existing.get("modality", "confocal")
    channels = list(existing.get("channels") or []) or None
    sizes = []
    for pair in pairs:
        try:
            image, meta = _load_image(pair.image, report.notes)
        except (ImageReadError, ValueError) as err:
            msg = str(err)
            report.problems.append(
                msg if msg.startswith(str(pair.image)) else f"{pair.image}: {msg}"
            )
            continue
        pixel_size = options.pixel_size_um or meta["pixel_size_um"]
        if not pixel_size:
            report.problems.append(
                f"{pair.image}: no pixel size in the TIFF; pass --pixel-size (µm per pixel)"
            )
            continue
        try:
            mask, mig, cells, sample_notes, summary = _convert(
                pair, image.shape[1:], pixel_size, modality, options
            )
        except (ValueError, OSError) as err:
            report.problems += [_named(line, pair.annotation) for line in str(err).splitlines()]
            continue
        report.notes += sample_notes
        names = meta["channel_names"] or [f"ch{i}" for i in range(image.shape[0])]
        if channels is None:
            channels = names
        elif len(names) != len(channels):
            report.problems.append(
                f"{pair.image}: {len(names)} channel(s); the dataset has {len(channels)} "
                f"({', '.join(channels)})"
            )
            continue
        write_sample(out, pair.stem, image, pixel_size, mask, mig, cells)
        sizes.append(pixel_size)
        report.written[pair.stem] = summary
    if report.written:
        _, problems = update_dataset_yaml(
            out,
            report.written,
            name=options.name,
            modality=options.modality,
            pixel_size_um=statistics.median(sizes),
            channels=channels or ["ch0"],
            split=options.split,
            seed=options.seed,
        )
        report.problems += problems
    if out.is_dir():
        try:
            load_dataset(out)
        except DatasetError as err:
            report.problems += err.problems
    elif not report.problems:
        report.problems.append(f"{images}: no annotated image found; nothing written to {out}")
    return report


def _named(line: str, path: Path) -> str:
    return line if str(path) in line or line.startswith(path.name) else f"{path}: {line}"


def _existing_info(out: Path) -> tuple[dict, list[str]]:
    """The dataset.yaml already at ``out`` ({} if none) and its problems."""
    if not (out / "dataset.yaml").is_file():
        return {}, []
    return read_dataset_yaml(out)
