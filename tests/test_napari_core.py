"""The napari plugin's parts that need no Qt: layer axes, channels, segmentation, the training
set, the fine-tune command, bioimage.io packages, readers and writers."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from migraseg.constants import IGNORE_LABEL, SITES
from migraseg.data.contract import load_dataset
from migraseg.export import export_torchscript
from migraseg.inference.loading import ModelLoadError
from migraseg.io import read_image
from migraseg.napari.dataset import add_to_training_set, dataset_stem, training_mask
from migraseg.napari.finetune import CALLBACK, finetune_command, parse_epoch
from migraseg.napari.layouts import (
    LayoutQuestion,
    layer_pixel_size,
    pick_channels,
    resolve_axes,
    to_frames,
)
from migraseg.napari.models import finetune_source, load_predictor
from migraseg.napari.segment import POINT_COLUMNS, segment_frames
from migraseg.publish.bioimageio import WithSoftmax
from migraseg.synth.generator import make_sample

from .napari_support import PIXEL_UM, simulated, tiny_model, tiny_net
from .test_predict_files import ORACLE_META, ClassBands
from .test_synth_timelapse import LAPSE


@pytest.fixture(scope="module")
def model_pt(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("model"))


def test_only_plain_and_rgb_layers_have_known_axes():
    assert resolve_axes((64, 64), rgb=False) == "YX"
    assert resolve_axes((64, 64, 3), rgb=True) == "YXS"
    with pytest.raises(LayoutQuestion, match=r"3 dimensions \(5×64×64\).*'Axes'"):
        resolve_axes((5, 64, 64), rgb=False)
    with pytest.raises(LayoutQuestion, match="ending in YXS"):
        resolve_axes((64, 64, 3), rgb=True, choice="CYX")
    assert resolve_axes((5, 64, 64), rgb=False, choice="TYX") == "TYX"


def test_planes_come_out_as_frames_channels_y_x():
    data = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    frames = to_frames(data, "TCYX")
    assert frames.shape == (2, 3, 4, 5) and np.array_equal(frames, data)
    rgb = np.zeros((4, 5, 3))
    rgb[..., 1] = 1
    assert to_frames(rgb, "YXS").shape == (1, 3, 4, 5) and to_frames(rgb, "YXS")[0, 1].all()
    assert to_frames(data[0, 0], "YX").shape == (1, 1, 4, 5)


def test_channels_that_do_not_fit_are_a_question_not_a_crash():
    assert pick_channels(1, 1, None) == [0]
    assert pick_channels(3, 1, 2) == [2]
    with pytest.raises(LayoutQuestion, match="3 channels and the model reads one: which"):
        pick_channels(3, 1, None)
    with pytest.raises(LayoutQuestion, match=r"reads 2 channels \(a, b\); the layer has 1"):
        pick_channels(1, 2, None, ["a", "b"])
    with pytest.raises(LayoutQuestion, match="channel 4 chosen; the layer has 3"):
        pick_channels(3, 1, 4)


def test_pixel_size_from_the_scale_else_typed():
    assert layer_pixel_size((1.0, 0.25, 0.25), None) == 0.25
    assert layer_pixel_size((1.0, 1.0), 0.1) == 0.1
    with pytest.raises(LayoutQuestion, match="type the pixel size"):
        layer_pixel_size((1.0, 1.0), 0.0)


def test_segmenting_a_time_lapse_reports_progress_and_measures_every_frame(model_pt):
    predictor = load_predictor(model_pt)
    frames = to_frames(simulated(frames=2), "TYX")
    steps = segment_frames(predictor, frames, [0], PIXEL_UM)
    progress = []
    while True:
        try:
            progress.append(next(steps))
        except StopIteration as stop:
            result = stop.value
            break
    done = [p.done for p in progress]
    assert done == sorted(done) and done[-1] == progress[-1].total
    assert {p.frame for p in progress} == {0, 1}
    assert result.labels.shape == (2, 128, 128) and result.labels.max() <= 3
    reference = predictor.predict(frames[1], PIXEL_UM).labels
    assert np.array_equal(result.labels[1], reference)
    for row in result.rows:
        assert set(row) == set(POINT_COLUMNS) and row["site"] in SITES


def test_a_time_lapse_layer_is_tracked_like_migraseg_predict_tracks_it(tmp_path):
    """Tracks for napari: an oracle segments a simulated time-lapse exactly, so every
    migrasome is found in every frame and linking must join them over time."""
    sample = make_sample(LAPSE, seed=4, index=0)
    meta = replace(ORACLE_META, pixel_size_um=sample.pixel_size_um)
    predictor = load_predictor(export_torchscript(ClassBands(), meta, tmp_path / "oracle.pt"))
    frames = (sample.mask * 1000.0).astype(np.float32)[:, None]  # (T, 1, Y, X)
    steps = segment_frames(predictor, frames, [0], sample.pixel_size_um, timelapse=True)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            result = stop.value
            break
    true_ids = set(np.unique(sample.migrasome_ids)) - {0}
    track_ids = {r["track_id"] for r in result.rows}
    assert result.tracked() and "track_id" in result.properties()
    assert 0 < len(track_ids) <= len(true_ids) < len(result.rows)  # linked over frames
    tracks = result.tracks()
    assert tracks.shape == (len(result.rows), 4) and (np.diff(tracks[:, 0]) >= 0).all()
    assert set(tracks[:, 1]) <= set(range(len(frames)))


def test_a_rescale_beyond_reason_is_refused_in_one_line(model_pt):
    frames = to_frames(simulated(), "YX")
    with pytest.raises(ValueError, match="if it is in nm"):
        next(segment_frames(load_predictor(model_pt), frames, [0], 20.0))


def test_a_bioimageio_zip_runs_the_same_network(model_pt, tmp_path):
    net, meta = tiny_net()  # the network model_pt holds
    state = io.BytesIO()
    torch.save(WithSoftmax(net).state_dict(), state)  # as migraseg-export --bioimageio does
    package = tmp_path / "model.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("rdf.yaml", "type: model\n")
        archive.writestr("weights_state_dict.pt", state.getvalue())
        archive.writestr("meta.json", meta.to_json())
    image = simulated()[None]
    from_zip = load_predictor(package).probabilities(image, PIXEL_UM)
    expected = load_predictor(model_pt).probabilities(image, PIXEL_UM)
    np.testing.assert_allclose(from_zip, expected, atol=1e-4)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("rdf.yaml", "type: model\n")
    with pytest.raises(ModelLoadError, match=r"not a migraseg bioimage\.io package"):
        load_predictor(other)


def test_added_planes_make_a_dataset_training_accepts(tmp_path):
    folder = tmp_path / "lab"
    image = simulated()
    predicted = np.zeros((128, 128), np.uint8)
    corrected = predicted.copy()
    corrected[10:20, 10:20] = 3
    for stem, mask in (
        ("a", training_mask(corrected, None)),
        ("b", training_mask(corrected, predicted)),
    ):
        add_to_training_set(folder, stem, image[None], mask, PIXEL_UM, ["ch0"], "confocal")
    spec = load_dataset(folder)
    assert sorted(spec.samples) == ["a", "b"] and spec.pixel_size_um == PIXEL_UM
    partial, _ = read_image(folder / "masks" / "b.tif")
    assert (partial[10:20, 10:20] == 3).all() and (partial[30:, 30:] == IGNORE_LABEL).all()
    assert np.array_equal(read_image(folder / "images" / "a.tif")[0], image)
    info = yaml.safe_load((folder / "dataset.yaml").read_text())
    assert set(info["splits"]["train"]) == {"a", "b"}


def test_painted_ids_beyond_the_classes_and_another_modality_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"ids \[7\]"):
        training_mask(np.full((4, 4), 7), None)
    mask = np.zeros((128, 128), np.uint8)
    add_to_training_set(tmp_path, "a", simulated()[None], mask, PIXEL_UM, ["ch0"], "confocal")
    with pytest.raises(ValueError, match="modality is 'confocal', not 'tem'"):
        add_to_training_set(tmp_path, "b", simulated()[None], mask, PIXEL_UM, ["ch0"], "tem")
    assert dataset_stem("my image [1]", 3) == "my_image_1_t003"


def test_finetune_command_and_its_epoch_lines(model_pt, tmp_path):
    command = finetune_command(model_pt, tmp_path / "set", tmp_path / "run", ["x=1"])
    assert command[1:3] == ["-m", "migraseg.cli.train"]
    assert f"init_from={model_pt}" in command and CALLBACK in command and command[-1] == "x=1"
    assert parse_epoch("migraseg-epoch 3/20\n") == (3, 20)
    assert parse_epoch("Epoch 3: 100%") is None
    assert finetune_source(model_pt) == model_pt
    onnx = model_pt.with_suffix(".onnx")
    assert finetune_source(onnx) == model_pt  # the .pt beside an export
    with pytest.raises(ModelLoadError, match=r"starts from a \.pt or \.ckpt"):
        finetune_source(tmp_path / "package.zip")


def test_the_installed_plugin_manifest_is_valid():
    """What napari's plugin manager checks: the manifest registered by the entry point."""
    npe2 = Path(sys.executable).with_name("npe2")
    result = subprocess.run(
        [npe2, "validate", "migraseg"], capture_output=True, text=True, cwd=Path.home()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout
