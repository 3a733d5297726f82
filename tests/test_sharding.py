"""migraseg-predict --shard K/N: disjoint shards sharing one --out, a merge that redoes
nothing, resumable killed shards, and usage errors for impossible shards."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from migraseg.export import export_torchscript
from migraseg.inference import file_writer, sharding
from migraseg.inference.sharding import Shard, manifest_files
from migraseg.io import read_image
from migraseg.measure.tables import read_csv
from tests.test_ddp_cluster import TOOLS
from tests.test_predict_files import ORACLE_META, ClassBands, as_image, write_imagej
from tests.test_reliability import predict_cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    return export_torchscript(ClassBands(), ORACLE_META, tmp_path_factory.mktemp("m") / "oracle.pt")


@pytest.fixture(scope="module")
def inputs(tiny_dataset, tmp_path_factory):
    """A folder of five simulated 128² images."""
    folder = tmp_path_factory.mktemp("inputs")
    for i, path in enumerate(sorted((tiny_dataset / "masks").glob("*.tif"))[:5]):
        write_imagej(folder / f"img{i}.tif", as_image(read_image(path)[0], seed=i), "YX")
    return folder


def outputs(folder: Path) -> dict[str, object]:
    """Every per-file output: labels' bytes, tables' rows, the ROI sets' members (a zip's bytes
    hold the time it was written), and summary.csv's rows."""
    found: dict[str, object] = {"summary rows": read_csv(folder / "summary.csv")}
    for path in sorted(folder.glob("img*")):
        if path.suffix == ".csv":
            found[path.name] = read_csv(path)
        elif path.suffix == ".zip":
            with zipfile.ZipFile(path) as members:
                found[path.name] = {n: members.read(n) for n in members.namelist()}
        else:
            found[path.name] = path.read_bytes()
    return found


@pytest.mark.parametrize(
    ("text", "expected"), [("1/2", Shard(1, 2)), ("2/2", Shard(2, 2)), (" 3 / 8 ", Shard(3, 8))]
)
def test_shard_parses(text, expected):
    assert Shard.parse(text) == expected


BAD_SHARDS = [("3/2", "between 1 and N"), ("0/2", "1-based"), ("0/0", "between"),
              ("1-2", "not K/N"), ("a/b", "K/N")]  # fmt: skip


@pytest.mark.parametrize(("text", "why"), BAD_SHARDS)
def test_impossible_shards_are_usage_errors(oracle, inputs, tmp_path, capsys, text, why):
    assert predict_cli(oracle, inputs, "--out", tmp_path / "o", "--shard", text) == 2
    err = capsys.readouterr().err
    assert "--shard" in err and why in err


def test_shards_are_disjoint_and_cover_every_stem():
    paths = [Path(f"d{i % 3}/f{i}.tif") for i in range(11)] + [Path("e/f4.tif")]
    shards = [Shard(k, 3).select(paths, lambda p: p.stem) for k in (1, 2, 3)]
    assert sorted(p for s in shards for p in s) == sorted(paths)
    # 11 stems in sorted order (f0, f1, f10, f2, ...): 4, 4 and 3 of them; f4 comes twice
    assert [len({p.stem for p in s}) for s in shards] == [4, 4, 3]
    assert Path("e/f4.tif") in next(s for s in shards if Path("d1/f4.tif") in s)


def test_shards_then_a_merge_equal_one_run_and_a_killed_shard_resumes(
    oracle, inputs, tmp_path, monkeypatch
):
    reference = tmp_path / "one"
    assert predict_cli(oracle, inputs, "--out", reference, "--quiet") == 0

    out = tmp_path / "sharded"
    measured = []
    real_measure = file_writer.measure_frame

    def killed_on_the_second_file(*args, **kwargs):
        measured.append(1)
        if len(measured) == 2:  # the 2nd file, while its labels are being written
            raise KeyboardInterrupt
        return real_measure(*args, **kwargs)

    monkeypatch.setattr(file_writer, "measure_frame", killed_on_the_second_file)
    killed = ("--shard", "1/2", "--quiet", "--workers", "0")  # measured in this process
    assert predict_cli(oracle, inputs, "--out", out, *killed) == 130
    monkeypatch.setattr(file_writer, "measure_frame", real_measure)
    assert sorted(p.name for p in out.glob("img*_labels.tif")) == ["img0_labels.tif"]
    assert not [p for p in out.iterdir() if ".tmp" in p.name]  # nothing half-written
    first = (out / "img0_labels.tif").stat().st_mtime_ns

    assert predict_cli(oracle, inputs, "--out", out, "--shard", "1/2", "--quiet") == 0
    assert (out / "img0_labels.tif").stat().st_mtime_ns == first  # only what was missing
    assert predict_cli(oracle, inputs, "--out", out, "--shard", "2/2", "--quiet") == 0
    assert len(read_csv(out / "summary.shard-1-of-2.csv")) == 3
    assert len(read_csv(out / "summary.shard-2-of-2.csv")) == 2
    assert not (out / "summary.csv").exists()

    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("img*")}
    assert predict_cli(oracle, inputs, "--out", out, "--quiet") == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("img*")} == stamps  # redid nothing
    assert outputs(out) == outputs(reference)
    assert [p.name for p in manifest_files(out)] == [".migraseg-manifest.json"]  # merged


