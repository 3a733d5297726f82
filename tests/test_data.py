"""Training data: deterministic patches, oversampling, samplers and augmentation."""

import numpy as np
import pytest
import torch

from migraseg.constants import MIGRASOME
from migraseg.data.contract import load_dataset
from migraseg.data.datamodule import ShardSampler
from migraseg.data.dataset import PatchDataset, PatchSampler, crop_padded, load_sample
from migraseg.data.transforms import build_augmentation


@pytest.fixture(scope="module")
def samples(tiny_dataset):
    return [load_sample(r) for r in load_dataset(tiny_dataset).split("all")]


def test_loaded_samples_are_normalised(samples):
    s = samples[0]
    assert s.image.dtype == np.float32 and s.image.shape[1:] == s.mask.shape
    lo, hi = np.percentile(s.image, (1, 99.8))
    assert lo == pytest.approx(0, abs=1e-3) and hi == pytest.approx(1, abs=1e-3)


def test_rescaling_to_the_model_pixel_size(tiny_dataset):
    record = load_dataset(tiny_dataset).split("all")[0]
    half = load_sample(record, pixel_size_um=0.4)
    assert half.mask.shape == (64, 64) and half.pixel_size_um == 0.4
    assert set(np.unique(half.mask)) <= {0, 1, 2, 3}


def test_patches_depend_only_on_their_key(samples):
    augment = build_augmentation(
        flips=True, scale_range=(0.9, 1.1), brightness=0.2, contrast=0.2, noise_std=0.05
    )
    a = PatchDataset(samples, 64, augment, seed=1)
    b = PatchDataset(
        samples,
        64,
        build_augmentation(
            flips=True, scale_range=(0.9, 1.1), brightness=0.2, contrast=0.2, noise_std=0.05
        ),
        seed=1,
    )
    for key in (0, 7, 12345):
        (xa, ya), (xb, yb) = a[key], b[key]
        assert xa.shape == (1, 64, 64) and ya.dtype == torch.int64
        torch.testing.assert_close(xa, xb)
        torch.testing.assert_close(ya, yb)
    assert not torch.equal(a[0][0], a[1][0])


def test_migrasome_patches_are_oversampled(samples):
    def hit_rate(fraction):
        dataset = PatchDataset(samples, 32, None, migrasome_fraction=fraction, fiber_fraction=0.0)
        return np.mean([(dataset[k][1] == MIGRASOME).any().item() for k in range(200)])

    # uniform 32² crops of these images contain a migrasome about 40 % of the time
    assert hit_rate(1.0) == 1.0
    assert hit_rate(0.0) < 0.6 < hit_rate(0.5) < 1.0


def test_patch_sampler_epochs_and_ranks_are_disjoint():
    s = PatchSampler(10)
    first = list(s)
    s.set_epoch(1)
    assert len(first) == 10 and not set(first) & set(s)
    ranks = [list(PatchSampler(10, rank=r, world_size=3)) for r in range(3)]
    assert all(len(r) == 4 for r in ranks)
    assert len(set().union(*map(set, ranks))) == 12


def test_shard_sampler_never_duplicates():
    shards = [list(ShardSampler(7, rank=r, world_size=3)) for r in range(3)]
    assert sorted(i for s in shards for i in s) == list(range(7))


def test_crop_pads_small_images():
    image, mask = crop_padded(
        np.ones((1, 20, 30), np.float32), np.ones((20, 30), np.uint8), 5, 5, 32
    )
    assert image.shape == (1, 32, 32) and mask.shape == (32, 32)


def test_intensity_augmentation_never_clips_the_normalised_range():
    import albumentations as A

    from migraseg.data.transforms import unclipped

    image = np.linspace(-0.3, 3.0, 64 * 64, dtype=np.float32).reshape(64, 64, 1)
    neutral = A.Compose([A.RandomBrightnessContrast((0, 0), (0, 0), p=1.0)])
    assert neutral(image=image)["image"].max() == 1.0  # albumentations alone clips ...
    np.testing.assert_allclose(unclipped(neutral, image), image, atol=1e-5)  # ... we do not
    augment = build_augmentation(flips=False, brightness=0.2, contrast=0.3, gamma_range=(0.6, 1.6))
    outs = []
    for seed in range(8):
        augment.set_random_seed(seed)
        outs.append(augment(image=image, mask=np.zeros((64, 64), np.uint8))["image"])
    assert max(o.max() for o in outs) > 1.5 and min(o.min() for o in outs) < 0
    assert any(not np.allclose(o, image) for o in outs)


def test_shot_noise_reimages_a_patch_with_few_photons():
    """Photon-starved images (a few photons at the brightest pixel): Poisson noise that keeps
    the mean and leaves the mask alone."""
    image = np.full((64, 64, 1), 0.8, np.float32)
    mask = np.zeros((64, 64), np.uint8)
    augment = build_augmentation(flips=False, shot_noise_scale=(0.2, 0.2))
    noisy = []
    for seed in range(20):
        augment.set_random_seed(seed)
        out = augment(image=image, mask=mask)
        assert (out["mask"] == 0).all()
        noisy.append(out["image"])
    changed = [o for o in noisy if not np.allclose(o, image)]
    assert 0 < len(changed) < 20  # applied to some patches (p=0.3), not all
    assert all(o.std() > 0.1 and abs(o.mean() - 0.8) < 0.1 for o in changed)
