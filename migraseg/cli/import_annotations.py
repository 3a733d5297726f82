"""migraseg-import: convert Fiji ROI sets, napari Labels or CSV point lists into a dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from migraseg.annotations.classes import parse_class, parse_mapping

_EPILOG = """\
Each image <stem>.tif is paired with one of <stem>.zip / <stem>.roi / <stem>_rois.zip (Fiji
ROIs), <stem>_labels.tif (napari Labels) or <stem>.csv / <stem>_points.csv (migrasome centres
and diameters). Classes are 0 background, 1 cell, 2 retraction_fiber, 3 migrasome; 255 = not
annotated. See docs/annotations.md.
"""


def _class(text: str) -> int:
    try:
        return parse_class(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="migraseg-import",
        description="Convert annotations (Fiji ROI sets, napari Labels TIFFs, CSV lists of "
        "migrasome centres and diameters) into a migraseg dataset folder, then validate it. "
        "Re-running on the same output updates it.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", help="folder of <stem>.tif images and their annotations")
    parser.add_argument("out", help="dataset folder to create or update")
    parser.add_argument("--annotations", help="folder of the annotation files (default: images)")
    parser.add_argument("--pixel-size", type=_positive, help="µm per pixel; overrides the TIFFs'")
    parser.add_argument("--modality", choices=("confocal", "tem"), help="default confocal")
    parser.add_argument("--name", help="dataset name (default: the output folder's name)")
    parser.add_argument(
        "--split",
        choices=("auto", "train", "val", "test"),
        default="auto",
        help="split of the imported images (auto: seeded 70/15/15 for a new dataset, train "
        "for images added to an existing one)",
    )
    parser.add_argument(
        "--unannotated-as-ignore",
        action="store_true",
        help="pixels no annotation covers become 255 (not annotated) instead of background",
    )
    rois = parser.add_argument_group("Fiji ROI sets")
    rois.add_argument(
        "--roi-class", type=_class, help="class of every ROI, overriding names, groups, colours"
    )
    rois.add_argument(
        "--group-class",
        action="append",
        default=[],
        metavar="N=CLASS",
        help="ROI group N is CLASS (repeatable; replaces the default 1=cell 2=fiber 3=migrasome)",
    )
    rois.add_argument(
        "--color-class",
        action="append",
        default=[],
        metavar="COLOUR=CLASS",
        help="ROI stroke colour (name or #rrggbb) is CLASS (repeatable; replaces the default "
        "red=migrasome green=fiber blue=cell)",
    )
    rois.add_argument(
        "--fiber-width",
        type=_positive,
        help="µm width of line ROIs drawn as fibers (default 0.25 confocal, 0.06 TEM)",
    )
    rois.add_argument(
        "--point-diameter",
        type=_positive,
        help="µm diameter of point ROIs / CSV points without one",
    )
    labels = parser.add_argument_group("napari Labels")
    labels.add_argument(
        "--instance-class", type=_class, help="labels are instance ids of this class"
    )
    points = parser.add_argument_group("CSV point lists")
    points.add_argument(
        "--csv-units", choices=("px", "um"), help="unit of CSV columns that do not name one"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from migraseg.annotations.importer import ImportOptions, import_annotations

    args = parse_args(argv)
    try:
        maps = {
            "groups": parse_mapping(args.group_class, "group"),
            "colours": parse_mapping(args.color_class, "colour"),
        }
    except ValueError as err:
        print(f"migraseg-import: {err}", file=sys.stderr)
        return 2
    options = ImportOptions(
        pixel_size_um=args.pixel_size,
        fiber_width_um=args.fiber_width,
        point_diameter_um=args.point_diameter,
        roi_class=args.roi_class,
        **{key: value for key, value in maps.items() if value},  # given maps replace defaults
        instance_class=args.instance_class,
        csv_units=args.csv_units,
        unannotated_as_ignore=args.unannotated_as_ignore,
        name=args.name,
        modality=args.modality,
        split=args.split,
    )
    report = import_annotations(
        Path(args.images),
        Path(args.out),
        options,
        Path(args.annotations) if args.annotations else None,
    )
    for stem, summary in report.written.items():
        print(f"{stem}: {summary}")
    for note in report.notes:
        print(f"note: {note}")
    if report.problems:
        print(f"migraseg-import: {len(report.problems)} problem(s):", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"imported {len(report.written)} image(s) into {args.out}; it is a valid dataset")
    return 0


if __name__ == "__main__":
    sys.exit(main())
