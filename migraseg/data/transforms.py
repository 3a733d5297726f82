"""Augmentation pipelines (albumentations) applied to normalised float patches."""

from __future__ import annotations

import albumentations as A  # migraseg/__init__ has switched its network update check off
import cv2


def build_augmentation(
    flips: bool = True,
    scale_range: tuple[float, float] = (1.0, 1.0),
    rotate_deg: float = 0.0,
    brightness: float = 0.0,
    contrast: float = 0.0,
    noise_std: float = 0.0,
    blur_probability: float = 0.0,
) -> A.Compose:
    """A pipeline over (H, W, C) float32 images normalised to ~[0, 1] and (H, W) uint8 masks.

    Geometry first (D4 symmetries, scale for pixel-size robustness, rotation), then intensity.
    Intensity changes act on the normalised image, so no transform sees negative raw counts.
    """
    ops: list[A.BasicTransform] = []
    if flips:
        ops.append(A.D4(p=1.0))
    if scale_range != (1.0, 1.0) or rotate_deg:
        ops.append(
            A.Affine(
                scale=tuple(scale_range),
                rotate=(-rotate_deg, rotate_deg),
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_NEAREST,
                border_mode=cv2.BORDER_REFLECT_101,
                p=0.7,
            )
        )
    if brightness or contrast:
        ops.append(A.RandomBrightnessContrast(brightness, contrast, p=0.8))
    if noise_std:
        ops.append(A.GaussNoise(std_range=(0.0, noise_std), p=0.5))
    if blur_probability:
        ops.append(A.GaussianBlur(blur_limit=(3, 5), p=blur_probability))
    return A.Compose(ops)
