"""Logger construction that never needs the network unless the user has configured it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import WandbLogger


def wandb_has_credentials() -> bool:
    """True if an API key is in the environment or in ~/.netrc (as ``wandb login`` writes it)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    return netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore")


def wandb_logger(offline: bool | None = None, **kwargs: Any) -> WandbLogger:
    """A WandbLogger that is offline (runs saved under ``save_dir/wandb``, sync later with
    ``wandb sync``) when no API key is configured, instead of failing or prompting.

    ``offline=None`` decides from the credentials; ``WANDB_MODE`` set by the user wins.
    """
    if offline is None:  # a WANDB_MODE the user set (online, offline, disabled) is left alone
        offline = "WANDB_MODE" not in os.environ and not wandb_has_credentials()
    return WandbLogger(offline=offline, **kwargs)
