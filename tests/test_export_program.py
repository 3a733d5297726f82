"""torch.export programs (model.pt2): verified at export, dynamic batch and size, metadata
embedded, loadable with plain torch.export.load, and run by the Predictor and migraseg-predict."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from migraseg.cli import export as export_cli
from migraseg.cli import predict as predict_cli
from migraseg.export import ExportError, export_program, export_torchscript
from migraseg.inference.loading import ModelLoadError, load_model
from migraseg.inference.predictor import Predictor
from migraseg.io import read_image
from migraseg.model_meta import ModelMeta
from migraseg.models import build_model

from .test_export import BLOCK_MIGRASEG, TINY

# Runs under `python -I` (no PYTHONPATH, no user site) with migraseg, smp and timm blocked.
STANDALONE = BLOCK_MIGRASEG + textwrap.dedent("""
    import json
    import numpy as np, torch
    extra = {"meta.json": ""}
    model = torch.export.load(sys.argv[1], extra_files=extra).module()
    meta = json.loads(extra["meta.json"])
    x = torch.from_numpy(np.load(sys.argv[2]))
    with torch.no_grad():
        np.save(sys.argv[3], model(x).numpy())
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("migraseg", "segmentation_models_pytorch", "timm"))
    print(json.dumps({"classes": meta["class_names"], "pixel_size_um": meta["pixel_size_um"],
                      "loaded": loaded}))
""")  # noqa: E501


@pytest.fixture(scope="module")
def tiny_program(tmp_path_factory):
    torch.manual_seed(0)
    net = build_model(**TINY).eval()
    meta = ModelMeta(
        in_channels=1, pixel_size_um=0.1, patch_size=64, model={**TINY, "in_channels": 1}
    )
    tmp = tmp_path_factory.mktemp("program")
    return net, meta, export_program(net, meta, tmp / "model.pt2")


@pytest.mark.export
def test_program_runs_without_migraseg_at_any_batch_and_size(tiny_program, tmp_path):
    net, _, path = tiny_program
    x = torch.rand(3, 1, 96, 160)  # neither the export example's batch nor its size
    np.save(tmp_path / "x.npy", x.numpy())
    script = tmp_path / "standalone.py"
    script.write_text(STANDALONE)
    run = subprocess.run(
        [sys.executable, "-I", script, path, tmp_path / "x.npy", tmp_path / "y.npy"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout.strip().splitlines()[-1])
    assert info == {
        "classes": ["background", "cell", "retraction_fiber", "migrasome"],
        "pixel_size_um": 0.1,
        "loaded": [],
    }
    with torch.no_grad():
        np.testing.assert_allclose(np.load(tmp_path / "y.npy"), net(x).numpy(), atol=1e-4)


@pytest.mark.export
def test_program_loads_with_its_metadata_and_matches_torchscript(tiny_program, tmp_path):
    net, meta, path = tiny_program
    program, loaded_meta = load_model(path)
    assert loaded_meta == meta
    assert program.eval() is program  # the exported graph refuses eval(); the wrapper does not
    script = export_torchscript(net, meta, tmp_path / "model.pt")
    image = np.random.default_rng(0).random((1, 100, 140)).astype(np.float32)
    by_program = Predictor.from_path(path, device="cpu", tile_size=64).predict(image, 0.1)
    by_script = Predictor.from_path(script, device="cpu", tile_size=64).predict(image, 0.1)
    np.testing.assert_allclose(by_program.probabilities, by_script.probabilities, atol=1e-4)


@pytest.mark.export
def test_program_without_metadata_is_refused(tmp_path):
    net = build_model(**TINY).eval()
    x = torch.rand(2, 1, 64, 64)
    torch.export.save(torch.export.export(net, (x,)), str(tmp_path / "plain.pt2"))
    with pytest.raises(ModelLoadError, match=r"no embedded meta\.json"):
        load_model(tmp_path / "plain.pt2")


@pytest.mark.export
def test_a_program_that_differs_from_eager_is_not_written(tmp_path, monkeypatch):
    net = build_model(**TINY).eval()
    meta = ModelMeta(in_channels=1, pixel_size_um=0.1, patch_size=64, model=TINY)
    monkeypatch.setattr(
        "migraseg.export.check_outputs",
        lambda *a, **k: (_ for _ in ()).throw(ExportError("differs")),
    )
    with pytest.raises(ExportError):
        export_program(net, meta, tmp_path / "model.pt2")
    assert not (tmp_path / "model.pt2").exists()


@pytest.mark.slow
def test_training_export_and_predict_write_and_read_pt2(trained, tiny_dataset, tmp_path):
    assert trained["program_path"].endswith("model.pt2")
    _, meta = load_model(trained["program_path"])
    assert meta.patch_size == 64
    assert export_cli.main([trained["checkpoint"], str(tmp_path / "m.pt")]) == 0
    assert (tmp_path / "m.pt2").is_file()
    assert "torch.export" in (tmp_path / "m_card.md").read_text()
    assert export_cli.main([trained["checkpoint"], str(tmp_path / "n.pt"), "--no-pt2"]) == 0
    assert not (tmp_path / "n.pt2").exists()
    image = sorted((tiny_dataset / "images").glob("*.tif"))[0]
    args = [str(tmp_path / "m.pt2"), str(image), "--out", str(tmp_path / "pred"), "--quiet"]
    assert predict_cli.main([*args, "--device", "cpu", "--tile-size", "128"]) == 0
    labels, _ = read_image(tmp_path / "pred" / f"{image.stem}_labels.tif")
    assert labels.shape == (128, 128)


@pytest.mark.export
def test_migraseg_eval_takes_a_program(tiny_program):
    from migraseg.evaluation.sources import NetworkSource, model_kind
    from migraseg.inference.settings import PredictSettings

    _, _, path = tiny_program
    assert model_kind(str(path)) == "network"
    described = NetworkSource(path, PredictSettings(device="cpu", tile_size=64)).describe()
    assert described["kind"] == "torch.export" and described["runner"] == "eager/cpu"


@pytest.mark.slow
def test_a_failing_program_export_costs_training_neither_model_pt_nor_evaluation(
    train_cfg, monkeypatch, caplog
):
    from migraseg.training import run

    def unexportable(*args, **kwargs):
        raise RuntimeError("an operator torch.export cannot trace")

    monkeypatch.setattr(run, "export_program", unexportable)
    result = run.train(train_cfg)
    assert result["program_path"] is None and result["model_path"].endswith("model.pt")
    assert result["metrics"] is not None  # evaluated all the same
    assert "model.pt2 not written (RuntimeError: an operator" in caplog.text
