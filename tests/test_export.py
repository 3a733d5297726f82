"""TorchScript export: verified, metadata embedded, runs in a process without migraseg."""

import json
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
import torch

from migraseg.export import ExportError, check_outputs, export_torchscript
from migraseg.inference.loading import ModelLoadError, load_checkpoint_model, load_model
from migraseg.model_meta import ModelMeta
from migraseg.models import build_model

TINY = {"encoder_name": "tu-test_resnet", "encoder_depth": 3, "decoder_channels": [16, 8, 8]}

# Imported first by scripts run under `python -I`: migraseg, smp and timm cannot be imported.
BLOCK_MIGRASEG = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("migraseg", "segmentation_models_pytorch", "timm"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
"""

STANDALONE = BLOCK_MIGRASEG + textwrap.dedent("""
    import json
    import numpy as np, torch
    extra = {"meta.json": ""}
    model = torch.jit.load(sys.argv[1], _extra_files=extra)
    meta = json.loads(extra["meta.json"])
    x = torch.from_numpy(np.load(sys.argv[2]))
    np.save(sys.argv[3], model(x).detach().numpy())
    print(json.dumps({"classes": meta["class_names"], "pixel_size_um": meta["pixel_size_um"]}))
""")


@pytest.fixture
def tiny_export(tmp_path):
    torch.manual_seed(0)
    net = build_model(**TINY).eval()
    meta = ModelMeta(
        in_channels=1, pixel_size_um=0.1, patch_size=64, model={**TINY, "in_channels": 1}
    )
    return net, meta, export_torchscript(net, meta, tmp_path / "model.pt")


@pytest.mark.export
def test_exported_file_runs_without_migraseg(tiny_export, tmp_path):
    net, _, path = tiny_export
    x = torch.rand(1, 1, 96, 128)
    np.save(tmp_path / "x.npy", x.numpy())
    script = tmp_path / "standalone.py"
    script.write_text(STANDALONE)
    run = subprocess.run(
        [sys.executable, str(script), str(path), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout.strip().splitlines()[-1])
    assert info == {
        "classes": ["background", "cell", "retraction_fiber", "migrasome"],
        "pixel_size_um": 0.1,
    }
    with torch.no_grad():
        np.testing.assert_allclose(np.load(tmp_path / "y.npy"), net(x).numpy(), atol=1e-4)


@pytest.mark.export
def test_metadata_round_trips(tiny_export):
    _, meta, path = tiny_export
    _, loaded = load_model(path)
    assert loaded == meta


def test_mismatch_fails_loudly():
    with pytest.raises(ExportError, match="differs from the eager model"):
        check_outputs(torch.zeros(3), torch.tensor([0.0, 0.5, 0.0]), "traced TorchScript")


def test_checkpoint_of_a_pretrained_run_loads_offline(tmp_path, monkeypatch):
    """A run trained from ImageNet weights: reloading its checkpoint must not download them."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise AssertionError("network access while loading a checkpoint")

    monkeypatch.setattr("socket.socket.connect", no_network)
    torch.manual_seed(0)
    net = build_model(**TINY).eval()
    model = {**TINY, "in_channels": 1, "encoder_weights": "imagenet"}
    meta = ModelMeta(in_channels=1, pixel_size_um=0.1, patch_size=64, model=model)
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    path = tmp_path / "pretrained.ckpt"
    torch.save({"hyper_parameters": {"meta": meta.to_dict()}, "state_dict": state}, path)
    loaded, loaded_meta = load_model(path)
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x))
    assert loaded_meta == meta


def test_bad_model_files_are_named(tmp_path):
    with pytest.raises(ModelLoadError, match=r"nope\.pt: model file not found"):
        load_model(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ModelLoadError, match=r"junk\.pt: cannot load model"):
        load_model(tmp_path / "junk.pt")
    (tmp_path / "model.onnx2").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="unknown model suffix"):
        load_model(tmp_path / "model.onnx2")


@pytest.mark.slow
@pytest.mark.export
def test_checkpoint_exports_to_the_same_outputs(trained, tmp_path):
    net, meta = load_checkpoint_model(trained["checkpoint"])
    traced, traced_meta = load_model(trained["model_path"])
    x = torch.rand(1, meta.in_channels, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), net(x), atol=1e-4, rtol=1e-4)
    assert traced_meta == meta


@pytest.mark.export
def test_onnx_export_is_verified_and_carries_its_metadata(tiny_export, tmp_path):
    from migraseg.export import export_onnx
    from migraseg.inference.backends import OnnxModel

    net, meta, _ = tiny_export
    path = export_onnx(net, meta, tmp_path / "model.onnx")
    model = OnnxModel(path)
    assert ModelMeta.from_dict(model.meta()) == meta
    x = torch.rand(3, 1, 96, 160)
    with torch.no_grad():
        np.testing.assert_allclose(model(x.numpy()), net(x).numpy(), atol=1e-4)
    loaded, loaded_meta = load_model(path)
    assert isinstance(loaded, OnnxModel) and loaded_meta == meta


@pytest.mark.export
def test_onnx_beside_model_pt_runs_on_cpu_is_reported_and_optional(tiny_export, monkeypatch):
    from migraseg.evaluation.sources import NetworkSource
    from migraseg.export import export_onnx
    from migraseg.inference.loading import choose_model_file
    from migraseg.inference.settings import PredictSettings

    net, meta, path = tiny_export
    onnx = export_onnx(net, meta, path.with_suffix(".onnx"))
    assert choose_model_file(path, "auto", "cpu") == onnx
    predict = PredictSettings(device="cpu", tile_size=64)
    described = NetworkSource(path, predict).describe()
    assert described["kind"] == "onnx" and described["runner"] == "onnxruntime/cpu"
    assert described["path"] == str(path) and described["model_file"] == str(onnx)
    assert described["tta"] is True  # the flips are averaged unless the settings say not
    described = NetworkSource(path, replace(predict, backend="torch", tta=False)).describe()
    assert described["kind"] == "torchscript" and described["runner"].startswith("torchscript")
    assert described["tta"] is False

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.warns(UserWarning, match="ONNX Runtime is not installed"):
        described = NetworkSource(path, predict).describe()
    assert described["kind"] == "torchscript" and described["model_file"] == str(path)
    with pytest.raises(ModelLoadError, match="ONNX Runtime is not installed"):
        choose_model_file(path, "onnx", "cpu")
