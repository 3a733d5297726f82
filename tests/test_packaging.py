"""A built wheel works outside a clone: its configs ship inside it, and the CLIs run from it.

The wheel is built from a copy of the source tree, installed into a fresh virtual environment
and run from a folder that is not the clone. The fresh environment borrows the dependencies of
this one (torch alone is gigabytes, and tests stay offline) through a ``.pth`` line naming this
environment's site-packages: a directory added that way has its own ``.pth`` files ignored, so
an editable migraseg installed here stays invisible there, and the wheel's migraseg comes first
on ``sys.path`` anyway. Each command checks that it ran the wheel's code, not the clone's.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
import tifffile

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("migraseg", "configs", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
TINY_TRAIN = [
    "init_from=null",  # quickstart starts from the shipped model: a tiny one from scratch here
    "model=unet_tiny",
    "logger=none",
    "trainer=cpu",
    "data.synthesize.n=4",
    "data.synthesize.workers=1",
    "data.synthesize.simulator.confocal.image_size_px=[128,128]",
    "data.synthesize.simulator.confocal.pixel_size_um=[0.2,0.2]",
    "data.patch_size=64",
    "data.batch_size=2",
    "data.samples_per_epoch=4",
    "predict.tile_size=128",
    "predict.device=cpu",
]

PIP = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
EDITABLE_OFFLINE = ["--no-build-isolation", "-e"]  # this environment's setuptools, editable

pytestmark = pytest.mark.slow


def copy_sources(dest: Path) -> Path:
    """What the sdist holds (MANIFEST.in), without caches or per-machine configs."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "local")
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=ignore)
        else:
            shutil.copy2(source, dest / name)
    return dest


def build_wheel(source: Path, dist: Path) -> Path:
    """``pip wheel`` without build isolation: offline, with this environment's setuptools."""
    offline = ["--no-index", "--no-deps", "--no-build-isolation"]
    subprocess.run([*PIP, "wheel", *offline, "-w", dist, source], check=True, capture_output=True)
    (wheel,) = dist.glob("migraseg-*.whl")
    return wheel


