"""Nothing lost, nothing run that should not be (issue 16): one test per fault found by an
adversarial pass, numbered as in the issue, then the "also wrong" list.

docs/bad_inputs.md lists each guarded input, what it gets, and the test here that covers it.
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
import yaml

from migraseg.data.contract import DatasetError, load_dataset
from migraseg.export import export_onnx, export_torchscript
from migraseg.inference import file_writer, predict_files
from migraseg.inference.loading import ModelLoadError, choose_model_file, load_model
from migraseg.inference.predict_files import (
    MANIFEST,
    BatchPredictor,
    OutputFolderError,
    PredictOptions,
    expand_inputs,
)
from migraseg.inference.predictor import Predictor
from migraseg.io import read_image
from migraseg.measure.tables import read_csv
from migraseg.model_meta import ModelMeta
from migraseg.models import build_model
from migraseg.training.checkpointing import find_resume_checkpoint, is_readable_checkpoint
from tests.conftest import TEST_OVERRIDES, compose_config, make_tiny_dataset
from tests.test_predict_files import ORACLE_META, ClassBands, as_image, write_imagej

BIN = Path(sys.executable).parent
TINY = {"encoder_name": "tu-test_resnet", "encoder_depth": 3, "decoder_channels": [16, 8, 8]}


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    return export_torchscript(ClassBands(), ORACLE_META, tmp_path_factory.mktemp("m") / "oracle.pt")


@pytest.fixture(scope="module")
def masks(tiny_dataset):
    """(mask, true migrasome count) of two simulated images with different counts."""
    items = []
    for path in sorted((tiny_dataset / "masks").glob("*.tif")):
        n = len(np.unique(read_image(tiny_dataset / "instances" / path.name)[0])) - 1
        if not items or n != items[0][1]:
            items.append((read_image(path)[0], n))
        if len(items) == 2:
            return items
    raise AssertionError("the tiny dataset has no two images with different counts")


def run(model, inputs, out, tile_size=128, **options):
    predictor = Predictor.from_path(model, device="cpu", tile_size=tile_size)
    paths, problems = expand_inputs([str(p) for p in inputs], Path(out))
    return problems + BatchPredictor(predictor, out, PredictOptions(**options)).run(paths)


def predict_cli(*args) -> int:
    """migraseg-predict in this process (its SIGTERM handler is put back afterwards)."""
    from migraseg.cli.predict import main

    handler = signal.getsignal(signal.SIGTERM)
    try:
        return main([str(a) for a in args])
    except SystemExit as stop:  # argparse usage errors
        return stop.code
    finally:
        signal.signal(signal.SIGTERM, handler)


def hidden(folder: Path) -> list[str]:
    """Hidden files of a folder other than the manifest (leftover temporaries)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != MANIFEST)


# --- 1. a user's files are never overwritten -------------------------------------------------
def test_1_user_files_in_out_are_never_overwritten(oracle, masks, tmp_path, capsys):
    mask, _ = masks[0]
    inout = tmp_path / "inout"
    inout.mkdir()
    write_imagej(inout / "a.tif", as_image(mask), "YX")
    write_imagej(inout / "b.tif", as_image(mask), "YX")
    (inout / "a_labels.tif").write_bytes(b"my hand-made mask")
    (inout / "summary.csv").write_text("my,own\n1,2\n")

    assert predict_cli(oracle, inout, "--out", inout) == 2
    assert "is an input folder" in capsys.readouterr().err
    assert predict_cli(oracle, inout, "--out", inout, "--overwrite") == 2
    assert "summary.csv exists and was not written by migraseg" in capsys.readouterr().err
    assert (inout / "summary.csv").read_text() == "my,own\n1,2\n"

    (inout / "summary.csv").rename(tmp_path / "kept.csv")
    assert predict_cli(oracle, inout, "--out", inout, "--overwrite") == 1
    captured = capsys.readouterr()
    assert "a_labels.tif in" in captured.err and "not written by migraseg" in captured.err
    assert "1 done, 0 skipped (already done), 1 failed" in captured.out
    assert (inout / "a_labels.tif").read_bytes() == b"my hand-made mask"
    assert (inout / "b_labels.tif").is_file()
    manifest = json.loads((inout / MANIFEST).read_text())
    assert "b_labels.tif" in manifest["outputs"] and "a_labels.tif" not in manifest["outputs"]
    assert set(manifest["inputs"]) == {"b"}


