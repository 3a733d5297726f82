"""``<stem>_overlay.png``: the input with class outlines, migrasome ids and a scale bar, so a
biologist can check a prediction at a glance (like Cellpose's ``--save_png``)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage.segmentation import find_boundaries

from migraseg.constants import CELL, FIBER, MIGRASOME
from migraseg.utils.files import atomic_path
from migraseg.visualize import CLASS_COLOURS, to_gray

MAX_OVERLAY_SIDE = 4096  # larger images get no overlay (the PNG would be unwieldy)
MIN_SIDE = 512  # smaller images are enlarged (nearest neighbour) so ids stay legible
ID_COLOUR = (255, 230, 0)
BAR_STEPS_UM = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500)


def scale_bar_um(width_um: float) -> float:
    """The longest round length (1, 2, 5 × 10^k µm) up to a fifth of the image's width."""
    fitting = [s for s in BAR_STEPS_UM if s <= width_um / 5]
    return fitting[-1] if fitting else BAR_STEPS_UM[0]


def outlined(image: np.ndarray, labels: np.ndarray, zoom: int) -> np.ndarray:
    """Gray RGB of ``image`` enlarged ``zoom``×, each class's outline in its colour."""
    gray = to_gray(image).repeat(zoom, 0).repeat(zoom, 1)
    big = labels.repeat(zoom, 0).repeat(zoom, 1)
    for k in (CELL, FIBER, MIGRASOME):  # migrasomes last: on top
        edge = find_boundaries(big == k, mode="inner")
        gray[edge] = CLASS_COLOURS[k]
    return gray


def render_overlay(
    image: np.ndarray,
    labels: np.ndarray,
    pixel_size_um: float,
    migrasomes: Sequence[tuple[int, float, float]],
) -> Image.Image:
    """The overlay of one frame.

    Args:
        image: (Y, X) input intensities (percentile-stretched for display).
        labels: (Y, X) class ids.
        pixel_size_um: µm per input px.
        migrasomes: (id, x_px, y_px) of each migrasome, as in the migrasome table.
    """
    zoom = max(1, math.ceil(MIN_SIDE / min(labels.shape)))
    canvas = Image.fromarray(outlined(image, labels, zoom))
    draw = ImageDraw.Draw(canvas)
    side = min(canvas.size)
    font = ImageFont.load_default(size=max(12, side // 40))
    for number, x, y in migrasomes:
        at = ((x + 0.5) * zoom + 4, (y + 0.5) * zoom - 4)
        draw.text(at, str(number), fill=ID_COLOUR, font=font, stroke_width=1, stroke_fill=(0, 0, 0))
    bar_um = scale_bar_um(labels.shape[1] * pixel_size_um)
    bar_px = bar_um / pixel_size_um * zoom
    margin, thick = side // 30, max(3, side // 150)
    x1, y1 = canvas.size[0] - margin, canvas.size[1] - margin
    draw.rectangle((x1 - bar_px, y1 - thick, x1, y1), fill=(255, 255, 255))
    label = f"{bar_um:g} µm"
    draw.text(
        (x1 - bar_px / 2, y1 - thick - 2),
        label,
        fill=(255, 255, 255),
        font=font,
        anchor="md",
        stroke_width=1,
        stroke_fill=(0, 0, 0),
    )
    return canvas


def write_overlay(
    path: str | os.PathLike,
    image: np.ndarray,
    labels: np.ndarray,
    pixel_size_um: float,
    migrasomes: Sequence[tuple[int, float, float]],
) -> None:
    """Render (:func:`render_overlay`) and save a PNG atomically."""
    with atomic_path(path) as tmp:
        render_overlay(image, labels, pixel_size_um, migrasomes).save(tmp, format="PNG")