@pytest.mark.slow
def test_two_shard_processes_in_parallel_then_a_merge_equal_one_run(oracle, inputs, tmp_path):
    reference = tmp_path / "one"
    assert predict_cli(oracle, inputs, "--out", reference, "--quiet") == 0
    out = tmp_path / "sharded"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "migraseg.cli.predict", str(oracle), str(inputs)]
    command += ["--out", str(out), "--quiet", "--device", "cpu"]
    shards = [
        subprocess.Popen(
            [*command, "--shard", f"{k}/2"],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k in (1, 2)
    ]
    for proc in shards:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        assert "0 failed" in stdout
    assert predict_cli(oracle, inputs, "--out", out, "--quiet") == 0
    merged = outputs(out)
    assert merged == outputs(reference)
    assert len(merged["summary rows"]) == 5
    labels = [read_image(out / f"img{i}_labels.tif")[0] for i in range(5)]
    assert all(len(np.unique(x)) > 1 for x in labels)


def test_one_shard_per_gpu_each_seeing_its_own(monkeypatch):
    started = []

    class FakePopen:
        def __init__(self, command, env):
            started.append((command[-2:], env["CUDA_VISIBLE_DEVICES"]))

    monkeypatch.setattr(sharding.subprocess, "Popen", FakePopen)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5,6")
    sharding.shard_per_gpu(["m.pt", "in/", "--out", "o", "--device", "cuda"], 3)
    assert started == [(["--shard", "1/3"], "3"), (["--shard", "2/3"], "5"),
                       (["--shard", "3/3"], "6")]  # fmt: skip


PREDICT_SBATCH = REPO / "scripts" / "slurm" / "predict.sbatch"


def test_predict_sbatch_is_valid_bash():
    subprocess.run(["bash", "-n", str(PREDICT_SBATCH)], check=True)


@pytest.mark.skipif(TOOLS["shellcheck"] is None, reason="shellcheck not installed")
def test_predict_sbatch_passes_shellcheck():
    proc = subprocess.run(
        [TOOLS["shellcheck"], str(PREDICT_SBATCH)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize(("first", "task", "shard"), [("1", "1", "1/4"), ("0", "3", "4/4")])
def test_predict_sbatch_runs_the_array_task_s_shard(tmp_path, first, task, shard):
    (tmp_path / "srun").write_text('#!/bin/bash\nprintf "%s\\n" "$@"\n')
    (tmp_path / "srun").chmod(0o755)
    env = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", "SLURM_ARRAY_TASK_ID": task,
           "SLURM_ARRAY_TASK_MIN": first, "SLURM_ARRAY_TASK_COUNT": "4"}  # fmt: skip
    proc = subprocess.run(
        ["bash", str(PREDICT_SBATCH), "m.pt", "in dir", "--out", "o"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1:] == [
        "migraseg-predict", "m.pt", "in dir", "--out", "o", "--device", "cuda", "--shard", shard
    ]  # fmt: skip


def test_predict_sbatch_refuses_to_run_outside_an_array(tmp_path):
    proc = subprocess.run(["bash", str(PREDICT_SBATCH), "m.pt"], env={"PATH": os.environ["PATH"]},
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode != 0 and "job array" in proc.stderr


def test_submitit_runs_every_shard_then_merges(oracle, inputs, tmp_path):
    from migraseg.cli.predict_slurm import main

    out = tmp_path / "o"
    predict = [str(oracle), str(inputs), "--out", str(out), "--quiet", "--device", "cpu"]
    logs = str(tmp_path / "logs")
    assert (
        main(["--shards", "2", "--cluster", "debug", "--folder", logs, "--wait", "--", *predict])
        == 0
    )
    assert len(read_csv(out / "summary.shard-1-of-2.csv")) == 3
    assert len(read_csv(out / "summary.csv")) == 5
