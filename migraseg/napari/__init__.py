"""migraseg in napari: segment, correct, add to a training set and fine-tune in the viewer.

Installed with ``pip install 'migraseg[napari]'``; napari finds it through the npe2 manifest
``migraseg/napari.yaml``. Only :mod:`migraseg.napari.widget` and :mod:`migraseg.napari.table`
import Qt: the other modules (models, layouts, segmentation, dataset writing, the fine-tune
command, readers and writers) run without a display and are tested without one.
"""
