"""Torch datasets over in-memory images: random training patches and whole validation images.

No Lightning here. Randomness comes from the integer key the sampler hands to ``__getitem__``
(see :class:`PatchSampler`), so a patch depends only on (seed, epoch, position): identical across
worker counts, reproducible after a resume, and disjoint across DDP ranks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import albumentations as A
import numpy as np
import torch
from skimage.transform import resize
from torch.utils.data import Dataset, Sampler

from migraseg.constants import FIBER, IGNORE_LABEL, MIGRASOME
from migraseg.data.contract import SampleRecord, image_to_cyx, read_migrasome_instances
from migraseg.io import read_image
from migraseg.normalization import DEFAULT_PERCENTILES, percentile_scaling, subsample_step
from migraseg.resample import model_grid_shape, resample_image


@dataclass
class LoadedSample:
    """Normalised image (C, Y, X) float32 and mask (Y, X) uint8 at the model's pixel size."""

    stem: str
    image: np.ndarray
    mask: np.ndarray
    pixel_size_um: float


def load_sample(
    record: SampleRecord,
    pixel_size_um: float | None = None,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
) -> LoadedSample:
    """Read, rescale to ``pixel_size_um`` (if given and different by > 1 %) and normalise.

    Exactly as the predictor feeds the network: percentiles of the image on its own grid
    (:mod:`migraseg.normalization`), then the same linear resampling
    (:func:`~migraseg.resample.resample_image`); the mask takes the nearest label.
    """
    image, meta = read_image(record.image_path)
    image = image_to_cyx(image, meta["axes"])
    mask, _ = read_image(record.mask_path)
    target = pixel_size_um or record.pixel_size_um
    step = subsample_step(*image.shape[1:])
    scaling = percentile_scaling(image[:, ::step, ::step], *percentiles)
    grid = model_grid_shape(image.shape[1:], record.pixel_size_um / target)
    if grid != image.shape[1:]:
        image = resample_image(image, grid)
        mask = resize(mask, grid, order=0, preserve_range=True, anti_aliasing=False)
    return LoadedSample(record.stem, scaling.apply(image), mask.astype(np.uint8), target)


class PatchSampler(Sampler[int]):
    """Yields the keys ``epoch * n + i`` for this rank's share of ``i`` in ``range(n)``.

    ``skip`` drops this rank's first keys of the epoch: a run resumed in the middle of an epoch
    continues with exactly the patches an uninterrupted run would have drawn next.
    """

    def __init__(self, n: int, rank: int = 0, world_size: int = 1):
        self.per_rank = math.ceil(n / world_size)
        self.n, self.rank, self.world_size = self.per_rank * world_size, rank, world_size
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at each epoch start."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        base = self.epoch * self.n
        first = base + self.rank + self.skip * self.world_size
        return iter(range(first, base + self.n, self.world_size))

    def __len__(self) -> int:
        return self.per_rank


def annotated_pixels(mask: np.ndarray) -> np.ndarray | None:
    """Flat indices of the annotated pixels of a partially annotated mask (some pixels are
    ``IGNORE_LABEL``); None when every pixel is annotated."""
    ignored = mask == IGNORE_LABEL
    return np.flatnonzero(~ignored) if ignored.any() else None