def fresh_venv(path: Path) -> Path:
    """A venv without pip whose ``sys.path`` ends with this environment's site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = {*site.getsitepackages(), sysconfig.get_paths()["purelib"]}
    Path(purelib, "_borrowed_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The built wheel installed in a fresh venv: its python, bin folder and a clean env."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(copy_sources(tmp / "src"), tmp / "dist")
    python = fresh_venv(tmp / "venv")
    subprocess.run(
        [*PIP, "--python", python, "install", "--no-index", "--no-deps", wheel],
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MIGRASEG_"))}
    env.update(PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}", WANDB_MODE="disabled")
    work = tmp / "work"  # not the clone: nothing here but what the commands write
    work.mkdir()
    return {"wheel": wheel, "python": python, "bin": python.parent, "env": env, "cwd": work}


def run(installed: dict, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args], cwd=installed["cwd"], env=installed["env"], capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def test_wheel_ships_every_tracked_config_and_no_local_one(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    shipped = {n.removeprefix("migraseg/configs/") for n in names if "/configs/" in n}
    in_repo = {
        str(p.relative_to(REPO / "configs"))
        for p in (REPO / "configs").rglob("*.yaml")
        if p.relative_to(REPO / "configs").parts[0] != "local"
    }
    assert shipped == in_repo
    assert not any(n.startswith("configs/") for n in names)  # no top-level `configs` package


def test_wheel_ships_the_napari_manifest_and_registers_it(installed):
    wheel = zipfile.ZipFile(installed["wheel"])
    assert "migraseg/napari.yaml" in wheel.namelist()
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "[napari.manifest]" in text and "migraseg = migraseg:napari.yaml" in text


def test_installed_package_runs_its_own_code_and_configs(installed):
    code = (
        "import json, migraseg, migraseg.utils.config as c; "
        "print(json.dumps([migraseg.__file__, c.CONFIG_DIR]))"
    )
    package, config_dir = json.loads(run(installed, installed["python"], "-c", code).stdout)
    venv = installed["python"].parent.parent
    assert Path(package).is_relative_to(venv)
    assert Path(config_dir) == Path(package).parent / "configs"


def test_cli_from_the_wheel_outside_the_clone(installed):
    """migraseg-synth, -train (debug=fdr, then a short run), -export and -predict (.pt2)."""
    bin_, cwd = installed["bin"], installed["cwd"]
    which = run(installed, bin_ / "migraseg-synth", "--list").stdout.split()
    assert {"confocal", "tem"} <= set(which)
    synth = bin_ / "migraseg-synth"
    run(installed, synth, "tem_set", "--preset", "tem", "--n", "2", "--size", "96")
    assert (cwd / "tem_set" / "dataset.yaml").is_file()

    run(installed, bin_ / "migraseg-train", "experiment=quickstart", "debug=fdr", *TINY_TRAIN)
    assert (cwd / "data" / "synthetic_confocal_generalist" / "dataset.yaml").is_file()

    run(
        installed, bin_ / "migraseg-train", "experiment=quickstart", "debug=limit",
        "trainer.max_epochs=1", "callbacks.progress_bar=null", "evaluate=false",
        "hydra.run.dir=run", *TINY_TRAIN,
    )  # fmt: skip
    (checkpoint,) = (cwd / "run" / "checkpoints").glob("epoch*.ckpt")
    assert (cwd / "run" / "model.pt").is_file() and (cwd / "run" / "model.pt2").is_file()

    run(installed, bin_ / "migraseg-export", checkpoint, "exported/model.pt")
    assert (cwd / "exported" / "model.pt").is_file() and (cwd / "exported" / "model.pt2").is_file()
    image = sorted((cwd / "data" / "synthetic_confocal_generalist" / "images").glob("*.tif"))[0]
    run(
        installed, bin_ / "migraseg-predict", "exported/model.pt2", image, "--out", "pred",
        "--tile-size", "128", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert (cwd / "pred" / f"{image.stem}_labels.tif").is_file()


def test_a_shipped_model_segments_straight_after_pip_install(installed):
    """The biologist's first command: no training, no download, the model named like a path;
    overlays, LUT labels, cell ids and the filterable columns come with it."""
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    assert {"migraseg/pretrained/confocal.ckpt", "migraseg/pretrained/tem.ckpt"} <= set(names)
    bin_, cwd = installed["bin"], installed["cwd"]
    run(installed, bin_ / "migraseg-synth", "my_images", "--n", "1", "--size", "128")
    run(
        installed, bin_ / "migraseg-predict", "confocal", "my_images/images", "--out", "pred",
        "--device", "cpu", "--quiet",
    )  # fmt: skip
    (labels,) = (cwd / "pred").glob("*_labels.tif")
    stem = labels.name.removesuffix("_labels.tif")
    assert (cwd / "pred" / "summary.csv").is_file()
    for suffix in ("_overlay.png", "_cells.tif", "_cells.csv"):
        assert (cwd / "pred" / f"{stem}{suffix}").stat().st_size > 0
    with tifffile.TiffFile(labels) as tif:
        assert "LUTs" in tif.imagej_metadata  # Fiji shows the classes in colour
    header = (cwd / "pred" / f"{stem}_migrasomes.csv").read_text().splitlines()[0].split(",")
    assert {"score", "circularity", "area_px", "site", "x_um"} <= set(header)


def test_editable_install_reads_the_clones_configs(tmp_path):
    """`make install` (pip install -e .) keeps working with the configs mapping of setup.py."""
    source = copy_sources(tmp_path / "src")
    python = fresh_venv(tmp_path / "venv")
    subprocess.run(
        [*PIP, "--python", python, "install", "--no-index", "--no-deps", *EDITABLE_OFFLINE, source],
        check=True,
        capture_output=True,
    )
    code = "import json, migraseg.utils.config as c; print(json.dumps(c.CONFIG_DIR))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = subprocess.run(
        [python, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert Path(json.loads(out.stdout)) == source / "configs"


def test_sdist_carries_the_configs_and_builds_the_same_wheel(tmp_path):
    """`python -m build` makes the sdist first and the wheel from it: both must hold configs."""
    source = copy_sources(tmp_path / "src")
    build = "from setuptools import build_meta as b; print(b.build_sdist(r'{}'))"
    name = subprocess.run(
        [sys.executable, "-c", build.format(tmp_path / "sdist")],
        cwd=source, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    with tarfile.open(tmp_path / "sdist" / name) as sdist:
        members = sdist.getnames()
        sdist.extractall(tmp_path / "unpacked", filter="data")
    top = name.removesuffix(".tar.gz")
    assert f"{top}/configs/train.yaml" in members and f"{top}/setup.py" in members
    assert f"{top}/migraseg/pretrained/confocal.ckpt" in members
    assert not any("/configs/local/" in m for m in members)
    wheel = build_wheel(tmp_path / "unpacked" / top, tmp_path / "dist")
    assert "migraseg/configs/train.yaml" in zipfile.ZipFile(wheel).namelist()
    assert "migraseg/napari.yaml" in zipfile.ZipFile(wheel).namelist()
