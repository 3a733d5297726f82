"""Every command the README shows runs here at small sizes, so the documentation cannot rot.

``README_RUNS`` maps each command of the README's ``bash`` blocks to what this test runs: the
same command with overrides that make it small (a tiny U-Net, 128² images, a few steps) and with
placeholders such as ``outputs/<run>/model.pt`` replaced by files this session made. A README
command missing from the map fails ``test_every_readme_command_is_run_here``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from migraseg.utils.config import CONFIG_DIR

REPO = Path(CONFIG_DIR).parent
README = REPO / "README.md"
BIN = Path(sys.executable).parent

SMALL = (
    "model=unet_tiny logger=none trainer=cpu trainer.max_epochs=1 trainer.limit_train_batches=2"
    " trainer.limit_val_batches=1 callbacks.progress_bar=null data.patch_size=64"
    " data.batch_size=2 data.samples_per_epoch=4 predict.tile_size=128 predict.device=cpu"
    " hydra.run.dir=run"
)
SMALL_SYNTH = (
    "data.synthesize.n=4 data.synthesize.workers=1"
    " data.synthesize.simulator.confocal.image_size_px=[128,128]"
    " data.synthesize.simulator.confocal.pixel_size_um=[0.2,0.2]"
)


TINY_MIX = (
    "data.synthetic_mix_source.n=3 data.synthetic_mix_source.workers=1"
    " \"data.synthetic_mix_source.overrides=['confocal.image_size_px=[128,128]',"
    "'confocal.pixel_size_um=[0.2,0.2]']\""
)


def small_eval_sets(*names: str) -> str:
    """Overrides shrinking simulated eval sets to 2 images of 128², keeping their own pins."""
    out = []
    for name in names:
        recipe = yaml.safe_load((Path(CONFIG_DIR) / "eval" / "sets" / f"{name}.yaml").read_text())
        pins = [*recipe[name]["synthesize"]["overrides"], "confocal.image_size_px=[128,128]"]
        quoted = ",".join('"' + p + '"' for p in pins).replace("{", "{{").replace("}", "}}")
        out += [
            f"eval.sets.{name}.synthesize.n=2",
            f"'eval.sets.{name}.synthesize.overrides=[{quoted}]'",
        ]
    return " ".join(out)


# README command -> the bash line run for it in a fresh folder ({...}: files made here).
README_RUNS: dict[str, str] = {
    # make train runs `migraseg-train experiment=quickstart` after installing (checked by
    # test_make_train_runs_the_quickstart_experiment); make test and the development lines run
    # this very suite and its lint (.ci/run).
    "make train": "",
    "make test": "",
    "make lint": "",
    # runs in tests/test_import_annotations.py::test_documented_commands_run, on ROI sets it makes
    "migraseg-import fiji/ my_dataset/": "",
    '.venv/bin/pytest -m "not slow"': "",
    # installs nothing here (tests stay offline and fast): pip resolves the project's metadata;
    # tests/test_packaging.py installs the built wheel in a fresh venv and runs the shipped model
    "pip install .": "pip install --dry-run --no-deps --no-index --no-build-isolation -q {repo}",
    "migraseg-predict confocal my_images/ --out pred/": (
        "mkdir my_images && cp {image} my_images/a.tif"
        " && migraseg-predict confocal my_images/ --out pred/ && test -s pred/a_migrasomes.csv"
    ),
    "migraseg-eval models=[confocal,classical] data_root=my_dataset split=all": (
        "migraseg-eval models=[confocal,classical] data_root={tiny} split=all hydra.run.dir=eval"
        " && grep -q confocal eval/metrics.json"
    ),
    "migraseg-train experiment=finetune init_from=confocal data=tiff_folder data.root=my_dataset": (
        "migraseg-train experiment=finetune init_from=confocal data=tiff_folder data.root={tiny}"
        f" data.synthesize=null {SMALL} {TINY_MIX} paths.data_dir=data && test -s run/model.pt"
    ),
    "migraseg-train experiment=quickstart": (  # starts from the shipped model's ResNet-18
        f"migraseg-train experiment=quickstart {SMALL} {SMALL_SYNTH} paths.data_dir=data"
        " && grep -q 'init_from: confocal' run/config_resolved.yaml"
        " && grep -q 'encoder_name: resnet18' run/config_resolved.yaml"
    ),
    "migraseg-train data=tiff_folder data.root=/data/my_dataset": (
        f"migraseg-train data=tiff_folder data.root={{tiny}} data.synthesize=null {SMALL}"
    ),
    # no GPU here: the command must compose to what it says
    "migraseg-train model.encoder_name=resnet50 trainer=gpu": (
        "migraseg-train model.encoder_name=resnet50 trainer=gpu --cfg job"
        " | grep -q 'encoder_name: resnet50'"
    ),
    "migraseg-train experiment=quickstart --cfg job": (
        "migraseg-train experiment=quickstart --cfg job | grep -q 'preset: confocal_generalist'"
    ),
    "migraseg-eval models=[outputs/<run>/model.pt,classical] "
    "eval/sets=[family_widefield,family_nucleus]": (
        "migraseg-eval models=[{model},classical] eval/sets=[family_widefield,family_nucleus] "
        + small_eval_sets("family_widefield", "family_nucleus")
        + " paths.data_dir=data hydra.run.dir=eval && test -s eval/report.html"
    ),
    "migraseg-eval 'models={unet:run1/model.pt,fiji:classical}' data_root=/data/lab_a split=all": (
        "migraseg-eval 'models={{unet:{model},fiji:classical}}' data_root={tiny} split=all"
        " hydra.run.dir=eval && grep -q fiji eval/metrics.json"
    ),
    "migraseg-eval models=[outputs/<run>/model.pt,classical] data_root=my_dataset split=all": (
        "migraseg-eval models=[{model},classical] data_root={tiny} split=all hydra.run.dir=eval"
        " && test -s eval/metrics.json"
    ),
    "migraseg-train experiment=finetune init_from=outputs/<run>/model.pt data=tiff_folder "
    "data.root=my_dataset": (
        "migraseg-train experiment=finetune init_from={model} data=tiff_folder data.root={tiny}"
        f" data.synthesize=null {SMALL} {TINY_MIX} paths.data_dir=data && test -s run/model.pt"
    ),
    "migraseg-predict model.pt screen/ --out predictions/ --shard 1/2": (
        "cp {model} model.pt && mkdir screen && cp {image} screen/a.tif && cp {image} screen/b.tif"
        " && migraseg-predict model.pt screen/ --out predictions/ --shard 1/2"
        " && test -s predictions/summary.shard-1-of-2.csv"
    ),
    "migraseg-predict model.pt screen/ --out predictions/ --shard 2/2": (
        "cp {model} model.pt && mkdir screen && cp {image} screen/a.tif && cp {image} screen/b.tif"
        " && migraseg-predict model.pt screen/ --out predictions/ --shard 2/2"
        " && test -s predictions/summary.shard-2-of-2.csv"
    ),
    "migraseg-predict model.pt screen/ --out predictions/": (
        "cp {model} model.pt && mkdir screen && cp {image} screen/a.tif && cp {image} screen/b.tif"
        " && migraseg-predict model.pt screen/ --out predictions/ --shard 1/2"
        " && migraseg-predict model.pt screen/ --out predictions/ --shard 2/2"
        " && migraseg-predict model.pt screen/ --out predictions/ | grep -q '0 done, 2 skipped'"
        " && test -s predictions/summary.csv"
    ),
    "migraseg-predict model.pt my_images/ more/*.tif one_file.ome.tif --out predictions/": (
        "cp {model} model.pt && mkdir my_images more && cp {image} my_images/a.tif"
        " && cp {image} more/b.tif && cp {image} one_file.ome.tif"
        " && migraseg-predict model.pt my_images/ more/*.tif one_file.ome.tif --out predictions/"
        " && test -s predictions/one_file_labels.tif && test -s predictions/summary.csv"
    ),
    "migraseg-export outputs/<run>/checkpoints/<best>.ckpt model.pt --onnx "
    "--bioimageio model.bioimageio.zip": (
        "migraseg-export {ckpt} model.pt --onnx --bioimageio model.bioimageio.zip"
        " && test -s model.onnx && test -s model.bioimageio.zip"
    ),
    # no GPUs here: composes to 4 devices of DDP
    "migraseg-train trainer=ddp trainer.devices=4 data=tiff_folder data.root=/data/set": (
        "migraseg-train trainer=ddp trainer.devices=4 data=tiff_folder data.root=/data/set"
        " --cfg job | grep -q 'devices: 4'"
    ),
    # submitted to the fake sbatch of tests/test_ddp_cluster.py (see its fixture)
    "migraseg-train -m hydra/launcher=slurm hydra.launcher.partition=gpu trainer=gpu seed=0,1,2": (
        "migraseg-train -m hydra/launcher=slurm hydra.launcher.partition=gpu trainer=gpu"
        " seed=0,1,2 || true; grep -q 'array=0-2' submitted.sbatch  # the fake jobs never run"
    ),
    # sbatch runs the script on a node; here bash runs it with a fake srun that prints
    "sbatch scripts/slurm/train.sbatch experiment=quickstart": (
        "SLURM_JOB_ID=7 bash {repo}/scripts/slurm/train.sbatch experiment=quickstart"
        " | grep -q 'experiment=quickstart'"
    ),
    "migraseg-synth data/my_synth --preset confocal_generalist --n 200 --seed 1 --workers 2": (
        "migraseg-synth data/my_synth --preset confocal_generalist --n 2 --seed 1 --workers 2"
        " --size 96 && test -s data/my_synth/dataset.yaml"
    ),
    "migraseg-synth data/my_tem --modality tem --n 100": (
        "migraseg-synth data/my_tem --modality tem --n 1 --size 96"
        " && test -s data/my_tem/dataset.yaml"
    ),
    "migraseg-synth --list": "migraseg-synth --list | grep confocal_generalist",
}


def readme_blocks(language: str) -> list[str]:
    """The README's fenced code blocks of ``language``."""
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def readme_commands() -> list[str]:
    """Shell commands of the README (continuation lines joined, comments dropped)."""
    commands = []
    for block in readme_blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command:
                commands.append(re.sub(r"\s+", " ", command))
    return commands


