"""LightningDataModule: which samples go where, and the DataLoaders. Nothing else."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import albumentations as A
import lightning as L
import numpy as np
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader, Sampler

from migraseg.constants import CLASS_NAMES, IGNORE_LABEL
from migraseg.data.cache import CACHE_MODES, load_samples
from migraseg.data.contract import (
    DatasetError,
    DatasetSpec,
    SampleRecord,
    load_dataset,
    read_dataset_yaml,
)
from migraseg.data.dataset import (
    LoadedSample,
    MixedPatchDataset,
    PatchDataset,
    PatchSampler,
    WholeImageDataset,
    load_truth_instances,
)
from migraseg.data.synthetic import ensure_synthetic_dataset, recipe_config
from migraseg.io import read_image

log = logging.getLogger(__name__)


def simulate_once(root: Path, recipe: Mapping[str, Any]) -> None:
    """Simulate the dataset ``recipe`` describes into ``root`` on rank 0 unless it is cached;
    other ranks wait for it (:func:`~migraseg.data.synthetic.ensure_synthetic_dataset`).

    A time-lapse recipe is simulated with every frame as a still image (frames of one
    time-lapse share a split).

    Raises:
        ValueError: the folder holds a simulated dataset made with other settings.
    """
    if recipe_config(recipe).timelapse.n_frames > 1:
        recipe = {**recipe, "frames_as_images": True}
    if ensure_synthetic_dataset(root, recipe, simulate=rank_zero_only.rank == 0):
        return
    deadline = time.monotonic() + 1800
    while not (Path(root) / "dataset.yaml").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited 30 min for rank 0 to simulate {root}; see its log")
        time.sleep(2)


class ShardSampler(Sampler[int]):
    """Every ``world_size``-th index from ``rank``: each image on exactly one rank, none repeated.

    Unlike ``DistributedSampler`` it never pads with duplicates, so summed statistics are exact.
    """

    def __init__(self, n: int, rank: int = 0, world_size: int = 1):
        self.indices = list(range(rank, n, world_size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class PatchLoader(DataLoader):
    """Training loader whose position in the epoch is saved in checkpoints.

    ``state_dict()`` is the epoch and the number of batches handed out; after
    ``load_state_dict()`` the next iteration of that epoch skips those batches. Lightning does
    not prefetch from loaders of known length, so the count handed out equals the count trained on
    when a checkpoint is written. The datamodule saves and restores this state (Lightning's own
    loader-state restore is skipped when the loader was built early, as it is for
    ``trainer.estimated_stepping_batches``); the same methods make the loader count as resumable
    to Lightning.
    """

    sampler: PatchSampler

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.batches_done = 0
        self._resume: dict[str, int] | None = None

    def __iter__(self) -> Iterator[Any]:
        resume, self._resume = self._resume, None
        skip = resume["batches_done"] if resume and resume["epoch"] == self.sampler.epoch else 0
        self.sampler.skip = skip * int(self.batch_size or 1)
        self.batches_done = skip
        for batch in super().__iter__():
            self.batches_done += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "batches_done": self.batches_done}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._resume = dict(state)


def warn_absent_classes(samples: list, root: Path) -> list[str]:
    """Warn (and return them) when a foreground class is in no training mask: the model cannot
    learn it, and a Dice of 0 for it would otherwise be the first sign."""
    present: set[int] = set()
    for sample in samples:
        present.update(np.unique(sample.mask).tolist())
    absent = [name for i, name in enumerate(CLASS_NAMES) if i and i not in present]
    if absent:
        warnings.warn(
            f"dataset {root}: class(es) {', '.join(absent)} appear in no training mask; the "
            "model cannot learn them (check the masks' label values: 0 background, "
            f"{', '.join(f'{i} {n}' for i, n in enumerate(CLASS_NAMES) if i)})",
            stacklevel=2,
        )
    return absent


class SegmentationDataModule(L.LightningDataModule):
    """Training patches and whole validation/test images from a dataset folder.

    Args:
        root: dataset folder (data/README.md).
        patch_size: training crop side in pixels (a multiple of 32).
        batch_size: training patches per step and device.
        samples_per_epoch: training patches per epoch over all devices.
        num_workers: DataLoader worker processes per device (0: load in the training process).
        pin_memory: page-locked batches for faster host-to-GPU copies.
        persistent_workers: keep workers alive between epochs (saves their start-up each epoch).
        cache: ``"ram"`` (preprocess into each process' memory) or ``"memmap"`` (preprocess once
            into ``cache_dir`` and memory-map: one copy per node, shared by ranks and workers).
        cache_dir: folder for ``cache="memmap"`` (created; safe to delete).
        augment: albumentations pipeline for training patches (None: no augmentation).
        pixel_size_um: pixel size the model works at; images are rescaled to it (None: the
            dataset's own).
        synthesize: if the folder has no dataset.yaml, simulate ``{"n": ..., "seed": ...,
            "simulator": {...}}`` images into it first (the embedded default dataset;
            ``simulator`` is a configs/data/synth preset, absent: the default confocal one).
        synthetic_mix: fraction of training patches drawn from simulated images instead
            (fine-tuning keeps what the model learnt there); 0: none.
        synthetic_mix_source: where those come from: ``{"preset": name or "auto" (the
            dataset's modality), "overrides": preset ``key=value`` strings, "root": folder
            holding ``synthetic_<preset>/``, "n", "seed", "workers"}``; the train split of that
            simulated dataset is used (simulated once).
        min_images_to_hold_out: a dataset with fewer images and no ``splits`` in dataset.yaml
            trains on all of them. Whenever the validation split is empty, the training images
            are validated on instead (with a warning: those scores measure fit).
    """

    def __init__(
        self,
        root: str,
        patch_size: int = 192,
        batch_size: int = 8,
        samples_per_epoch: int = 512,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        cache: str = "ram",
        cache_dir: str | None = None,
        augment: A.Compose | None = None,
        pixel_size_um: float | None = None,
        migrasome_fraction: float = 0.4,
        fiber_fraction: float = 0.3,
        percentiles: tuple[float, float] = (1.0, 99.8),
        split_seed: int = 0,
        seed: int = 0,
        synthesize: dict | None = None,
        synthetic_mix: float = 0.0,
        synthetic_mix_source: dict | None = None,
        min_images_to_hold_out: int = 3,
    ):
        super().__init__()
        if patch_size % 32:
            raise ValueError(
                f"patch_size must be a multiple of 32 (U-Net stride), got {patch_size}"
            )
        if cache not in CACHE_MODES:
            raise ValueError(f"data.cache must be one of {CACHE_MODES}, got {cache!r}")
        self.root = Path(root)
        self.patch_size, self.batch_size = patch_size, batch_size
        self.samples_per_epoch, self.num_workers, self.pin_memory = (
            samples_per_epoch,
            num_workers,
            pin_memory,
        )
        self.persistent_workers = persistent_workers and num_workers > 0
        self.cache, self.cache_dir = cache, cache_dir
        self.augment, self.pixel_size_um = augment, pixel_size_um
        self.fractions = (migrasome_fraction, fiber_fraction)
        self.percentiles = tuple(percentiles)
        self.split_seed, self.seed, self.synthesize = split_seed, seed, synthesize
        if not 0.0 <= synthetic_mix <= 1.0:
            raise ValueError(f"data.synthetic_mix must be in [0, 1], got {synthetic_mix}")
        if synthetic_mix > 0 and not synthetic_mix_source:
            raise ValueError("data.synthetic_mix > 0 needs data.synthetic_mix_source")
        self.synthetic_mix = synthetic_mix
        self.synthetic_mix_source = dict(synthetic_mix_source or {})
        self.min_images_to_hold_out = min_images_to_hold_out
        self.spec: DatasetSpec | None = None
        self._synthetic_spec: DatasetSpec | None = None
        self.loaded: dict[str, list[LoadedSample]] = {}
        # a rank may get no validation image when there are fewer images than ranks
        self.allow_zero_length_dataloader_with_multiple_devices = True
        self._train_loader: PatchLoader | None = None
        self._train_loader_state: dict[str, int] | None = None

    def prepare_data(self) -> None:
        """Simulate the default dataset (and the one mixed in) on rank 0 if asked and absent;
        other ranks wait for it.

        Raises:
            ValueError: the folder holds a simulated dataset made with other settings.
        """
        if self.synthesize is not None:
            simulate_once(self.root, self.synthesize)
        if self.synthetic_mix > 0 and not self._reuse_mix_folder():
            source = self.synthetic_mix_source
            recipe = {
                "n": int(source.get("n", 60)),
                "seed": int(source.get("seed", 0)),
                "workers": int(source.get("workers", 1)),
                "preset": self.mix_preset_name,
                "overrides": list(source.get("overrides") or []),
            }
            simulate_once(self.synthetic_root, recipe)

    def _reuse_mix_folder(self) -> bool:
        """Whether ``synthetic_root`` already holds a dataset of the mixed preset, simulated with
        whatever image count and seed (e.g. by the run that trained the model): any will do for
        mixing, unless preset overrides ask for a specific one."""
        if self.synthetic_mix_source.get("overrides"):
            return False
        info, problems = read_dataset_yaml(self.synthetic_root)
        preset = (info.get("simulator") or {}).get("preset")
        return not problems and preset == self.mix_preset_name

    @property
    def mix_preset_name(self) -> str:
        """The simulator preset mixed in: ``synthetic_mix_source.preset``, where ``auto`` means
        the preset named after the dataset's modality (``confocal`` or ``tem``)."""
        name = str(self.synthetic_mix_source.get("preset") or "auto")
        return str(self.dataset_info().get("modality", "confocal")) if name == "auto" else name

    @property
    def synthetic_root(self) -> Path:
        """Folder of the simulated dataset mixed in (as ``data=synthetic`` names it)."""
        base = self.synthetic_mix_source.get("root") or self.root.parent
        return Path(base) / f"synthetic_{self.mix_preset_name}"

    def check_trainable(self) -> None:
        """Raise ``ValueError`` (one line) unless some training mask has an annotated pixel and
        the simulated images mixed in (if any) have the dataset's number of channels."""
        if self.synthetic_mix > 0:
            self._synthetic_records()
        for record in self.validated_spec().split("train"):
            if (read_image(record.mask_path)[0] != IGNORE_LABEL).any():
                return
        raise ValueError(
            f"{self.root}: every training mask is {IGNORE_LABEL} (not annotated); paint at least "
            "some pixels (data/README.md, partial annotations)"
        )

    def dataset_info(self) -> dict:
        """dataset.yaml's content (cheap: reads no image; call after prepare_data)."""
        info, problems = read_dataset_yaml(self.root)
        if problems:
            raise DatasetError(self.root, problems)
        return info

    @property
    def in_channels(self) -> int:
        """Number of image channels of the (validated) dataset."""
        return len(self.validated_spec().channels)

    def validated_spec(self) -> DatasetSpec:
        """The dataset, validated once (every image is decoded: slow for large datasets)."""
        if self.spec is None:
            spec = load_dataset(self.root, split_seed=self.split_seed)
            n = len(spec.samples)
            if not self.dataset_info().get("splits") and n < self.min_images_to_hold_out:
                log.warning(
                    "%s: %d image(s), fewer than data.min_images_to_hold_out=%d: all train",
                    self.root,
                    n,
                    self.min_images_to_hold_out,
                )
                spec.splits = {"train": sorted(spec.samples), "val": [], "test": []}
            self.spec = spec
            train = self.spec.splits.get("train") or []
            if train and not self.spec.splits.get("val"):  # e.g. a one-image dataset
                warnings.warn(
                    f"dataset {self.root} has no validation images (split 'val' is empty): "
                    f"validating on the {len(train)} training image(s), so validation scores "
                    "and the best checkpoint measure fit, not generalisation",
                    stacklevel=2,
                )
                self.spec.splits["val"] = list(train)
        return self.spec

    def setup(self, stage: str | None = None) -> None:
        self.validated_spec()
        splits = {"fit": ("train", "val"), "validate": ("val",)}
        for split in splits.get(stage or "fit", ("train", "val")):
            if split not in self.loaded:
                self.loaded[split] = self._load(self.spec.split(split))
                if split == "train":
                    warn_absent_classes(self.loaded["train"], self.root)
        if self.synthetic_mix > 0 and "train" in self.loaded and "synthetic" not in self.loaded:
            self.loaded["synthetic"] = self._load(self._synthetic_records())

    def _load(self, records: list[SampleRecord]) -> list[LoadedSample]:
        return load_samples(
            records, self.model_pixel_size_um, self.percentiles, self.cache, self.cache_dir
        )

    def _synthetic_records(self) -> list[SampleRecord]:
        """Training images of the simulated dataset mixed in (validated once)."""
        if self._synthetic_spec is None:
            self._synthetic_spec = load_dataset(self.synthetic_root)
        spec, channels = self._synthetic_spec, self.validated_spec().channels
        if len(spec.channels) != len(channels):
            raise ValueError(
                f"data.synthetic_mix: preset {self.mix_preset_name!r} simulates "
                f"{len(spec.channels)} channel(s), {self.root} has {len(channels)}; choose "
                "another data.synthetic_mix_source.preset or set data.synthetic_mix=0"
            )
        return spec.split("train") or spec.split(None)

    @property
    def model_pixel_size_um(self) -> float:
        """Pixel size the model sees (the dataset's unless overridden)."""
        return float(self.pixel_size_um or self.dataset_info()["pixel_size_um"])

    def _rank_world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> DataLoader:
        dataset = PatchDataset(
            self.loaded["train"], self.patch_size, self.augment, self.seed, *self.fractions
        )
        if self.synthetic_mix > 0:
            synthetic = PatchDataset(
                self.loaded["synthetic"], self.patch_size, self.augment, self.seed, *self.fractions
            )
            dataset = MixedPatchDataset(dataset, synthetic, self.synthetic_mix, self.seed)
        sampler = PatchSampler(self.samples_per_epoch, *self._rank_world())
        self._train_loader = PatchLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=True,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers,
        )
        if self._train_loader_state is not None:
            self._train_loader.load_state_dict(self._train_loader_state)
            self._train_loader_state = None
        return self._train_loader

    def state_dict(self) -> dict[str, Any]:
        """Saved in checkpoints: where the training loader is in its epoch."""
        return {"train_loader": self._train_loader.state_dict()} if self._train_loader else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restored on resume, before or after the training loader is built."""
        state = state_dict.get("train_loader")
        if state is not None and self._train_loader is not None:
            self._train_loader.load_state_dict(state)
        else:
            self._train_loader_state = state

    def val_dataloader(self) -> DataLoader:
        samples = self.loaded["val"]
        instances = [
            load_truth_instances(record, sample.mask.shape)
            for record, sample in zip(self.spec.split("val"), samples, strict=True)
        ]
        return DataLoader(
            WholeImageDataset(samples, instances),
            batch_size=1,
            sampler=ShardSampler(len(samples), *self._rank_world()),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
        )
