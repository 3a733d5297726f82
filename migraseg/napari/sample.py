"""napari sample data: a simulated confocal image, to try the widget without data of one's own."""

from __future__ import annotations

from typing import Any

from migraseg.synth.generator import make_sample
from migraseg.synth.params import SynthConfig

SIZE_PX = 256


def simulated_image(seed: int = 0, size_px: int = SIZE_PX) -> list[tuple[Any, dict, str]]:
    """One simulated confocal image (first channel) with its pixel size as the layer's scale."""
    config = SynthConfig().with_acquisition(image_size_px=(size_px, size_px))
    sample = make_sample(config, seed, 0)
    pixel = sample.pixel_size_um
    return [(sample.image[0], {"name": "simulated", "scale": (pixel, pixel)}, "image")]