# --- 2. another file's results are never reported -------------------------------------------
def test_2_skip_only_the_same_input_and_model(oracle, masks, tmp_path):
    (mask1, n1), (mask2, n2) = masks
    for folder, mask in (("c1", mask1), ("c2", mask2)):
        (tmp_path / folder).mkdir()
        write_imagej(tmp_path / folder / "x.tif", as_image(mask), "YX")
    out = tmp_path / "o"
    assert run(oracle, [tmp_path / "c1"], out)[0].status == "done"
    assert run(oracle, [tmp_path / "c1"], out)[0].status == "skipped"
    (report,) = run(oracle, [tmp_path / "c2"], out)
    assert report.status == "done" and report.migrasomes == n2 != n1
    assert [int(r["n_migrasomes"]) for r in read_csv(out / "summary.csv")] == [n2]
    assert [int(r["n_migrasomes"]) for r in read_csv(out / "x_summary.csv")] == [n2]

    # the same path with new content (size or mtime changed) is redone
    write_imagej(tmp_path / "c2" / "x.tif", as_image(mask1), "YX")
    os.utime(tmp_path / "c2" / "x.tif", ns=(1, 1))
    (report,) = run(oracle, [tmp_path / "c2"], out)
    assert report.status == "done" and report.migrasomes == n1
    # another model (other weights file) into the old --out: redone
    other = export_torchscript(
        ClassBands(), replace(ORACLE_META, dataset="other"), tmp_path / "other.pt"
    )
    assert run(other, [tmp_path / "c2"], out)[0].status == "done"
    assert run(other, [tmp_path / "c2"], out)[0].status == "skipped"
    # other options that change the outputs: redone
    assert run(other, [tmp_path / "c2"], out, save_probs=True)[0].status == "done"


