"""Write converted samples into a dataset folder (data/README.md) and keep its dataset.yaml.

Re-running on the same folder updates it: a stem already there is overwritten, new stems are
added, and dataset.yaml keeps its other keys and every existing split assignment.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from migraseg.data.contract import (
    MODALITIES,
    SPLITS,
    make_splits,
    read_dataset_yaml,
    write_dataset_yaml,
)
from migraseg.io import write_tiff


def write_sample(
    out: Path,
    stem: str,
    image: np.ndarray,
    pixel_size_um: float,
    mask: np.ndarray,
    migrasome_ids: np.ndarray | None,
    cell_ids: np.ndarray | None,
) -> None:
    """Write ``images/``, ``masks/`` and, when known, ``instances/`` and ``cells/`` of one stem.

    Args:
        image: (C, Y, X) uint8, uint16 or float32; stored Y×X when C is 1.
        mask: (Y, X) uint8 class ids (255 = not annotated).
        migrasome_ids, cell_ids: (Y, X) instance ids or None; a stale file from an earlier
            import is removed when None.
    """
    axes = "YX" if image.shape[0] == 1 else "CYX"
    write_tiff(
        out / "images" / f"{stem}.tif", image[0] if axes == "YX" else image, pixel_size_um, axes
    )
    write_tiff(out / "masks" / f"{stem}.tif", mask, pixel_size_um, "YX")
    for folder, ids in (("instances", migrasome_ids), ("cells", cell_ids)):
        path = out / folder / f"{stem}.tif"
        if ids is None:
            path.unlink(missing_ok=True)
        else:
            write_tiff(path, ids, pixel_size_um, "YX")


def update_dataset_yaml(
    out: Path,
    stems: Iterable[str],
    *,
    name: str | None,
    modality: str | None,
    pixel_size_um: float,
    channels: list[str],
    split: str = "auto",
    seed: int = 0,
) -> tuple[Path | None, list[str]]:
    """Add ``stems`` to ``out/dataset.yaml`` (created if missing).

    A new dataset splits its stems with the contract's seeded 70/15/15 split (all in train
    under 3 images); on an existing one, stems already in a split stay there and new stems go
    to ``train`` (``split="auto"``) or to the split named.

    Returns:
        ``(path, problems)``; path is None (nothing written) when there are problems: the
        existing dataset.yaml is unreadable, or its modality or channels differ.
    """
    stems = sorted(stems)
    path = out / "dataset.yaml"
    info: dict[str, Any] = {}
    problems: list[str] = []
    if path.is_file():
        info, problems = read_dataset_yaml(out)
        if problems:
            return None, problems
        if modality is not None and info.get("modality") != modality:
            problems.append(f"{path}: modality is {info.get('modality')!r}, not {modality!r}")
        if info.get("channels") and len(info["channels"]) != len(channels):
            problems.append(
                f"{path}: lists channels {info['channels']}; the imported images have "
                f"{len(channels)} ({channels})"
            )
        if problems:
            return None, problems
    info.setdefault("name", name or out.resolve().name)
    info.setdefault("modality", modality or MODALITIES[0])
    info.setdefault("pixel_size_um", float(pixel_size_um))
    info.setdefault("channels", channels)
    info.pop("classes", None)  # write_dataset_yaml adds the fixed map
    old = {k: list(v or []) for k, v in (info.get("splits") or {}).items()}
    if not old:
        existing = sorted(p.stem for p in (out / "images").glob("*.tif"))
        splits = make_splits(sorted(set(existing) | set(stems)), seed)
        if split != "auto":
            splits = {s: [] for s in SPLITS} | {split: sorted(set(existing) | set(stems))}
    else:
        splits = {s: old.get(s, []) for s in (*SPLITS, *old)}
        placed = {stem for members in splits.values() for stem in members}
        if split == "auto":
            splits["train"] = sorted(set(splits["train"]) | (set(stems) - placed))
        else:  # the imported stems move to the split named
            splits = {k: [s for s in v if s not in stems] for k, v in splits.items()}
            splits[split] = sorted(set(splits[split]) | set(stems))
    info["splits"] = splits
    return write_dataset_yaml(out, info), []
