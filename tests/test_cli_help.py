"""migraseg-train/-eval --help: worked examples and groups from the config folder's listing,
printed before Hydra composes anything (and before torch is imported); --help-all is Hydra's."""

import subprocess
import sys
from pathlib import Path

import pytest

from migraseg.cli import evaluate as eval_cli
from migraseg.cli import train as train_cli
from migraseg.cli.help import default_choices, handle_help, help_text, own_settings
from migraseg.utils.config import CONFIG_DIR

CONFIGS = Path(CONFIG_DIR)


def short_help(module, monkeypatch, capsys) -> str:
    """The console script's output for --help; fails if Hydra's app would have run."""

    def hydra_app():
        raise AssertionError("--help reached Hydra (the config was going to be composed)")

    monkeypatch.setattr(module, "run", hydra_app)
    monkeypatch.setattr(sys, "argv", [module.HELP.app, "--help"])
    with pytest.raises(SystemExit) as stop:
        module.main()
    assert stop.value.code == 0
    return capsys.readouterr().out


def test_train_help_opens_with_three_examples_and_the_groups(monkeypatch, capsys):
    out = short_help(train_cli, monkeypatch, capsys)
    lines = out.splitlines()
    assert lines[0].startswith("migraseg-train: ") and lines[2] == "Examples:"
    assert [line for line in lines[3:9] if not line.startswith("  #")] == [
        f"  {cmd}" for cmd, _ in train_cli.HELP.examples
    ]
    assert len(train_cli.HELP.examples) == 3
    assert "  data: synthetic*, synthetic_tem, tiff_folder" in lines
    assert "  logger: csv, default*, none, wandb" in lines
    assert any(line.startswith("  experiment: ") and "quickstart" in line for line in lines)
    assert "  init_from: null" in out and "--help-all" in out and "--cfg job" in out
    # the simulator's parameters (data.synthesize.simulator.*) stay behind --help-all/--cfg job
    assert "fiber_diameter_um" not in out and "n_cells" not in out


def test_eval_help_lists_only_what_evaluation_uses(monkeypatch, capsys):
    out = short_help(eval_cli, monkeypatch, capsys)
    assert out.startswith("migraseg-eval: ")
    assert "  migraseg-eval 'models={unet:run1/model.pt,fiji:classical}' data_root=" in out
    assert "eval/sets: " in out and "synthetic_shifted" in out
    for key in ("models: null", "data_root: null", "verdict:", "min_objects: 20", "bootstrap:"):
        assert key in out
    for train_only in ("trainer", "optimizer", "init_from", "logger", "fiber_diameter_um"):
        assert train_only not in out


def test_help_all_is_hydras_full_help():
    argv = ["migraseg-train", "experiment=quickstart", "--help-all"]
    handle_help(train_cli.HELP, CONFIGS, argv)  # returns: Hydra runs next, with --help
    assert argv == ["migraseg-train", "experiment=quickstart", "--help"]


def test_defaults_and_own_settings_are_read_from_the_yaml_text():
    text = (
        "# c\ndefaults:\n  - _self_\n  - augment@data.augment: light  # x\n  - optional local: a\n"
    )
    text += "\nseed: 0   # s\nnested:\n  a: 1\n"
    assert default_choices(text) == {"augment": "light", "local": "a"}
    assert own_settings(text) == "seed: 0   # s\nnested:\n  a: 1"
    assert "  seed: 0" in help_text(train_cli.HELP, CONFIGS).splitlines()


@pytest.mark.parametrize("module", ["migraseg.cli.train", "migraseg.cli.evaluate"])
def test_help_does_not_import_torch(module):
    code = (
        "import sys\n"
        f"sys.argv = ['{module}', '--help']\n"
        f"import {module} as cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "print('torch imported' if 'torch' in sys.modules else 'torch not imported')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    ).stdout
    assert "Examples:" in out and out.rstrip().endswith("torch not imported")
