"""Where the Hydra configs live, and the OmegaConf resolvers they use (registered on import)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def find_config_dir(package_dir: Path = PACKAGE_DIR) -> Path:
    """The Hydra config folder: ``migraseg/configs`` in an installed wheel (setup.py ships the
    repository's ``configs/`` there), else the repository's top-level ``configs/`` beside the
    package (a clone, or an editable install).

    Raises:
        FileNotFoundError: neither holds ``train.yaml`` (a broken install), naming both places.
    """
    candidates = (package_dir / "configs", package_dir.parent / "configs")
    for candidate in candidates:
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"migraseg's configs not found (no train.yaml in {' or '.join(map(str, candidates))}); "
        "reinstall migraseg, or run it from a clone of its repository"
    )


# Absolute: Hydra's relative lookup fails under editable installs.
CONFIG_DIR = str(find_config_dir())


def auto_precision() -> str:
    """bf16-mixed on a GPU that supports it, else full fp32 (CPU autocast rarely pays off)."""
    import torch  # here, not at import: modules that only need CONFIG_DIR stay torch-free

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def slurm_tasks_per_node(devices: int | str | list) -> int:
    """SLURM tasks (= GPUs) per node for ``trainer.devices``: Lightning runs one task per device.

    Raises:
        ValueError: ``-1``/``auto`` (all GPUs): SLURM must be told how many to allocate.
    """
    if isinstance(devices, int) and devices > 0:
        return devices
    if isinstance(devices, (list, tuple)) and devices:
        return len(devices)
    raise ValueError(
        f"hydra/launcher=slurm needs trainer.devices = GPUs per node as a number, got "
        f"{devices!r}; e.g. trainer.devices=4"
    )


OmegaConf.register_new_resolver("auto_precision", auto_precision, replace=True)
OmegaConf.register_new_resolver("slurm_tasks_per_node", slurm_tasks_per_node, replace=True)
