"""The console scripts: --help works, and train → export → predict → eval runs end to end."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from migraseg.io import read_image

BIN = Path(sys.executable).parent
SCRIPTS = [
    "migraseg-train",
    "migraseg-eval",
    "migraseg-export",
    "migraseg-predict",
    "migraseg-synth",
]


def run(*args, cwd=None, check=True):
    proc = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, cwd=cwd
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script):
    out = run(BIN / script, "--help").stdout
    assert script in out or "usage" in out.lower()


@pytest.mark.slow
def test_synth_cli_writes_a_valid_dataset(tmp_path):
    run(BIN / "migraseg-synth", tmp_path / "ds", "--n", "3", "--seed", "2", "--size", "96")
    from migraseg.data.contract import load_dataset

    spec = load_dataset(tmp_path / "ds")
    assert len(spec.samples) == 3 and spec.modality == "confocal"


@pytest.mark.slow
def test_export_predict_and_eval_from_the_command_line(trained, tiny_dataset, tmp_path):
    model = tmp_path / "exported.pt"
    out = run(BIN / "migraseg-export", trained["checkpoint"], model, "--onnx").stdout
    assert "exported.onnx" in out and (tmp_path / "exported_card.md").is_file()
    inputs = tmp_path / "in"
    shutil.copytree(tiny_dataset / "images", inputs)
    (inputs / "broken.tif").write_bytes(b"broken")
    proc = run(BIN / "migraseg-predict", model, inputs, "--out", tmp_path / "pred", check=False)
    assert proc.returncode == 1 and "broken.tif" in proc.stderr
    assert "6 done, 0 skipped (already done), 1 failed" in proc.stdout
    assert "onnxruntime" in proc.stdout  # the ONNX export beside model.pt runs on CPU
    for image in (tiny_dataset / "images").glob("*.tif"):
        labels, meta = read_image(tmp_path / "pred" / f"{image.stem}_labels.tif")
        assert labels.dtype == np.uint8 and labels.shape == (128, 128)
        assert meta["pixel_size_um"] == pytest.approx(0.2)
        assert (tmp_path / "pred" / f"{image.stem}_migrasomes.csv").is_file()
        assert (tmp_path / "pred" / f"{image.stem}_migrasomes.zip").is_file()
    (inputs / "broken.tif").unlink()
    again = run(BIN / "migraseg-predict", model, inputs, "--out", tmp_path / "pred")
    assert "0 done, 6 skipped" in again.stdout
    run(
        BIN / "migraseg-eval",
        f"model_path={model}",
        f"data_root={tiny_dataset}",
        "split=all",
        f"hydra.run.dir={tmp_path / 'eval'}",
        "predict.device=cpu",
    )
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    (result,) = metrics["sets"].values()
    (model,) = result["models"].values()
    assert result["n_images"] == 6 and len(model["per_image"]) == 6
    (described,) = metrics["models"].values()
    assert described["tta"] is True  # migraseg-eval averages the flips, as migraseg-predict does
    assert "4 flips averaged" in (tmp_path / "eval" / "report.md").read_text()
