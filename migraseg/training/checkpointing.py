"""Checkpoints that survive a cluster: atomic writes, one kept predecessor, resume selection.

A job on a shared cluster can be killed at any instant (time limit, preemption, node failure).
Lightning's own writer stages a checkpoint in the system temporary folder and *moves* it into
place, which is a copy (not atomic) when ``/tmp`` and the run folder sit on different file systems,
as they usually do on clusters. :class:`AtomicCheckpointIO` writes beside the target and renames.
:func:`find_resume_checkpoint` picks the newest checkpoint of a run folder that loads, warning about
each one it has to skip, so a damaged ``last.ckpt`` costs one epoch, not the run.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from migraseg.utils.files import atomic_path

log = logging.getLogger(__name__)

LAST = "last"  # stem of the newest-state checkpoint (configs/callbacks: last_checkpoint)
PREVIOUS_SUFFIX = ".prev.ckpt"


def previous_path(path: Path) -> Path:
    """Where the predecessor of ``path`` is kept: ``last.ckpt`` → ``last.prev.ckpt``."""
    return path.with_name(path.name.removesuffix(".ckpt") + PREVIOUS_SUFFIX)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside it, fsyncs it and renames it into place.

    A reader (or a resumed job) therefore sees either the old file or the complete new one. The
    checkpoint being replaced is kept as ``<name>.prev.ckpt`` when its name starts with
    ``last``, so a checkpoint that turns out unreadable still has a predecessor to fall back to.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options")
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            if path.exists() and path.name.startswith(LAST):
                os.replace(path, previous_path(path))
        log.debug("checkpoint written: %s", path)

    def load_checkpoint(
        self, path: _PATH, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Load with ``weights_only=True`` whatever the caller asked: a checkpoint is a pickle,
        and only tensors and plain containers may come out of one (no code runs)."""
        return torch.load(path, map_location=map_location or "cpu", weights_only=True)


def checkpoint_candidates(run_dir: Path) -> list[Path]:
    """Checkpoints a run folder holds, newest first.

    ``checkpoints/*.ckpt`` (best, last and their predecessors) and Lightning's SLURM
    ``hpc_ckpt_<n>.ckpt``; on equal modification times ``last`` comes first.
    """
    paths = [*run_dir.glob("checkpoints/*.ckpt"), *run_dir.glob("hpc_ckpt_*.ckpt")]
    paths = [p for p in paths if not p.name.startswith(".")]  # temporaries of atomic writes
    return sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.stem == LAST), reverse=True)


def is_readable_checkpoint(path: Path) -> str | None:
    """``None`` if ``path`` loads as a Lightning training checkpoint, else why not."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        return f"{type(error).__name__}: {error}"
    missing = {"state_dict", "loops", "optimizer_states"} - set(checkpoint)
    return f"not a training checkpoint (no {', '.join(sorted(missing))})" if missing else None


CORRUPT_SUFFIX = ".corrupt"


def set_aside(path: Path) -> Path:
    """Rename an unreadable checkpoint to ``<name>.corrupt`` (kept for inspection, never loaded
    again, and no longer in the way of the next checkpoint of the same name)."""
    target = path.with_name(path.name + CORRUPT_SUFFIX)
    os.replace(path, target)
    return target


def find_resume_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest checkpoint of ``run_dir`` that loads; ``None`` if the folder has none.

    Each newer checkpoint that fails to load is reported with a warning naming the file and the
    error, and the next older one is tried. When none loads, the unreadable ones are moved aside
    (``<name>.ckpt.corrupt``) and the warning says that training starts over.
    """
    unreadable = []
    for path in checkpoint_candidates(Path(run_dir)):
        problem = is_readable_checkpoint(path)
        if problem is None:
            return path
        warnings.warn(f"checkpoint {path} is unreadable ({problem})", stacklevel=2)
        unreadable.append(path)
    if unreadable:
        moved = [set_aside(p) for p in unreadable]
        warnings.warn(
            f"no checkpoint of {run_dir} is readable: training starts over from epoch 0; the "
            f"unreadable file(s) were moved aside: {', '.join(str(p) for p in moved)}",
            stacklevel=2,
        )
    return None


def resolve_ckpt_path(ckpt_path: str | None, run_dir: str | Path) -> str | None:
    """What ``trainer.fit(ckpt_path=...)`` gets for the config value ``ckpt_path``.

    - ``"auto"``: the newest readable checkpoint of this run folder if there is one (a requeued
      or restarted job), else ``None`` (a fresh start).
    - ``"last"``: the same, but a run folder without any readable checkpoint is an error.
    - ``None``: start fresh.
    - anything else: a checkpoint file, which must exist.
    """
    if ckpt_path is None:
        return None
    if ckpt_path in ("auto", "last"):
        found = find_resume_checkpoint(run_dir)
        if found is None and ckpt_path == "last":
            raise FileNotFoundError(
                f"ckpt_path=last: no readable checkpoint in {run_dir} (checkpoints/*.ckpt); "
                "set hydra.run.dir to the folder of the run to resume"
            )
        if found is not None:
            log.info("resuming from %s", found)
        return str(found) if found else None
    if not Path(ckpt_path).is_file():
        raise FileNotFoundError(f"ckpt_path={ckpt_path}: no such checkpoint file")
    return str(ckpt_path)
