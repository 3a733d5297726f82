"""The on-disk dataset contract (data/README.md): reading and validating a dataset folder.

A dataset is a folder with ``dataset.yaml``, ``images/<stem>.tif``, ``masks/<stem>.tif`` and
optionally ``instances/<stem>.tif``. :func:`load_dataset` checks all of it up front and raises one
:class:`DatasetError` listing every problem with the file it concerns, so that a user fixes their
annotations in one pass instead of one crash at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from skimage.measure import label

from migraseg.constants import CLASS_NAMES, IGNORE_LABEL, MIGRASOME, NUM_CLASSES
from migraseg.io import ImageReadError, read_image
from migraseg.utils.files import write_text_atomic

MODALITIES = ("confocal", "tem")
SPLITS = ("train", "val", "test")
IMAGE_DTYPES = (np.uint8, np.uint16, np.float32)
_CHANNEL_AXES = "CQIS"  # tifffile names an unlabelled leading axis Q or I


class DatasetError(ValueError):
    """A dataset folder breaks the contract. ``problems`` lists each problem with its file."""

    def __init__(self, root: Path, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"dataset {root} has {len(problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class SampleRecord:
    """Paths and calibration of one annotated image."""

    stem: str
    image_path: Path
    mask_path: Path
    instance_path: Path | None
    pixel_size_um: float


@dataclass
class DatasetSpec:
    """A validated dataset: its description, its samples and its splits."""

    root: Path
    name: str
    modality: str
    pixel_size_um: float
    channels: list[str]
    samples: dict[str, SampleRecord]
    splits: dict[str, list[str]] = field(default_factory=dict)

    def split(self, name: str | None) -> list[SampleRecord]:
        """Samples of a split (``train``, ``val``, ``test``), or all samples for ``None``/"all"."""
        if name in (None, "all"):
            return list(self.samples.values())
        if name not in self.splits:
            raise KeyError(f"dataset {self.root} has no split {name!r}; it has {list(self.splits)}")
        return [self.samples[stem] for stem in self.splits[name]]


def image_to_cyx(array: np.ndarray, axes: str) -> np.ndarray:
    """Return a dataset image as C×Y×X. Accepts YX, CYX (or unlabelled QYX) and RGB YXS.

    Raises:
        ValueError: any other layout (time series and z-stacks are not dataset images).
    """
    if array.ndim == 2:
        return array[None]
    if array.ndim == 3 and axes[0] in _CHANNEL_AXES and axes[1:] == "YX":
        return array
    if array.ndim == 3 and axes == "YXS":
        return np.moveaxis(array, -1, 0)
    raise ValueError(f"expected Y×X or C×Y×X, got shape {array.shape} with axes {axes!r}")


def read_dataset_yaml(root: Path) -> tuple[dict[str, Any], list[str]]:
    """Parse ``dataset.yaml`` and return it with the problems found in it."""
    path = root / "dataset.yaml"
    if not path.is_file():
        return {}, [f"{path}: missing (name, modality, pixel_size_um, channels are required)"]
    try:
        info = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        return {}, [f"{path}: not valid YAML ({err})"]
    if not isinstance(info, dict):
        return {}, [f"{path}: expected a mapping, got {type(info).__name__}"]
    problems = [
        f"{path}: missing key {key!r}"
        for key in ("name", "modality", "pixel_size_um")
        if key not in info
    ]
    if info.get("modality", "confocal") not in MODALITIES:
        problems.append(f"{path}: modality must be one of {MODALITIES}, got {info['modality']!r}")
    size = info.get("pixel_size_um")
    if size is not None and (not isinstance(size, int | float) or size <= 0):
        problems.append(f"{path}: pixel_size_um must be a positive number, got {size!r}")
    classes = info.get("classes")
    if classes is not None and not classes_agree(classes):
        expected = {name: i for i, name in enumerate(CLASS_NAMES)}
        problems.append(
            f"{path}: classes must be {expected} (or id → name, {dict(enumerate(CLASS_NAMES))}), "
            f"got {classes}"
        )
    return info, problems


def classes_agree(classes: Any) -> bool:
    """Whether a dataset.yaml ``classes`` mapping states migraseg's fixed classes, written
    name → id (``{background: 0, ...}``, nnU-Net's way) or id → name (``{0: background, ...}``,
    the way most tools write it; ids may be strings)."""
    if not isinstance(classes, dict):
        return False
    expected = {name: i for i, name in enumerate(CLASS_NAMES)}
    if classes == expected:
        return True
    try:
        by_id = {int(k): v for k, v in classes.items()}
    except (TypeError, ValueError):
        return False
    return by_id == dict(enumerate(CLASS_NAMES))


def _check_sample(
    stem: str, root: Path, default_pixel_size: float | None, n_channels: int | None
) -> tuple[SampleRecord | None, list[str], int | None]:
    image_path, mask_path = root / "images" / f"{stem}.tif", root / "masks" / f"{stem}.tif"
    instance_path = root / "instances" / f"{stem}.tif"
    problems: list[str] = []
    try:
        image, meta = read_image(image_path)
        image = image_to_cyx(image, meta["axes"])
    except (ImageReadError, ValueError) as err:
        msg = str(err)
        return None, [msg if msg.startswith(str(image_path)) else f"{image_path}: {msg}"], None
    if image.dtype.type not in IMAGE_DTYPES:
        problems.append(f"{image_path}: dtype {image.dtype} (expected uint8, uint16 or float32)")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        problems.append(f"{image_path}: contains NaN or infinite values")
    if n_channels is not None and image.shape[0] != n_channels:
        problems.append(
            f"{image_path}: {image.shape[0]} channel(s), dataset.yaml lists {n_channels}"
        )
    pixel_size = meta["pixel_size_um"] or default_pixel_size
    if not mask_path.is_file():
        problems.append(f"{mask_path}: missing mask for image {image_path.name}")
    else:
        problems += _check_label_file(
            mask_path, image.shape[1:], max_label=NUM_CLASSES - 1, extra=(IGNORE_LABEL,)
        )
    has_instances = instance_path.is_file()
    if has_instances:
        problems += _check_label_file(instance_path, image.shape[1:], max_label=None)
    if pixel_size is None:
        problems.append(f"{image_path}: no pixel size in the TIFF and none in dataset.yaml")
    if problems:
        return None, problems, image.shape[0]
    record = SampleRecord(
        stem, image_path, mask_path, instance_path if has_instances else None, float(pixel_size)
    )
    return record, [], image.shape[0]


def _check_label_file(
    path: Path, shape: tuple[int, ...], max_label: int | None, extra: tuple[int, ...] = ()
) -> list[str]:
    try:
        labels, _ = read_image(path)
    except ImageReadError as err:
        return [str(err)]
    if labels.shape != tuple(shape):
        return [f"{path}: shape {labels.shape} does not match its image's Y×X {tuple(shape)}"]
    if labels.dtype.kind not in "ui":
        return [f"{path}: dtype {labels.dtype} (expected integer labels ≥ 0)"]
    if labels.size and labels.min() < 0:
        return [f"{path}: negative labels"]
    if max_label is not None and labels.size and labels.max() > max_label:
        bad = sorted(set(np.unique(labels).tolist()) - set(range(max_label + 1)) - set(extra))
        if bad:
            also = "".join(f" or {e} (not annotated)" for e in extra)
            return [f"{path}: labels {bad} outside 0–{max_label} ({', '.join(CLASS_NAMES)}){also}"]
    return []


def read_migrasome_instances(record: SampleRecord, labels: np.ndarray | None = None) -> np.ndarray:
    """True migrasome instances (Y, X): ``instances/`` when the dataset has it, else the
    connected components of the migrasome class of ``labels`` (read from ``masks/`` if None)."""
    if record.instance_path is not None:
        return read_image(record.instance_path)[0]
    if labels is None:
        labels = read_image(record.mask_path)[0]
    return label(labels == MIGRASOME)


def make_splits(
    stems: list[str], seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15
) -> dict[str, list[str]]:
    """Seeded train/val/test split; val and test get at least one stem each when n ≥ 3."""
    order = [stems[i] for i in np.random.default_rng(seed).permutation(len(stems))]
    n = len(order)
    n_val = max(1, round(n * val_fraction)) if n >= 3 else 0
    n_test = max(1, round(n * test_fraction)) if n >= 3 else 0
    return {
        "train": sorted(order[n_val + n_test :]),
        "val": sorted(order[:n_val]),
        "test": sorted(order[n_val : n_val + n_test]),
    }


def _leakage_problems(root: Path, splits: dict[str, list[str] | None]) -> list[str]:
    """A test stem that is also trained or validated on inflates every score: name them.
    (Train and val may share stems: a tiny dataset validating on its training images.)"""
    test = set(splits.get("test") or [])
    return [
        f"{root / 'dataset.yaml'}: stems {shared} are in both splits {split!r} and 'test' "
        "(test images must be unseen in training)"
        for split in ("train", "val")
        if (shared := sorted(test & set(splits.get(split) or [])))
    ]


def load_dataset(root: str | Path, split_seed: int = 0) -> DatasetSpec:
    """Read and validate a dataset folder.

    Raises:
        DatasetError: listing every problem found (missing files, unreadable files, shape
            mismatches, labels outside 0–3, NaNs, bad dataset.yaml, unknown split stems).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, [f"{root}: not a folder"])
    info, problems = read_dataset_yaml(root)
    image_dir = root / "images"
    stems = sorted(p.stem for p in image_dir.glob("*.tif")) if image_dir.is_dir() else []
    if not stems:
        problems.append(f"{image_dir}: no images (expected images/<stem>.tif)")
    channels = list(info.get("channels") or [])
    n_channels = len(channels) or None
    samples: dict[str, SampleRecord] = {}
    for stem in stems:
        record, sample_problems, found = _check_sample(
            stem, root, info.get("pixel_size_um"), n_channels
        )
        n_channels = n_channels or found
        problems += sample_problems
        if record is not None:
            samples[stem] = record
    mask_dir = root / "masks"
    if mask_dir.is_dir():
        orphans = sorted(p.name for p in mask_dir.glob("*.tif") if p.stem not in stems)
        problems += [f"{mask_dir / name}: mask without an image" for name in orphans]
    splits = info.get("splits") or make_splits(stems, split_seed)
    for split, members in splits.items():
        unknown = [s for s in members or [] if s not in stems]
        if unknown:
            problems.append(
                f"{root / 'dataset.yaml'}: split {split!r} names unknown stems {unknown}"
            )
    problems += _leakage_problems(root, splits)
    if problems:
        raise DatasetError(root, problems)
    return DatasetSpec(
        root=root,
        name=str(info["name"]),
        modality=str(info.get("modality", "confocal")),
        pixel_size_um=float(info["pixel_size_um"]),
        channels=channels or [f"ch{i}" for i in range(n_channels or 1)],
        samples=samples,
        splits={k: list(v or []) for k, v in splits.items()},
    )


def write_dataset_yaml(root: Path, info: dict[str, Any]) -> Path:
    """Write ``dataset.yaml`` with the fixed class map added."""
    full = {**info, "classes": {name: i for i, name in enumerate(CLASS_NAMES)}}
    return write_text_atomic(root / "dataset.yaml", yaml.safe_dump(full, sort_keys=False))
