"""Bad input to the Hydra apps ends with its message alone and exit status 1 (no Hydra
"Error executing job", no HYDRA_FULL_ERROR hint, no traceback)."""

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.slow
@pytest.mark.parametrize(
    "script,args",
    [
        ("migraseg-train", ["data=tiff_folder", "logger=none", "trainer=cpu"]),
        ("migraseg-eval", ["models=[classical]"]),
    ],
)
def test_a_broken_dataset_gets_its_message_and_status_1(tmp_path, script, args):
    broken = tmp_path / "broken"
    (broken / "images").mkdir(parents=True)  # no dataset.yaml, no images
    root = "data.root" if script == "migraseg-train" else "data_root"
    proc = subprocess.run(
        [BIN / script, *args, f"{root}={broken}", f"hydra.run.dir={tmp_path / 'run'}"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert f"{script}: dataset {broken} has" in proc.stderr
    assert "dataset.yaml: missing" in proc.stderr
    for noise in ("Error executing job", "HYDRA_FULL_ERROR", "Traceback"):
        assert noise not in proc.stderr
