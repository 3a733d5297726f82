"""Which training run a model file came from: its experiment, its date and its folder.

A report names a model after its run ("quickstart 2026-11-29 14:01"), not after its file
("epoch011-dice0.4630"). The facts come, best first, from the metadata embedded in an exported
model (``experiment``, ``created``), then from the run folder Hydra wrote
(``.hydra/hydra.yaml``'s choices, the ``<date>/<time>`` folder names, ``config_resolved.yaml``).
Nothing here loads a network: a ``.ckpt`` is named from its folder only.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

RUN_MARKERS = ("config_resolved.yaml", ".hydra")
DATE_TIME_DIRS = re.compile(r"(\d{4}-\d{2}-\d{2})[/\\](\d{2})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class RunInfo:
    """What is known of a model's training run (any field may be unknown)."""

    folder: Path | None = None
    experiment: str | None = None
    started: datetime | None = None

    def label(self) -> str | None:
        """``<experiment> <YYYY-MM-DD HH:MM>``; ``run <date>`` without an experiment; None when
        the date is unknown too."""
        if self.started is None:
            return self.experiment
        return f"{self.experiment or 'run'} {self.started:%Y-%m-%d %H:%M}"


def run_folder(model_path: str | Path) -> Path | None:
    """The run folder of a model file: its own folder (``model.pt``) or the one above
    ``checkpoints/``, if it holds a ``config_resolved.yaml`` or ``.hydra/``."""
    path = Path(model_path)
    folder = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    return folder if any((folder / m).exists() for m in RUN_MARKERS) else None


def embedded_meta(model_path: str | Path) -> dict:
    """The ``meta.json`` a TorchScript or torch.export file carries (both are zip archives),
    read without torch; {} for any other file."""
    try:
        with zipfile.ZipFile(model_path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("extra/meta.json")), None)
            return json.loads(archive.read(name)) if name else {}
    except (OSError, zipfile.BadZipFile, ValueError):
        return {}


def _folder_experiment(folder: Path) -> str | None:
    try:
        hydra = yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text(encoding="utf-8"))
        return hydra["hydra"]["runtime"]["choices"].get("experiment") or None
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return None


def _folder_started(folder: Path) -> datetime | None:
    """From ``.../<YYYY-MM-DD>/<HH-MM-SS>`` (Hydra's run folders), else when the resolved
    config was written (at the start of training)."""
    found = DATE_TIME_DIRS.search(folder.resolve().as_posix())
    if found:
        return datetime.strptime(" ".join(found.groups()), "%Y-%m-%d %H %M %S")
    config = folder / "config_resolved.yaml"
    return datetime.fromtimestamp(config.stat().st_mtime) if config.is_file() else None


def run_info(model_path: str | Path) -> RunInfo:
    """Experiment and start of the training that wrote ``model_path`` (see the module doc)."""
    meta = embedded_meta(model_path)
    folder = run_folder(model_path)
    experiment = meta.get("experiment") or None
    started = None
    if meta.get("created"):
        try:
            started = datetime.fromisoformat(meta["created"])
        except ValueError:
            started = None
    if folder is not None:
        experiment = experiment or _folder_experiment(folder)
        started = started or _folder_started(folder)
    return RunInfo(folder, experiment, started)