def test_every_readme_command_is_run_here():
    missing = [c for c in readme_commands() if c not in README_RUNS]
    stale = [c for c in README_RUNS if c not in readme_commands()]
    assert not missing, f"README commands without a test here: {missing}"
    assert not stale, f"tested commands the README no longer shows: {stale}"


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c, run in README_RUNS.items() if run])
def test_readme_command_runs(command, trained, tiny_dataset, fake_slurm, tmp_path):
    image = next((tiny_dataset / "images").glob("*.tif"))
    line = README_RUNS[command].format(
        repo=REPO,
        tiny=tiny_dataset,
        model=trained["model_path"],
        ckpt=trained["checkpoint"],
        image=image,
    )
    path = os.pathsep.join([str(fake_slurm), str(BIN), os.environ["PATH"]])
    env = {**os.environ, "PATH": path, "FAKE_SLURM_OUT": str(tmp_path / "submitted.sbatch")}
    proc = subprocess.run(
        ["bash", "-c", f"set -eo pipefail; {line}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{line}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_train_runs_the_quickstart_experiment():
    proc = subprocess.run(
        ["make", "-s", "-n", "-C", str(REPO), "train", f"VENV={BIN.parent}"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].endswith("migraseg-train experiment=quickstart")


def test_readme_python_runs_without_migraseg(trained, tmp_path):
    (code,) = readme_blocks("python")
    shutil.copy(trained["model_path"], tmp_path / "model.pt")
    check = "\nassert logits.shape == (1, 4, 512, 512) and 'migraseg' not in sys.modules"
    proc = subprocess.run(
        [sys.executable, "-I", "-c", "import sys\n" + code + check],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
