"""Colour images for panels, galleries and reports (NumPy only)."""

from __future__ import annotations

import numpy as np

from migraseg.constants import CLASS_NAMES
from migraseg.normalization import percentile_normalize

# background, cell, retraction fiber, migrasome
CLASS_COLOURS = np.array([[0, 0, 0], [90, 90, 200], [40, 220, 40], [255, 0, 255]], np.uint8)
UNANNOTATED_COLOUR = np.array([110, 110, 110], np.uint8)  # mask value 255 (and any other id)
CLASS_COLOUR_NAMES = ("black", "blue", "green", "magenta")


def imagej_class_display() -> dict[str, object]:
    """ImageJ metadata that makes Fiji show a label image's classes in :data:`CLASS_COLOURS`:
    a lookup table and the display range 0–3, under which value k maps to LUT entry 85 k."""
    top = len(CLASS_COLOURS) - 1
    entry = np.rint(np.arange(256) * top / 255).astype(int)  # LUT entry → class shown there
    names = ", ".join(
        f"{k} {name} ({colour})"
        for k, (name, colour) in enumerate(zip(CLASS_NAMES, CLASS_COLOUR_NAMES, strict=True))
    )
    return {
        "LUTs": [np.ascontiguousarray(CLASS_COLOURS[entry].T)],  # (3, 256) uint8
        "Ranges": (0.0, float(top)),
        "min": 0.0,
        "max": float(top),
        "Info": f"migraseg classes: {names}",
    }


def to_gray(image: np.ndarray, low: float = 1.0, high: float = 99.8) -> np.ndarray:
    """Percentile-stretched (Y, X) image as uint8 RGB (Y, X, 3)."""
    gray = np.clip(percentile_normalize(image[None], low, high)[0], 0, 1)
    return np.repeat((gray * 255).astype(np.uint8)[..., None], 3, axis=-1)


def colorize(labels: np.ndarray) -> np.ndarray:
    """Class ids (Y, X) as uint8 RGB (Y, X, 3); ids beyond the classes (255: not annotated)
    in gray."""
    colours = np.concatenate([CLASS_COLOURS, UNANNOTATED_COLOUR[None]])
    return colours[np.clip(labels, 0, len(CLASS_COLOURS))]


def overlay(image: np.ndarray, labels: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Class colours blended over the gray image where labels are not background."""
    gray = to_gray(image).astype(np.float32)
    colour = colorize(labels).astype(np.float32)
    fg = (labels > 0)[..., None]
    return np.where(fg, (1 - alpha) * gray + alpha * colour, gray).astype(np.uint8)


def panel(image: np.ndarray, truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Input | truth | prediction side by side, RGB uint8 (Y, 3X + 8, 3)."""
    gap = np.full((image.shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([to_gray(image), gap, colorize(truth), gap, colorize(pred)], axis=1)


# Pixel outcomes in error maps: correct, missed (truth not found), false (nothing there),
# confused (another foreground class). Chosen to stay apart for red-green colour blindness.
ERROR_COLOURS = {
    "correct": (0, 170, 255),
    "missed": (255, 40, 40),
    "false": (255, 200, 0),
    "confused": (200, 60, 255),
}


def error_map(
    image: np.ndarray, truth: np.ndarray, pred: np.ndarray, alpha: float = 0.7
) -> np.ndarray:
    """Gray image with each foreground pixel coloured by its outcome (:data:`ERROR_COLOURS`).

    Shape: image, truth, pred (Y, X) → uint8 RGB (Y, X, 3).
    """
    gray = to_gray(image).astype(np.float32) * 0.6
    annotated = truth < len(CLASS_COLOURS)  # 255: not annotated, no outcome
    truth, pred = np.where(annotated, truth, 0), np.where(annotated, pred, 0)
    outcome = {
        "correct": (truth == pred) & (truth > 0),
        "missed": (truth > 0) & (pred == 0),
        "false": (pred > 0) & (truth == 0),
        "confused": (truth > 0) & (pred > 0) & (truth != pred),
    }
    for name, where in outcome.items():
        colour = np.array(ERROR_COLOURS[name], np.float32)
        gray[where] = (1 - alpha) * gray[where] + alpha * colour
    return gray.astype(np.uint8)
