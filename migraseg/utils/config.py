"""Where the Hydra configs live, and the OmegaConf resolvers they use (registered on import)."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf

# The repository's configs/ (absolute: Hydra's relative lookup fails under editable installs).
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")


def auto_precision() -> str:
    """bf16-mixed on a GPU that supports it, else full fp32 (CPU autocast rarely pays off)."""
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


OmegaConf.register_new_resolver("auto_precision", auto_precision, replace=True)
