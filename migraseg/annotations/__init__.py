"""Annotations from the tools labs use (Fiji ROI sets, napari Labels, CSV point lists) converted
into the dataset contract of data/README.md. ``migraseg-import`` is the command; docs in
docs/annotations.md.

Modules: ``classes`` (which class a ROI or flag means), ``raster`` (shapes to pixels, pixels to
masks), ``rois``, ``labels``, ``points`` (one per input format), ``pairing`` (image ↔
annotation by stem), ``writer`` (dataset folder and dataset.yaml), ``importer`` (all of it).
"""

from migraseg.annotations.classes import NOT_ANNOTATED
from migraseg.annotations.importer import ImportOptions, ImportReport, import_annotations

__all__ = ["NOT_ANNOTATED", "ImportOptions", "ImportReport", "import_annotations"]
