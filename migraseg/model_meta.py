"""What a trained model carries with it: classes, pixel size, normalisation, provenance.

Stored in checkpoints (hyper-parameters), embedded in TorchScript files (``meta.json``) and in
bioimage.io packages, so any copy of the weights knows how it must be fed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from migraseg import __version__
from migraseg.constants import CLASS_NAMES, MIGRASOME_POSTPROCESS


@dataclass
class ModelMeta:
    """Metadata of a trained model (all lengths in µm)."""

    in_channels: int
    pixel_size_um: float
    patch_size: int
    model: dict[str, Any]  # migraseg.models.build_model kwargs
    channel_names: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=lambda: list(CLASS_NAMES))
    normalization: dict[str, Any] = field(
        default_factory=lambda: {"method": "percentile", "low": 1.0, "high": 99.8}
    )
    postprocess: dict[str, float] = field(default_factory=lambda: dict(MIGRASOME_POSTPROCESS))
    modality: str = "confocal"
    dataset: str = ""
    experiment: str = ""  # the training's `experiment=` choice, "" for none or unknown
    created: str = ""  # when training started, ISO 8601 to the second (local time)
    config_sha256: str = ""
    git_sha: str | None = None
    migraseg_version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMeta:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def git_sha(repo: Path | None = None) -> str | None:
    """Commit of the source tree (None outside a git checkout)."""
    repo = repo or Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
