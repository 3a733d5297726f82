"""Fine-tuning: `migraseg-train experiment=finetune init_from=<model.pt or .ckpt> ...`."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from omegaconf import OmegaConf, open_dict

from migraseg.data.dataset import MixedPatchDataset
from migraseg.export import export_torchscript
from migraseg.io import read_image, write_tiff
from migraseg.model_meta import ModelMeta
from migraseg.models.factory import build_model
from migraseg.training.run import (
    TrainingInputError,
    load_init_weights,
    simulator_preset_of,
    train,
)
from migraseg.utils.torchscript import quiet_torchscript

from .conftest import TEST_OVERRIDES, compose_config, make_tiny_dataset

BIN = Path(sys.executable).parent
# the simulated images mixed in, at the tiny test size (the preset itself simulates 512²)
TINY_MIX = [
    "data.synthetic_mix_source.n=3",
    "data.synthetic_mix_source.workers=1",
    "data.synthetic_mix_source.overrides=["
    "'confocal.image_size_px=[128,128]','confocal.pixel_size_um=[0.2,0.2]']",
]


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    """Two annotated images of the kind a lab fine-tunes on (another seed than training)."""
    return make_tiny_dataset(tmp_path_factory.mktemp("lab") / "lab", n=2, seed=7)


def finetune_cfg(init: str, root: Path, out: Path, *extra: str):
    overrides = [*TEST_OVERRIDES, "experiment=finetune", f"init_from={init}", "data=tiff_folder"]
    overrides += [f"data.root={root}", f"paths.data_dir={out.parent / 'sim'}", *TINY_MIX, *extra]
    cfg = compose_config("train", overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    return cfg


def parameters(state: dict) -> dict:
    return {k: v for k, v in state.items() if "running" not in k and "num_batches" not in k}


def test_model_pt_and_checkpoint_give_the_same_weights(trained):
    from_pt = load_init_weights(trained["model_path"])
    from_ckpt = load_init_weights(trained["checkpoint"])
    assert from_pt.meta.to_dict() == from_ckpt.meta.to_dict()
    assert from_pt.state_dict.keys() == from_ckpt.state_dict.keys()
    for key, value in from_pt.state_dict.items():
        assert torch.equal(value, from_ckpt.state_dict[key]), key
    net = build_model(**{**from_pt.meta.model, "encoder_weights": None})
    net.load_state_dict(from_pt.state_dict)  # strict: traced names are the network's own


def test_a_resnet18_model_pt_as_make_train_writes_it_loads_by_name(tmp_path):
    cfg = compose_config("train", ["experiment=quickstart"])
    kwargs = {k: v for k, v in OmegaConf.to_container(cfg.model).items() if k != "_target_"}
    net = build_model(**{**kwargs, "in_channels": 1}).eval()
    meta = ModelMeta(in_channels=1, pixel_size_um=0.1, patch_size=64, model=kwargs)
    init = load_init_weights(export_torchscript(net, meta, tmp_path / "model.pt"))
    rebuilt = build_model(**{**init.meta.model, "encoder_weights": None})
    rebuilt.load_state_dict(init.state_dict)
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), net(x))


@pytest.mark.parametrize(
    ("dataset", "modality", "preset"),
    [
        ("synthetic_tem", "tem", "tem"),
        ("my_lab", "tem", "tem"),
        ("synthetic_unknown", "confocal", "confocal"),
    ],
)
def test_the_simulator_mixed_in_is_the_models_own_preset_else_its_modality(
    dataset, modality, preset
):
    meta = ModelMeta(1, 0.1, 64, {}, dataset=dataset, modality=modality)
    assert simulator_preset_of(meta) == preset


def test_mixed_patches_come_from_the_simulated_set_at_the_given_fraction():
    real, synthetic = [("real", k) for k in range(1000)], [("sim", k) for k in range(1000)]
    mixed = MixedPatchDataset(real, synthetic, 0.3, seed=0)
    sources = [mixed[k][0] for k in range(1000)]
    assert 0.25 < sources.count("sim") / 1000 < 0.35
    assert [mixed[k] for k in range(50)] == [mixed[k] for k in range(50)]  # keyed, repeatable
    assert mixed[7][1] == 7


@pytest.mark.slow
def test_finetune_starts_from_the_weights_only_and_takes_the_models_metadata(
    trained, small_set, tmp_path
):
    init = load_init_weights(trained["model_path"])
    out = tmp_path / "run"
    # lr 0: the parameters must stay those of the init model (batch-norm statistics still move)
    result = train(finetune_cfg(trained["model_path"], small_set, out, "optimizer.lr=0"))
    checkpoint = torch.load(result["checkpoint"], map_location="cpu", weights_only=False)
    assert checkpoint["epoch"] == 0 and checkpoint["global_step"] == 2  # a new run
    state = {k.removeprefix("net."): v for k, v in checkpoint["state_dict"].items()}
    for key, value in parameters(init.state_dict).items():
        assert torch.equal(state[key], value), key
    resolved = yaml.safe_load((out / "config_resolved.yaml").read_text())
    assert {k: v for k, v in resolved["model"].items() if k in init.meta.model} == {
        k: v for k, v in init.meta.model.items() if k != "in_channels"
    }
    assert resolved["data"]["pixel_size_um"] == init.meta.pixel_size_um
    assert resolved["postprocess"] == init.meta.postprocess
    assert resolved["data"]["synthetic_mix"] == 0.3
    assert resolved["data"]["synthetic_mix_source"]["preset"] == init.meta.modality
    assert (tmp_path / "sim" / "synthetic_confocal" / "dataset.yaml").is_file()  # mixed in
    # two images: all train, validated on themselves, scored and reported as seen in training
    assert result["trainer_metrics"]["val/n_images"] == 2
    (name,) = json.loads(Path(result["metrics_path"]).read_text())["sets"]
    assert name.endswith("/train (seen in training)")
    assert (out / "model.pt").is_file() and (out / "report.md").is_file()


def two_channel_copy(source: Path, root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for path in sorted((source / "images").glob("*.tif")):
        image, _ = read_image(path)
        write_tiff(root / "images" / path.name, np.stack([image, image]), 0.2, axes="CYX")
        mask, _ = read_image(source / "masks" / path.name)
        write_tiff(root / "masks" / path.name, mask, 0.2)
    info = {"name": "two", "modality": "confocal", "pixel_size_um": 0.2, "channels": ["a", "b"]}
    (root / "dataset.yaml").write_text(yaml.safe_dump(info))
    return root


def test_an_init_model_whose_channels_do_not_fit_is_refused_in_one_line(
    trained, small_set, tmp_path
):
    root = two_channel_copy(small_set, tmp_path / "two")
    out = tmp_path / "run"
    with pytest.raises(TrainingInputError, match=r"takes 1 channel\(s\).* has 2 \['a', 'b'\]") as e:
        train(finetune_cfg(trained["model_path"], root, out))
    assert "\n" not in str(e.value) and not out.exists()


def test_an_init_model_with_other_classes_or_an_onnx_file_is_refused(trained, small_set, tmp_path):
    extra = {"meta.json": ""}
    with quiet_torchscript():
        module = torch.jit.load(trained["model_path"], _extra_files=extra)
        meta = json.loads(extra["meta.json"])
        meta["class_names"] = ["background", "vesicle"]
        torch.jit.save(
            module, str(tmp_path / "other.pt"), _extra_files={"meta.json": json.dumps(meta)}
        )
    with pytest.raises(TrainingInputError, match=r"predicts 2 classes.*datasets have 4"):
        train(finetune_cfg(tmp_path / "other.pt", small_set, tmp_path / "run"))
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(TrainingInputError, match="ONNX file cannot be trained"):
        train(finetune_cfg(tmp_path / "model.onnx", small_set, tmp_path / "run"))
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_the_documented_finetune_command_runs(trained, small_set, tmp_path):
    """docs/finetuning.md's command, at the tiny test size."""
    out = tmp_path / "run"
    doc = (Path(__file__).parents[1] / "docs" / "finetuning.md").read_text()
    (command,) = re.findall(r"^migraseg-train .*$", doc, flags=re.MULTILINE)
    places = {"init_from": trained["model_path"], "data.root": small_set}

    def fill(token: str) -> str:  # the documented paths -> this session's files
        key = token.split("=")[0]
        return f"{key}={places[key]}" if key in places else token

    args = [
        BIN / "migraseg-train",
        *map(fill, command.split()[1:]),
        *TEST_OVERRIDES,
        *TINY_MIX,
        f"paths.data_dir={tmp_path / 'sim'}",
        f"hydra.run.dir={out}",
    ]
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list((out / "checkpoints").glob("*.ckpt"))
    assert (out / "model.pt").is_file() and (out / "metrics.json").is_file()
    assert (out / "report.md").is_file()
    # bad input: one line, nothing trained
    bad = [
        f"init_from={tmp_path / 'missing.pt'}" if str(a).startswith("init_from=") else a
        for a in args[:-1]
    ]
    proc = subprocess.run(
        [str(a) for a in [*bad, f"hydra.run.dir={tmp_path / 'bad'}"]],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("migraseg-train: init_from:")
    assert "model file not found" in proc.stderr
    assert not (tmp_path / "bad" / "checkpoints").exists()


def test_simulated_images_with_other_channels_than_the_data_are_refused(small_set, tmp_path):
    root = two_channel_copy(small_set, tmp_path / "two")
    mix = ["data.synthetic_mix=0.3", f"paths.data_dir={tmp_path / 'sim'}", *TINY_MIX]
    cfg = compose_config("train", [*TEST_OVERRIDES, "data=tiff_folder", f"data.root={root}", *mix])
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "run")
    with pytest.raises(TrainingInputError, match=r"simulates 1 channel\(s\), .* has 2"):
        train(cfg)
    assert not (tmp_path / "run").exists()
