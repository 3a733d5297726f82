"""The dock widget: segment a layer, correct it, add it to a training set, fine-tune, re-segment.

Segmentation runs in a napari ``thread_worker`` (a generator: progress after every row of
tiles, cancellable between two), fine-tuning in a child process (:class:`QProcess`) whose epoch
lines drive a progress bar. Every problem the user can fix (no model, a layer whose axes are
unknown, channels that do not fit, a failed fine-tune) is one sentence in the widget's message
line, never a traceback; a failed or cancelled fine-tune leaves the loaded model in place.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import napari
import numpy as np
from napari.qt.threading import thread_worker
from qtpy.QtCore import QProcess
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from migraseg.inference.predictor import Predictor
from migraseg.napari.dataset import add_to_training_set, dataset_stem, training_mask
from migraseg.napari.files import labels_kwargs, points_kwargs
from migraseg.napari.finetune import finetune_command, finished_model, parse_epoch
from migraseg.napari.layouts import (
    AXES_CHOICES,
    CHANNEL_AXES,
    layer_pixel_size,
    pick_channels,
    resolve_axes,
    spatial_axes,
    to_frames,
)
from migraseg.napari.models import finetune_source, load_predictor
from migraseg.napari.segment import POINT_COLUMNS, Segmentation, segment_frames
from migraseg.napari.table import MigrasomeTable

MODEL_FILTER = "migraseg models (*.pt *.pt2 *.onnx *.ckpt *.zip)"
KEEP_LINES = 30  # lines of a failed fine-tune's output kept for its message


@dataclass
class Segmented:
    """What the last segmentation ran on: enough to add a plane to a training set."""

    image: napari.layers.Image
    axes: str
    channels: list[int]
    pixel_size_um: float
    frames: np.ndarray  # (N, C, Y, X) the layer's planes
    predicted: np.ndarray  # (N, Y, X) the model's labels, before any correction
    labels: napari.layers.Labels
    points: napari.layers.Points
    rows: list[dict]


class SegmentWidget(QWidget):
    """Segment, correct and fine-tune without leaving the viewer (docs/napari.md)."""

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.predictor: Predictor | None = None
        self.model_path: Path | None = None
        self.worker = None
        self.process: QProcess | None = None
        self.run_dir: Path | None = None
        self.output: deque[str] = deque(maxlen=KEEP_LINES)
        self.last: Segmented | None = None
        self._build()
        for event in ("inserted", "removed", "reordered"):
            getattr(self.viewer.layers.events, event).connect(self.refresh_layers)
        self.refresh_layers()

    # --- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        self.model_edit = QLineEdit()
        self.model_edit.setPlaceholderText(
            "model.pt, .pt2, .onnx, .ckpt, bioimage.io .zip, or confocal / tem"
        )
        browse = QPushButton("…")
        browse.clicked.connect(self._browse_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_edit)
        model_row.addWidget(browse)
        self.layer_combo = QComboBox()
        self.axes_combo = QComboBox()
        self.axes_combo.addItems(AXES_CHOICES)
        self.channel_spin = QSpinBox()
        self.channel_spin.setRange(-1, 64)
        self.channel_spin.setValue(-1)
        self.channel_spin.setSpecialValueText("all")
        self.pixel_spin = QDoubleSpinBox()
        self.pixel_spin.setRange(0, 100)
        self.pixel_spin.setDecimals(4)
        self.pixel_spin.setSuffix(" µm")
        self.pixel_spin.setSpecialValueText("from the layer's scale")
        self.segment_button = QPushButton("Segment")
        self.segment_button.clicked.connect(self.segment)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.table = MigrasomeTable(POINT_COLUMNS, self.centre_on)

        self.dataset_edit = QLineEdit()
        self.dataset_edit.setPlaceholderText("dataset folder (created if missing)")
        self.unedited_check = QCheckBox("pixels left as predicted: not annotated (255)")
        self.add_button = QPushButton("Add to training set")
        self.add_button.clicked.connect(self.add_to_training_set)
        self.extra_edit = QLineEdit()
        self.extra_edit.setPlaceholderText("more settings, e.g. trainer.max_epochs=5")
        self.finetune_button = QPushButton("Fine-tune")
        self.finetune_button.clicked.connect(self.finetune)
        self.stop_button = QPushButton("Stop fine-tune")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop_finetune)
        self.epochs = QProgressBar()
        self.epochs.setFormat("epoch %v/%m")

        form = QFormLayout()
        form.addRow("Model", model_row)
        form.addRow("Image", self.layer_combo)
        form.addRow("Axes", self.axes_combo)
        form.addRow("Channel", self.channel_spin)
        form.addRow("Pixel size", self.pixel_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.segment_button)
        buttons.addWidget(self.cancel_button)
        form.addRow(buttons)
        form.addRow(self.progress)
        form.addRow("Dataset", self.dataset_edit)
        form.addRow(self.unedited_check)
        form.addRow(self.add_button)
        form.addRow("Settings", self.extra_edit)
        tune = QHBoxLayout()
        tune.addWidget(self.finetune_button)
        tune.addWidget(self.stop_button)
        form.addRow(tune)
        form.addRow(self.epochs)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.table)

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model", "", MODEL_FILTER)
        if path:
            self.model_edit.setText(path)

    def refresh_layers(self, *_args) -> None:
        current = self.layer_combo.currentText()
        names = [
            layer.name for layer in self.viewer.layers if isinstance(layer, napari.layers.Image)
        ]
        self.layer_combo.clear()
        self.layer_combo.addItems(names)
        if current in names:
            self.layer_combo.setCurrentText(current)

    def say(self, text: str) -> None:
        """Show one line to the user (questions, problems, what was done)."""
        self.message.setText(text)

    # --- segmentation ---------------------------------------------------------------------
    def image_layer(self) -> napari.layers.Image:
        name = self.layer_combo.currentText()
        if not name or name not in self.viewer.layers:
            raise ValueError("open an image first, then choose it in 'Image'")
        return self.viewer.layers[name]

    def segment(self) -> None:
        """Check the inputs and start segmenting the chosen layer in a worker thread."""
        if self.worker is not None:
            return
        try:
            layer = self.image_layer()
            axes = resolve_axes(layer.data.shape, layer.rgb, self.axes_combo.currentText())
            pixel = layer_pixel_size(layer.scale, self.pixel_spin.value())
            model = Path(self.model_edit.text().strip())
            if not self.model_edit.text().strip():
                raise ValueError("choose a model file in 'Model'")
        except ValueError as err:
            self.say(str(err))
            return
        frames = to_frames(layer.data, axes)
        chosen = self.channel_spin.value()
        reload = self.predictor is None or self.model_path != model
        timelapse = spatial_axes(axes) == "TYX"  # planes that are time points are tracked
        self.worker = self._segment_worker(
            model if reload else None, frames, chosen, pixel, timelapse
        )
        self.worker.yielded.connect(self._progress)
        self.worker.returned.connect(lambda result: self._show(layer, axes, pixel, frames, *result))
        self.worker.errored.connect(lambda err: self.say(problem(err)))
        self.worker.finished.connect(self._segment_done)
        self.segment_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.say(f"segmenting {layer.name} ({len(frames)} plane(s) at {pixel:g} µm/px)…")
        self.worker.start()

    @thread_worker(start_thread=False, ignore_errors=True)
    def _segment_worker(
        self, model: Path | None, frames: np.ndarray, chosen: int, pixel: float, timelapse: bool
    ):
        if model is not None:
            self.predictor, self.model_path = load_predictor(model), model
        meta = self.predictor.meta
        channels = pick_channels(frames.shape[1], meta.in_channels, chosen, meta.channel_names)
        result = yield from segment_frames(self.predictor, frames, channels, pixel, timelapse)
        return channels, result

    def _progress(self, step) -> None:
        self.progress.setMaximum(step.total)
        self.progress.setValue(step.done)

    def _segment_done(self) -> None:
        self.worker = None
        self.segment_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.message.text().startswith("segmenting"):
            self.say("cancelled")

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.quit()

    def _show(
        self,
        layer: napari.layers.Image,
        axes: str,
        pixel: float,
        frames: np.ndarray,
        channels: list[int],
        result: Segmentation,
    ) -> None:
        """Add (or replace) the layer's class labels and migrasome points, and the table."""
        keep = [i for i, a in enumerate(axes) if a not in CHANNEL_AXES]
        scale = tuple(np.asarray(layer.scale)[keep])
        translate = tuple(np.asarray(layer.translate)[keep])
        lead = [layer.data.shape[axes.index(a)] for a in spatial_axes(axes)[:-2]]
        labels = result.labels.reshape(*lead, *result.labels.shape[-2:])
        coords = [[*np.unravel_index(r["frame"], lead), r["y_px"], r["x_px"]] for r in result.rows]
        points = np.array(coords, float).reshape(-1, labels.ndim)
        for name in (f"{layer.name} classes", f"{layer.name} migrasomes", f"{layer.name} tracks"):
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
        labels_layer = self.viewer.add_labels(
            labels, translate=translate, **labels_kwargs(f"{layer.name} classes", scale)
        )
        properties = result.properties()
        points_layer = self.viewer.add_points(
            points,
            translate=translate,
            **points_kwargs(f"{layer.name} migrasomes", scale, properties),
        )
        if result.tracked():
            self.viewer.add_tracks(
                result.tracks(), name=f"{layer.name} tracks", scale=scale, translate=translate
            )
        self.viewer.layers.selection.active = labels_layer
        self.last = Segmented(
            layer, axes, channels, pixel, frames, result.labels.copy(), labels_layer,
            points_layer, result.rows,
        )  # fmt: skip
        self.table.show_rows(result.rows)
        self.say(
            f"{layer.name}: {len(result.rows)} migrasome(s) in {len(frames)} plane(s); correct "
            "the labels with napari's tools, then add them to a training set"
        )

    def centre_on(self, row: int) -> None:
        """Centre the view on a migrasome of the table (and go to its plane)."""
        if self.last is None or row >= len(self.last.points.data):
            return
        points = self.last.points
        world = points.data_to_world(points.data[row])
        for axis in range(len(world) - 2):
            self.viewer.dims.set_point(axis, world[axis])
        self.viewer.camera.center = tuple(world[-2:])
        points.selected_data = {row}

    # --- training set ---------------------------------------------------------------------
    def current_plane(self) -> int:
        """Index into the segmented planes of the plane the viewer shows."""
        lead = self.last.labels.data.shape[:-2]
        if not lead:
            return 0
        point = self.viewer.dims.point[-self.last.labels.ndim :]
        index = self.last.labels.world_to_data(point)[: len(lead)]
        return int(np.ravel_multi_index([round(i) for i in index], lead, mode="clip"))

    def add_to_training_set(self) -> Path | None:
        """Write the shown plane and its corrected labels into the dataset folder."""
        folder = self.dataset_edit.text().strip()
        if self.last is None:
            self.say("segment an image first")
            return None
        if not folder:
            self.say("choose a dataset folder in 'Dataset'")
            return None
        last, meta = self.last, self.predictor.meta
        plane = self.current_plane()
        corrected = np.asarray(last.labels.data).reshape(last.predicted.shape)[plane]
        predicted = last.predicted[plane] if self.unedited_check.isChecked() else None
        stem = dataset_stem(last.image.name, plane if len(last.predicted) > 1 else None)
        names = meta.channel_names or [f"c{i}" for i in last.channels]
        try:
            mask = training_mask(corrected, predicted)
            path = add_to_training_set(
                folder, stem, last.frames[plane][last.channels], mask, last.pixel_size_um,
                list(names), meta.modality,
            )  # fmt: skip
        except (ValueError, OSError) as err:
            self.say(problem(err))
            return None
        self.say(f"{stem} added to {path.parent}")
        return path

    # --- fine-tuning ----------------------------------------------------------------------
    @property
    def finetuning(self) -> bool:
        return self.process is not None

    def finetune(self) -> None:
        """Start ``migraseg-train experiment=finetune`` on the dataset folder."""
        if self.finetuning:
            return
        folder = Path(self.dataset_edit.text().strip() or ".").resolve()
        if self.model_path is None:
            self.say("segment with a model first: fine-tuning starts from it")
            return
        if not (folder / "dataset.yaml").is_file():
            self.say(f"{folder} has no dataset.yaml: add images to the training set first")
            return
        try:
            init = finetune_source(self.model_path).resolve()
        except ValueError as err:
            self.say(str(err))
            return
        self.run_dir = new_run_dir(folder.parent / f"{folder.name}_runs")
        program, *args = finetune_command(
            init, folder, self.run_dir, self.extra_edit.text().split()
        )
        self.output.clear()
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read_output)
        self.process.finished.connect(self._finetune_done)
        self.epochs.setRange(0, 1)
        self.epochs.setValue(0)
        self.finetune_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.say(f"fine-tuning {init.name} on {folder.name} (run folder {self.run_dir})…")
        self.process.start(program, args)

    def _read_output(self) -> None:
        text = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        for line in text.splitlines():
            self.output.append(line)
            epoch = parse_epoch(line)
            if epoch:
                self.epochs.setRange(0, epoch[1])
                self.epochs.setValue(epoch[0])

    def stop_finetune(self) -> None:
        if self.process is not None:
            self.process.kill()

    def _finetune_done(self, code: int, *_status) -> None:
        self._read_output()
        crashed = self.process.exitStatus() == QProcess.ExitStatus.CrashExit
        self.process.deleteLater()
        self.process = None
        self.finetune_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        model = finished_model(self.run_dir) if code == 0 else None
        if model is None:
            why = "stopped" if crashed else f"exit code {code}"
            tail = " | ".join(line for line in list(self.output)[-3:] if line.strip())
            self.say(f"fine-tune failed ({why}); the model {self.model_path.name} stays: {tail}")
            return
        self.model_edit.setText(str(model))
        self.say(f"fine-tuned: {model}; re-segmenting")
        if self.last is not None and self.last.image.name in self.viewer.layers:
            self.layer_combo.setCurrentText(self.last.image.name)
            self.segment()


def new_run_dir(parent: Path) -> Path:
    """A run folder named by date and time that no earlier run has (two runs a second apart
    must not share one)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, n = parent / stamp, 1
    while path.exists():
        n += 1
        path = parent / f"{stamp}-{n}"
    return path


def problem(err: BaseException) -> str:
    """One line for an exception: the message of the errors users cause, else its type too."""
    if isinstance(err, ValueError | OSError):
        return " ".join(str(err).split())
    return f"{type(err).__name__}: {' '.join(str(err).split())}"
