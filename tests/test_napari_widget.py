"""The napari plugin in a real viewer (pytest-qt, napari's make_napari_viewer; under xvfb-run).

The whole loop of issue 14 runs once: open a simulated image, segment it, edit a label, add it
to a training set, fine-tune one short epoch in a child process (a failed one first), load the
new model and segment again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from migraseg.io import read_image

from .napari_support import PIXEL_UM, require_gui, simulated, tiny_model

require_gui()

from migraseg.napari.files import write_labels  # noqa: E402  (needs napari)
from migraseg.napari.widget import SegmentWidget  # noqa: E402

pytestmark = pytest.mark.gui
MANIFEST = Path(__file__).resolve().parents[1] / "migraseg" / "napari.yaml"
# one short epoch of the tiny model on 64² patches, no evaluation, no simulated patches
SHORT_FINETUNE = (
    "logger=none trainer=cpu trainer.max_epochs=1 trainer.limit_train_batches=1 "
    "trainer.limit_val_batches=1 trainer.enable_progress_bar=false "
    "trainer.enable_model_summary=false callbacks.progress_bar=null data.patch_size=64 "
    "data.batch_size=2 data.samples_per_epoch=2 data.synthetic_mix=0 evaluate=false "
    "predict.device=cpu predict.tile_size=128"
)
WAIT_MS = 600_000  # the machine's two cores may be shared with trainings


@pytest.fixture(scope="module")
def model_pt(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model"))


def register_plugin() -> None:
    """Register the manifest with npe2 where no installed entry point does (a checkout on
    PYTHONPATH), before any viewer exists: napari registers every manifest's commands when a
    viewer starts, and once more for a manifest registered after that."""
    from importlib.metadata import entry_points

    from npe2 import PluginManager, PluginManifest

    if not any(e.name == "migraseg" for e in entry_points(group="napari.manifest")):
        PluginManager.instance().register(PluginManifest.from_file(MANIFEST))


register_plugin()


def segment_and_wait(widget: SegmentWidget, qtbot) -> None:
    widget.segment()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=WAIT_MS)


def test_layers_the_model_cannot_read_get_a_question(make_napari_viewer, qtbot, model_pt):
    viewer = make_napari_viewer()
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.model_edit.setText(str(model_pt))
    image = simulated()
    viewer.add_image(np.stack([image] * 3), name="stack", scale=(1, PIXEL_UM, PIXEL_UM))
    segment_and_wait(widget, qtbot)
    assert "3 dimensions (3×128×128): what are they?" in widget.message.text()
    widget.axes_combo.setCurrentText("CYX")
    segment_and_wait(widget, qtbot)
    assert "3 channels and the model reads one: which?" in widget.message.text()
    viewer.add_image(image, name="plain")  # scale 1: no pixel size
    widget.layer_combo.setCurrentText("plain")
    widget.axes_combo.setCurrentText("auto")
    segment_and_wait(widget, qtbot)
    assert "type the pixel size" in widget.message.text()
    assert [layer.name for layer in viewer.layers] == ["stack", "plain"]


def test_dropped_labels_open_with_their_scale_and_migrasomes(make_napari_viewer, tmp_path):
    labels = np.zeros((2, 32, 32), np.uint8)
    labels[1, 10:14, 20:24] = 3
    path = str(tmp_path / "cells_labels.tif")
    write_labels(path, labels, {"scale": (1.0, 0.05, 0.05)})
    (tmp_path / "cells_migrasomes.csv").write_text(
        "id,frame,x_px,y_px,x_um,y_um,diameter_um,site,cell\n1,1,21.5,11.5,1.1,0.6,0.2,tip,0\n"
    )
    viewer = make_napari_viewer()
    layers = viewer.open(path, plugin="migraseg")
    assert [layer.name for layer in layers] == ["cells classes", "cells migrasomes"]
    assert np.allclose(layers[0].scale, (1.0, 0.05, 0.05)) and layers[0].data.max() == 3
    assert layers[1].data.tolist() == [[1.0, 11.5, 21.5]]
    assert list(layers[1].properties["site"]) == ["tip"]


@pytest.mark.slow
def test_segment_correct_add_finetune_and_segment_again(
    make_napari_viewer, qtbot, model_pt, tmp_path
):
    viewer = make_napari_viewer()
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget)
    viewer.add_image(simulated(seed=3), name="cells", scale=(PIXEL_UM, PIXEL_UM))
    widget.model_edit.setText(str(model_pt))
    segment_and_wait(widget, qtbot)
    labels = viewer.layers["cells classes"]
    assert labels.data.shape == (128, 128) and np.allclose(labels.scale, PIXEL_UM)
    assert "cells migrasomes" in viewer.layers
    assert widget.table.rowCount() == len(viewer.layers["cells migrasomes"].data)
    assert widget.progress.value() == widget.progress.maximum() > 0

    edited = labels.data.copy()  # a user paints a migrasome and some background
    edited[40:48, 40:48] = 3
    edited[0:16, 0:16] = 0
    labels.data = edited
    widget.dataset_edit.setText(str(tmp_path / "lab"))
    widget.unedited_check.setChecked(True)
    assert widget.add_to_training_set() == tmp_path / "lab" / "dataset.yaml"
    mask, _ = read_image(tmp_path / "lab" / "masks" / "cells.tif")
    assert (mask[40:48, 40:48] == 3).all() and set(np.unique(mask)) <= {0, 1, 2, 3, 255}

    widget.extra_edit.setText(f"{SHORT_FINETUNE} no_such_key=1")  # fails: unknown key
    widget.finetune()
    qtbot.waitUntil(lambda: not widget.finetuning, timeout=WAIT_MS)
    assert widget.message.text().startswith("fine-tune failed (exit code")
    assert widget.model_path == model_pt and widget.model_edit.text() == str(model_pt)

    widget.extra_edit.setText(SHORT_FINETUNE)
    widget.finetune()
    qtbot.waitUntil(lambda: not widget.finetuning, timeout=WAIT_MS)
    assert (widget.epochs.value(), widget.epochs.maximum()) == (1, 1), widget.message.text()
    new_model = Path(widget.model_edit.text())
    assert new_model.name == "model.pt" and new_model != model_pt
    qtbot.waitUntil(
        lambda: widget.worker is None and widget.model_path == new_model, timeout=WAIT_MS
    )
    assert viewer.layers["cells classes"].data.shape == (128, 128)
    assert "re-segmenting" not in widget.message.text()
