"""The shipped models: in the package, used by name, checked against their cards."""

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import tifffile

from migraseg.cli import export as export_cli
from migraseg.cli import predict as predict_cli
from migraseg.evaluation.sources import model_kind
from migraseg.inference.loading import ModelLoadError, load_model
from migraseg.pretrained import SHIPPED, SHIPPED_DIR, resolve_model_reference
from migraseg.synth.generator import make_sample
from migraseg.synth.presets import load_preset

MAX_MB = 30  # per shipped model, so that the wheel stays installable everywhere


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_shipped_file_is_small_and_matches_its_card(name):
    path = SHIPPED_DIR / SHIPPED[name]
    assert path.stat().st_size < MAX_MB * 1e6
    card = path.with_suffix(".md").read_text()
    recorded = re.search(r"sha256 \| `([0-9a-f]{64})`", card).group(1)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded
    assert f"experiment=generalist_{'confocal' if name == 'confocal' else 'tem'}" in card


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_model_loads_by_name_in_fp32_with_its_modality(name):
    net, meta = load_model(name)
    assert meta.modality == name
    assert all(p.dtype.is_floating_point and p.dtype.itemsize == 4 for p in net.parameters())
    assert model_kind(name) == "network"


def test_a_path_that_exists_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "confocal").mkdir()
    assert resolve_model_reference("confocal") == Path("confocal")
    assert resolve_model_reference("other.pt") == Path("other.pt")
    with pytest.raises(ModelLoadError, match="confocal: model file not found"):
        load_model("confocal")  # the folder, not the shipped model


def test_predict_by_name_segments_a_simulated_image(tmp_path):
    config = load_preset("confocal", ["confocal.image_size_px=[128,128]", "scene.n_cells=[1,1]"])
    sample = make_sample(config, seed=3, index=0)
    images = tmp_path / "my_images"
    images.mkdir()
    tifffile.imwrite(
        images / "a.tif",
        sample.image.astype(np.uint16),
        imagej=True,
        resolution=(1 / sample.pixel_size_um, 1 / sample.pixel_size_um),
        metadata={"unit": "um", "axes": "CYX"},
    )
    out = tmp_path / "pred"
    assert predict_cli.main(["confocal", str(images), "--out", str(out), "--device", "cpu"]) == 0
    labels = tifffile.imread(out / "a_labels.tif")
    assert labels.shape[-2:] == (128, 128) and set(np.unique(labels)) <= {0, 1, 2, 3}
    truth, found = sample.mask == 3, labels == 3
    assert 2 * (truth & found).sum() / (truth.sum() + found.sum()) > 0.7  # migrasome Dice


def test_export_publishes_a_shipped_model_as_a_bioimageio_package(tmp_path, capsys):
    package = tmp_path / "confocal.bioimageio.zip"
    argv = ["confocal", "--bioimageio", str(package), "--skip-test"]
    assert export_cli.main(argv) == 0
    assert package.is_file() and not list(tmp_path.glob("*.pt"))
    assert export_cli.main(["confocal"]) == 2  # neither OUTPUT nor --bioimageio
    assert "give OUTPUT" in capsys.readouterr().err