class PatchDataset(Dataset):
    """Random ``patch_size`` crops, centred on migrasome or fiber pixels with given probabilities,
    else on any annotated pixel (masks may leave pixels unannotated: ``IGNORE_LABEL``).

    Images with no annotated pixel are never drawn. Returns ``(image, mask)``: float32
    (C, P, P) and int64 (P, P).
    """

    def __init__(
        self,
        samples: Sequence[LoadedSample],
        patch_size: int,
        transform: A.Compose | None = None,
        seed: int = 0,
        migrasome_fraction: float = 0.4,
        fiber_fraction: float = 0.3,
    ):
        if not samples:
            raise ValueError("PatchDataset needs at least one sample (is the train split empty?)")
        self.samples, self.patch_size, self.transform, self.seed = (
            samples,
            patch_size,
            transform,
            seed,
        )
        self.fractions = (migrasome_fraction, fiber_fraction)
        self.class_pixels = [
            {c: np.flatnonzero(s.mask == c) for c in (MIGRASOME, FIBER)} for s in samples
        ]
        self.annotated = [annotated_pixels(np.asarray(s.mask)) for s in samples]
        self.drawable = [i for i, a in enumerate(self.annotated) if a is None or a.size]
        if not self.drawable:
            raise ValueError(
                "PatchDataset: every mask is 255 (not annotated); paint some pixels to train on"
            )

    def __len__(self) -> int:  # keys are unbounded; the sampler decides how many per epoch
        return 2**62

    def _centre(self, rng: np.random.Generator, index: int) -> tuple[int, int]:
        shape = self.samples[index].mask.shape
        u = rng.random()
        for cls, cumulative in ((MIGRASOME, self.fractions[0]), (FIBER, sum(self.fractions))):
            pixels = self.class_pixels[index][cls]
            if u < cumulative and pixels.size:
                return np.unravel_index(pixels[rng.integers(pixels.size)], shape)
        annotated = self.annotated[index]
        if annotated is not None:
            return np.unravel_index(annotated[rng.integers(annotated.size)], shape)
        return rng.integers(shape[0]), rng.integers(shape[1])

    def __getitem__(self, key: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, key])
        index = self.drawable[int(rng.integers(len(self.drawable)))]
        sample = self.samples[index]
        cy, cx = self._centre(rng, index)
        image, mask = crop_padded(sample.image, sample.mask, cy, cx, self.patch_size)
        image = np.ascontiguousarray(image.transpose(1, 2, 0))
        if self.transform is not None:
            self.transform.set_random_seed(int(rng.integers(2**31)))
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        return (
            torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
            torch.from_numpy(mask.astype(np.int64)),
        )


class MixedPatchDataset(Dataset):
    """Patches from ``real``, and a ``fraction`` of them from ``synthetic`` instead (simulated
    images mixed into fine-tuning, so the model keeps what it learnt there).

    Which of the two a key draws from depends only on (seed, key), as the patches themselves.
    """

    def __init__(self, real: Dataset, synthetic: Dataset, fraction: float, seed: int = 0):
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"data.synthetic_mix must be in [0, 1], got {fraction}")
        self.real, self.synthetic, self.fraction, self.seed = real, synthetic, fraction, seed

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, key: int) -> tuple[torch.Tensor, torch.Tensor]:
        draw = np.random.default_rng([self.seed, key, 1]).random()
        return (self.synthetic if draw < self.fraction else self.real)[key]


def crop_padded(
    image: np.ndarray, mask: np.ndarray, cy: int, cx: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """A ``size``² crop around (cy, cx), shifted inside the image, reflect-padded if too small."""
    _, h, w = image.shape
    if h < size or w < size:
        ph, pw = max(0, size - h), max(0, size - w)
        image = np.pad(image, ((0, 0), (0, ph), (0, pw)), mode="reflect")
        mask = np.pad(mask, ((0, ph), (0, pw)), mode="reflect")
        h, w = mask.shape
    y0 = int(np.clip(cy - size // 2, 0, h - size))
    x0 = int(np.clip(cx - size // 2, 0, w - size))
    return image[:, y0 : y0 + size, x0 : x0 + size], mask[y0 : y0 + size, x0 : x0 + size]


def load_truth_instances(record: SampleRecord, shape: tuple[int, int]) -> np.ndarray:
    """True migrasome instances (Y, X) int32 on the model's grid ``shape`` (nearest-neighbour
    resampled), decoded exactly as the evaluation harness decodes them."""
    ids = read_migrasome_instances(record)
    if ids.shape != shape:
        ids = resize(ids, shape, order=0, preserve_range=True, anti_aliasing=False)
    return ids.astype(np.int32)


class WholeImageDataset(Dataset):
    """Whole images for validation: ``(image, mask, migrasome_ids)`` as float32 (C, Y, X),
    int64 (Y, X) and int64 (Y, X) true migrasome instances."""

    def __init__(self, samples: Sequence[LoadedSample], instances: Sequence[np.ndarray]):
        if len(samples) != len(instances):
            raise ValueError(f"{len(samples)} samples but {len(instances)} instance maps")
        self.samples, self.instances = samples, instances

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s = self.samples[index]  # copies: cached arrays may be read-only memory maps
        ids = torch.from_numpy(self.instances[index].astype(np.int64))
        return torch.tensor(s.image), torch.from_numpy(s.mask.astype(np.int64)), ids
