"""Atomic file and folder writes: a reader never sees a half-written output."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask_mode() -> int:
    """Permissions a plain ``open()`` would give a new file (0666 minus the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _temporary_pattern(path: Path) -> re.Pattern[str]:
    """Names :func:`atomic_path` gives the temporaries of ``path`` (mkstemp adds 8 characters)."""
    return re.compile(
        re.escape(f".{path.stem}.") + r"[a-z0-9_]{8}" + re.escape(f".tmp{path.suffix}")
    )


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove what killed writes of ``path`` left behind (SIGKILL, power loss: no ``finally``
    runs) and return the removed paths. Only call it where no other process writes ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    pattern = _temporary_pattern(path)
    stale = [p for p in path.parent.iterdir() if pattern.fullmatch(p.name) and p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the body succeeds.

    The temporary file keeps ``path``'s suffix so that writers which infer the format from the
    name (tifffile, torch, matplotlib) behave as for the final file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _umask_mode())  # mkstemp makes 0600 files; outputs are shared
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder path beside ``path`` (not yet created) for the body to fill; it
    replaces ``path`` (and whatever was there) only if the body succeeds, else it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield work / "new"
        if path.exists():
            os.replace(path, work / "old")  # removed below with the rest of ``work``
        os.replace(work / "new", path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()
