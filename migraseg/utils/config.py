"""Where the Hydra configs live, and the OmegaConf resolvers they use (registered on import)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

# The repository's configs/ (absolute: Hydra's relative lookup fails under editable installs).
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")


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
