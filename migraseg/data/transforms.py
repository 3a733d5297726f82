"""Augmentation of training patches: albumentations geometry, then intensity changes.

albumentations clips float images to [0, 1] in every intensity transform, but a normalised
image (percentiles 1 and 99.8 mapped to 0 and 1) runs past both ends: bright migrasomes and
out-of-focus blobs sit well above 1. Clipping them in training only would teach the network an
input it never meets in inference. So intensity transforms see the patch mapped affinely into
[0, 1] (from ``min(patch, 0)`` to ``max(patch, 1)``) and their result is mapped back: nothing is
clipped, and the strengths below are fractions of that range.
"""

from __future__ import annotations

from typing import Any

import albumentations as A  # migraseg/__init__ has switched its network update check off
import cv2
import numpy as np


class Augmentation:
    """Geometry on image and mask together, then intensity on the image alone.

    Called like an ``A.Compose``: ``augment(image=(H, W, C) float32, mask=(H, W) uint8)``
    returns ``{"image", "mask"}``; ``set_random_seed`` makes the result a function of the seed.
    """

    def __init__(self, geometry: A.Compose, intensity: A.Compose):
        self.geometry, self.intensity = geometry, intensity

    def set_random_seed(self, seed: int) -> None:
        self.geometry.set_random_seed(seed)
        self.intensity.set_random_seed(seed + 1)

    def __call__(self, *, image: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
        out = self.geometry(image=image, mask=mask)
        if self.intensity.transforms:
            out["image"] = unclipped(self.intensity, out["image"])
        return out


def unclipped(transform: A.Compose, image: np.ndarray) -> np.ndarray:
    """Apply ``transform`` to ``image`` mapped into [0, 1] and map the result back."""
    lo, hi = min(float(image.min()), 0.0), max(float(image.max()), 1.0)
    scaled = ((image - lo) / (hi - lo)).astype(np.float32)
    return (transform(image=scaled)["image"] * (hi - lo) + lo).astype(np.float32)


def build_augmentation(
    flips: bool = True,
    scale_range: tuple[float, float] = (1.0, 1.0),
    rotate_deg: float = 0.0,
    brightness: float = 0.0,
    contrast: float = 0.0,
    gamma_range: tuple[float, float] = (1.0, 1.0),
    noise_std: float = 0.0,
    speckle: float = 0.0,
    shot_noise_scale: tuple[float, float] = (0.0, 0.0),
    blur_probability: float = 0.0,
    defocus_probability: float = 0.0,
    downscale_probability: float = 0.0,
    illumination_probability: float = 0.0,
) -> Augmentation:
    """A pipeline over (H, W, C) float32 normalised images and (H, W) uint8 masks.

    Geometry first (D4 symmetries, scale for pixel-size robustness, rotation), then intensity:
    brightness/contrast, gamma (``gamma_range``, e.g. (0.6, 1.6)), additive Gaussian noise
    (s.d. up to ``noise_std``), multiplicative speckle (EMCCD-like gain noise, ±``speckle``),
    Poisson shot noise (``shot_noise_scale``: 1 / photons per unit of the patch's range, so
    (0.01, 0.3) re-images a patch with 100 down to ~3 photons at its brightest; albumentations'
    ShotNoise, which works on intensities raised to 2.2 as for camera images), Gaussian blur,
    defocus (a disc PSF), downscaling (a coarser microscope), uneven illumination. Each
    ``*_probability`` is how often that transform applies.
    """
    geometry: list[A.BasicTransform] = []
    if flips:
        geometry.append(A.D4(p=1.0))
    if scale_range != (1.0, 1.0) or rotate_deg:
        geometry.append(
            A.Affine(
                scale=tuple(scale_range),
                rotate=(-rotate_deg, rotate_deg),
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_NEAREST,
                border_mode=cv2.BORDER_REFLECT_101,
                p=0.7,
            )
        )
    intensity: list[A.BasicTransform] = []
    if illumination_probability:
        intensity.append(A.Illumination(intensity_range=(0.05, 0.2), p=illumination_probability))
    if brightness or contrast:
        intensity.append(A.RandomBrightnessContrast(brightness, contrast, p=0.8))
    if tuple(gamma_range) != (1.0, 1.0):
        limits = (round(100 * gamma_range[0]), round(100 * gamma_range[1]))
        intensity.append(A.RandomGamma(gamma_limit=limits, p=0.5))
    if blur_probability:
        intensity.append(A.GaussianBlur(blur_limit=(3, 5), p=blur_probability))
    if defocus_probability:
        intensity.append(A.Defocus(radius=(1, 3), alias_blur=(0.1, 0.3), p=defocus_probability))
    if downscale_probability:
        intensity.append(A.Downscale(scale_range=(0.5, 0.9), p=downscale_probability))
    if speckle:
        intensity.append(
            A.MultiplicativeNoise(multiplier=(1 - speckle, 1 + speckle), elementwise=True, p=0.3)
        )
    if shot_noise_scale[1] > 0:
        intensity.append(A.ShotNoise(scale_range=tuple(shot_noise_scale), p=0.3))
    if noise_std:
        intensity.append(A.GaussNoise(std_range=(0.0, noise_std), p=0.5))
    return Augmentation(A.Compose(geometry), A.Compose(intensity))
