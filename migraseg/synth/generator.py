"""One simulated image with its exact truth: ``make_sample(config, seed, index)``.

Each image draws from its own generator seeded by ``(seed, index)``, so a dataset is identical
however many workers generate it and in whatever order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from migraseg.synth.confocal import render_confocal
from migraseg.synth.params import SynthConfig
from migraseg.synth.raster import SceneRaster, rasterize
from migraseg.synth.scene import Scene, build_scene


@dataclass
class SyntheticSample:
    """A simulated image and its truth. Arrays are (Y, X) except ``image`` (C, Y, X)."""

    image: np.ndarray
    mask: np.ndarray
    migrasome_ids: np.ndarray
    cell_ids: np.ndarray
    pixel_size_um: float
    truth: dict[str, Any]


def truth_table(scene: Scene, raster: SceneRaster, pixel_size: float) -> dict[str, Any]:
    """The true objects visible in the frame, in µm, keyed like the prediction tables."""
    present = set(np.unique(raster.migrasome_ids).tolist()) - {0}
    height, width = raster.semantic.shape
    migrasomes = [
        {
            "id": m.instance_id,
            "x_um": float(m.center[0]),
            "y_um": float(m.center[1]),
            "diameter_um": m.diameter_um,
            "site": m.site,
            "cut_by_border": bool(
                min(m.center[0], m.center[1]) < m.diameter_um / 2
                or m.center[0] > width * pixel_size - m.diameter_um / 2
                or m.center[1] > height * pixel_size - m.diameter_um / 2
            ),
        }
        for m in scene.migrasomes
        if m.instance_id in present
    ]
    fibers = [{"parent": f.parent, "length_um": f.length_um} for f in scene.fibers]
    return {"migrasomes": migrasomes, "fibers": fibers, "n_cells": len(scene.cells)}


def make_sample(config: SynthConfig, seed: int, index: int) -> SyntheticSample:
    """Simulate image ``index`` of the dataset with seed ``seed``."""
    if config.modality != "confocal":
        raise ValueError(f"unknown modality {config.modality!r}; this simulator renders 'confocal'")
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    optics = config.confocal
    pixel_size = float(rng.uniform(*optics.pixel_size_um))
    height, width = optics.image_size_px
    scene = build_scene(rng, config.scene, width * pixel_size, height * pixel_size)
    raster = rasterize(scene, (height, width), pixel_size, optics.fiber_mask_width_um)
    image, drawn = render_confocal(rng, scene, raster, optics, pixel_size)
    truth = truth_table(scene, raster, pixel_size) | {"optics": drawn}
    return SyntheticSample(
        image=image[None],
        mask=raster.semantic,
        migrasome_ids=raster.migrasome_ids,
        cell_ids=raster.cell_ids,
        pixel_size_um=pixel_size,
        truth=truth,
    )