# --- 3. a checkpoint cannot run code -----------------------------------------------------------
class Payload:
    """What a malicious checkpoint pickles: unpickling it would create ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_3_a_pickled_payload_in_a_checkpoint_does_not_run(tmp_path):
    torch.manual_seed(0)
    net = build_model(**TINY)
    meta = ModelMeta(
        in_channels=1, pixel_size_um=0.1, patch_size=64, model={**TINY, "in_channels": 1}
    )
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    ours = {
        "state_dict": state,
        "hyper_parameters": {"meta": meta.to_dict()},
        "loops": {},
        "optimizer_states": [],
    }
    torch.save(ours, tmp_path / "ours.ckpt")
    loaded, loaded_meta = load_model(tmp_path / "ours.ckpt")  # ours load with weights_only
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net.eval()(x))
    assert loaded_meta == meta and is_readable_checkpoint(tmp_path / "ours.ckpt") is None

    marker = tmp_path / "pwned"
    torch.save({**ours, "hyper_parameters": {"meta": Payload(marker)}}, tmp_path / "evil.ckpt")
    with pytest.raises(ModelLoadError, match=r"evil\.ckpt: cannot load model"):
        load_model(tmp_path / "evil.ckpt")
    assert is_readable_checkpoint(tmp_path / "evil.ckpt") is not None
    assert not marker.exists()


@pytest.mark.slow
def test_3_our_lightning_checkpoints_load_with_weights_only(trained):
    assert is_readable_checkpoint(Path(trained["checkpoint"])) is None
    net, meta = load_model(trained["checkpoint"])
    with torch.no_grad():
        assert net(torch.rand(1, meta.in_channels, 64, 64)).shape == (1, 4, 64, 64)


# --- 4. absurd rescale factors are refused, big runs announced ------------------------------
def test_4_absurd_rescale_is_refused_unless_forced_and_big_runs_are_estimated(
    oracle, masks, tmp_path, monkeypatch, capsys
):
    mask, _ = masks[0]
    write_imagej(tmp_path / "a.tif", as_image(mask), "YX", pixel_size=10.0)  # 50× the model's
    write_imagej(tmp_path / "small.tif", as_image(mask)[:16, :16], "YX", pixel_size=2.0)
    write_imagej(tmp_path / "tiny.tif", as_image(mask), "YX", pixel_size=0.001)
    reports = {r.path.name: r for r in run(oracle, list(tmp_path.glob("*.tif")), tmp_path / "o")}
    assert reports["a.tif"].status == "failed"
    assert "upscaled 50×" in reports["a.tif"].message
    assert "6400×6400 px model grid" in reports["a.tif"].message
    assert "if it is in nm, that is 0.01 µm" in reports["a.tif"].message
    assert "--force" in reports["a.tif"].message
    assert "downscaled 200×" in reports["tiny.tif"].message
    assert reports["small.tif"].status == "failed"  # 10× too

    notes = []

    class Recorder(predict_files.NoProgress):
        def note(self, message):
            notes.append(message)

    monkeypatch.setattr(predict_files, "BIG_TILES", 1)
    predictor = Predictor.from_path(oracle, device="cpu", tile_size=64)
    options = PredictOptions(force=True)
    (report,) = BatchPredictor(predictor, tmp_path / "f", options, Recorder()).run(
        [tmp_path / "small.tif"]
    )
    assert report.status == "done"
    assert read_image(tmp_path / "f" / "small_labels.tif")[0].shape == (16, 16)
    estimates = [n for n in notes if not n.startswith("WARNING")]
    assert len(estimates) == 1 and "model grid 160×160 px" in estimates[0]
    assert "about" in estimates[0]
    assert "10.0× larger than the model's" in report.warnings[0]  # forced, still warned

    assert predict_cli(oracle, tmp_path / "a.tif", "--out", tmp_path / "g", "--pixel-size", 65) == 2
    assert "if it is in nm, that is 0.065 µm" in capsys.readouterr().err


# --- 5. screen resolutions are not calibrations ---------------------------------------------
@pytest.mark.parametrize("dpi", [72, 96, 150, 300, 600])
@pytest.mark.parametrize("unit", ["INCH", "CENTIMETER"])
def test_5_screen_and_print_resolutions_are_no_calibration(tmp_path, dpi, unit):
    per_unit = dpi if unit == "INCH" else dpi / 2.54  # 72 dpi = 28.35 px/cm (GIMP, Photoshop)
    path = tmp_path / "screen.tif"
    tifffile.imwrite(
        path, np.zeros((8, 8), np.uint8), resolution=(per_unit, per_unit), resolutionunit=unit
    )
    assert read_image(path)[1]["pixel_size_um"] is None
    tifffile.imwrite(  # a real calibration in centimetres is still read: 0.2 µm/px
        path, np.zeros((8, 8), np.uint8), resolution=(5e4, 5e4), resolutionunit=unit
    )
    expected = 0.2 if unit == "CENTIMETER" else 25400 / 5e4
    assert read_image(path)[1]["pixel_size_um"] == pytest.approx(expected)


# --- 6 and 7. symlink loops and FIFOs are named and skipped; named outputs are not dropped ---
def test_6_7_symlink_loops_fifos_and_named_outputs_are_reported(oracle, masks, tmp_path):
    mask, n = masks[0]
    folder = tmp_path / "in"
    folder.mkdir()
    write_imagej(folder / "good.tif", as_image(mask), "YX")
    os.symlink("loop.tif", folder / "loop.tif")
    os.symlink(folder / "gone.tif", folder / "dangling.tif")
    os.mkfifo(folder / "pipe.tif")
    out = tmp_path / "out"
    start = time.monotonic()
    reports = {r.path.name: r for r in run(oracle, [folder], out)}
    assert time.monotonic() - start < 60  # the FIFO was not opened (it would block for ever)
    assert reports["good.tif"].status == "done" and reports["good.tif"].migrasomes == n
    assert "loop.tif: symbolic link loop; skipped" in reports["loop.tif"].message
    assert "broken symbolic link" in reports["dangling.tif"].message
    assert "pipe.tif: not a regular file (a FIFO); skipped" in reports["pipe.tif"].message
    assert [r["image"] for r in read_csv(out / "summary.csv")] == ["good.tif"]
    # an output named explicitly as an input is reported, not silently dropped
    paths, problems = expand_inputs([str(out / "good_labels.tif")], out)
    assert paths == [] and "an output of migraseg in --out" in problems[0].message
    shutil.copy(folder / "good.tif", out / "mine_labels.tif")  # not ours: named, so taken
    assert expand_inputs([str(out / "mine_labels.tif")], out) == ([out / "mine_labels.tif"], [])


# --- 8. a full disk fails one file, cleanly ----------------------------------------------------
def test_8_full_disk_with_probs_fails_that_file_and_cleans_up(oracle, masks, tmp_path, monkeypatch):
    mask, _ = masks[0]
    for name in ("a", "b", "c"):
        write_imagej(tmp_path / f"{name}.tif", as_image(mask), "YX")
    real = shutil.disk_usage
    calls = []

    def first_call_full(path):
        calls.append(path)
        usage = real(path)
        return usage._replace(free=1000) if len(calls) == 1 else usage

    def no_room(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(file_writer.shutil, "disk_usage", first_call_full)
    out = tmp_path / "out"
    predictor = Predictor.from_path(oracle, device="cpu", tile_size=128)
    bp = BatchPredictor(predictor, out, PredictOptions(save_probs=True))
    a = bp.run([tmp_path / "a.tif", tmp_path / "b.tif"])
    assert [r.status for r in a] == ["failed", "done"]
    assert "not enough free space" in a[0].message and "--probs needs" in a[0].message
    monkeypatch.setattr(file_writer.os, "posix_fallocate", no_room)
    (c,) = bp.run([tmp_path / "c.tif"])
    assert c.status == "failed" and "disk full" in c.message
    assert hidden(out) == []
    assert not (out / "a_labels.tif").exists() and not (out / "c_probs.tif").exists()
    assert (out / "b_probs.tif").is_file()


# --- 9. a stale ONNX file is never run ----------------------------------------------------------
@pytest.mark.export
def test_9_stale_onnx_is_removed_on_export_and_never_run(tmp_path):
    meta = ModelMeta(
        in_channels=1, pixel_size_um=0.1, patch_size=64, model={**TINY, "in_channels": 1}
    )
    torch.manual_seed(0)
    old, new = build_model(**TINY).eval(), build_model(**TINY).eval()
    pt = export_torchscript(old, meta, tmp_path / "model.pt")
    onnx = export_onnx(old, meta, tmp_path / "model.onnx")
    assert choose_model_file(pt, "auto", "cpu") == onnx  # the matching export runs on CPU
    shutil.copy(onnx, tmp_path / "old.onnx")
    with pytest.warns(UserWarning, match=r"removed .*model\.onnx: it held other weights"):
        export_torchscript(new, meta, pt)  # re-exported without --onnx
    assert not onnx.exists()

    shutil.copy(pt, tmp_path / "new.pt")
    shutil.copy(tmp_path / "old.onnx", tmp_path / "new.onnx")  # an old network beside the new .pt
    with pytest.warns(UserWarning, match=r"new\.onnx not used: it holds other weights"):
        assert choose_model_file(tmp_path / "new.pt", "auto", "cpu") == tmp_path / "new.pt"
    with pytest.raises(ModelLoadError, match=r"not the export of new\.pt"):
        choose_model_file(tmp_path / "new.pt", "onnx", "cpu")


def test_9_predict_names_the_backend_and_file_it_ran(oracle, masks, tmp_path, capsys):
    write_imagej(tmp_path / "a.tif", as_image(masks[0][0]), "YX")
    assert predict_cli(oracle, tmp_path / "a.tif", "--out", tmp_path / "o", "--quiet") == 0
    captured = capsys.readouterr()
    assert f"running {oracle} on torchscript-frozen/cpu" in captured.err
    assert "on torchscript-frozen/cpu (oracle.pt)" in captured.out


# --- 10. export never writes TorchScript into an .onnx path ---------------------------------
def test_10_export_refuses_an_onnx_output_path(tmp_path, capsys):
    from migraseg.cli.export import main

    assert main([str(tmp_path / "run.ckpt"), str(tmp_path / "x.onnx"), "--onnx"]) == 2
    assert "give a .pt path" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --- 11. train/test leakage is a dataset error ------------------------------------------------
def test_11_a_test_stem_in_train_or_val_is_a_dataset_error(tiny_dataset, tmp_path):
    root = shutil.copytree(tiny_dataset, tmp_path / "leaky")
    info = yaml.safe_load((root / "dataset.yaml").read_text())
    leaked = info["splits"]["test"][0]
    info["splits"]["train"].append(leaked)
    (root / "dataset.yaml").write_text(yaml.safe_dump(info))
    with pytest.raises(DatasetError, match=rf"stems \['{leaked}'\] are in both splits 'train'"):
        load_dataset(root)


# --- 12. a one-image dataset trains, validating on its training image -----------------------
@pytest.mark.slow
def test_12_one_image_dataset_validates_on_its_training_image(tmp_path):
    from omegaconf import open_dict

    from migraseg.training.run import train

    root = make_tiny_dataset(tmp_path / "one", n=1)
    assert load_dataset(root).splits["val"] == []
    cfg = compose_config("train", [*TEST_OVERRIDES, f"data.root={root}", "evaluate=false"])
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "run")
    with pytest.warns(UserWarning, match="validating on the 1 training image"):
        result = train(cfg)
    assert Path(result["checkpoint"]).is_file() and Path(result["model_path"]).is_file()
    assert "val/dice_fg" in result["trainer_metrics"]


# --- 13. a class absent from every training mask is warned about at the start ----------------
def test_13_classes_absent_from_all_training_masks_are_warned(tiny_dataset, tmp_path):
    from migraseg.data.datamodule import SegmentationDataModule

    root = shutil.copytree(tiny_dataset, tmp_path / "background")
    for path in (root / "masks").glob("*.tif"):
        mask, _ = read_image(path)
        tifffile.imwrite(path, np.where(mask == 1, 1, 0).astype(mask.dtype))  # cells only
    dm = SegmentationDataModule(str(root), patch_size=64)
    with pytest.warns(UserWarning, match="retraction_fiber, migrasome appear in no training"):
        dm.setup("fit")


# --- also wrong -------------------------------------------------------------------------------
@pytest.mark.slow
def test_hydra_apps_print_our_errors_without_a_traceback(tmp_path):
    proc = subprocess.run(
        [
            BIN / "migraseg-train",
            *TEST_OVERRIDES,
            f"data.root={tmp_path / 'missing'}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert f"migraseg-train: dataset {tmp_path / 'missing'} has 1 problem(s)" in proc.stderr
    assert "Error executing job" not in proc.stderr and "Traceback" not in proc.stderr


BAD_OPTIONS = {
    ("--pixel-size", "0"): "--pixel-size must be a positive number",
    ("--pixel-size", "-1"): "--pixel-size must be a positive number",
    ("--pixel-size", "nan"): "--pixel-size must be a positive number",
    ("--tile-size", "0"): "--tile-size must be a positive multiple of 32",
    ("--tile-size", "100"): "--tile-size must be a positive multiple of 32",
    ("--batch-size", "0"): "--batch-size must be at least 1",
    ("--overlap", "1"): "--overlap is a fraction of a tile in [0, 1)",
    ("--overlap", "-0.1"): "--overlap is a fraction of a tile in [0, 1)",
    ("--device", "gpu"): "not a device",
}


@pytest.mark.parametrize("option,message", BAD_OPTIONS.items())
def test_bad_option_values_are_usage_errors(option, message, tmp_path, capsys):
    assert predict_cli("m.pt", "in", "--out", tmp_path / "o", *option) == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_usage_error(tmp_path, capsys):
    assert predict_cli("m.pt", "in", "--out", tmp_path / "o", "--device", "cuda") == 2
    assert "no CUDA GPU is available" in capsys.readouterr().err


def test_an_unusable_out_is_refused_once_up_front(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert predict_cli("m.pt", "in", "--out", tmp_path / "file") == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert predict_cli("m.pt", "in", "--out", "/proc/migraseg-out") == 2
    assert "cannot write there" in capsys.readouterr().err


def test_stale_temporaries_of_an_output_are_removed_by_the_next_run(oracle, masks, tmp_path):
    write_imagej(tmp_path / "a.tif", as_image(masks[0][0]), "YX")
    out = tmp_path / "out"
    out.mkdir()
    stale = [out / ".a_labels.k1ll3d_x.tmp.tif", out / ".a_probs.abcdefgh.tmp.tif"]
    for p in stale:
        p.write_bytes(b"\0" * 1000)
    other = out / ".b_labels.abcdefgh.tmp.tif"  # another output's: not touched
    other.write_bytes(b"")
    assert run(oracle, [tmp_path / "a.tif"], out, save_probs=True)[0].status == "done"
    assert hidden(out) == [other.name]


@pytest.mark.slow
def test_sigterm_removes_the_unfinished_outputs_and_keeps_the_finished(oracle, masks, tmp_path):
    write_imagej(tmp_path / "a.tif", as_image(masks[0][0]), "YX")
    big = np.tile(as_image(masks[0][0]), (16, 16))  # 2048², a few seconds with --probs
    write_imagej(tmp_path / "big.tif", big, "YX")
    out = tmp_path / "out"
    command = [BIN / "migraseg-predict", oracle, tmp_path / "a.tif", tmp_path / "big.tif"]
    proc = subprocess.Popen(
        [*command, "--out", out, "--probs"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(n.startswith(".big") for n in hidden(out))):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "interrupted (SIGTERM)" in stderr
    assert hidden(out) == [] and not (out / "big_labels.tif").exists()
    assert [r["image"] for r in read_csv(out / "summary.csv")] == ["a.tif"]
    assert set(json.loads((out / MANIFEST).read_text())["inputs"]) == {"a"}


def test_when_every_checkpoint_is_corrupt_training_starts_over_and_sets_them_aside(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    for name in ("last.ckpt", "last.prev.ckpt"):
        (tmp_path / "checkpoints" / name).write_bytes(b"truncated")
    with pytest.warns(UserWarning) as record:
        assert find_resume_checkpoint(tmp_path) is None
    messages = [str(w.message) for w in record]
    assert sum("is unreadable" in m for m in messages) == 2
    assert "training starts over from epoch 0" in messages[-1]
    left = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert left == ["last.ckpt.corrupt", "last.prev.ckpt.corrupt"]


def test_eval_shape_errors_name_the_prediction_file(tiny_dataset, tmp_path):
    from migraseg.evaluation.harness import EvaluationSettings, evaluate
    from migraseg.evaluation.sets import EvalSet
    from migraseg.evaluation.sources import LabelFolderSource
    from migraseg.io import write_tiff

    stem = load_dataset(tiny_dataset).split("test")[0].stem
    write_tiff(tmp_path / f"{stem}_labels.tif", np.zeros((64, 64), np.uint8), 0.2)
    settings = EvaluationSettings(n_bootstrap=10, progress=False)
    with pytest.raises(ValueError, match=rf"{stem}_labels\.tif: prediction shape \(64, 64\)"):
        evaluate(
            {"small": LabelFolderSource(tmp_path)}, [EvalSet("t", tiny_dataset, "test")], settings
        )


def test_an_unreadable_manifest_is_named(oracle, tmp_path):
    (tmp_path / MANIFEST).write_text("{not json")
    predictor = Predictor.from_path(oracle, device="cpu")
    with pytest.raises(OutputFolderError, match="unreadable manifest"):
        BatchPredictor(predictor, tmp_path).run([])
