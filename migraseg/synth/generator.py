"""One simulated image (or time-lapse) with its exact truth: ``make_sample(config, seed, index)``.

Each image draws from its own generator seeded by ``(seed, index)``, so a dataset is identical
however many workers generate it and in whatever order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from migraseg.synth import confocal, tem
from migraseg.synth.distractors import place_distractors
from migraseg.synth.fields import smooth_noise
from migraseg.synth.objects import Scene
from migraseg.synth.params import SynthConfig, TemParams
from migraseg.synth.raster import SceneRaster, rasterize
from migraseg.synth.scene import build_scene
from migraseg.synth.timelapse import Timeline, make_timeline
from migraseg.synth.truth import frame_truth


@dataclass
class SyntheticSample:
    """A simulated image and its truth.

    Still images: ``image`` (C, Y, X), label arrays (Y, X). Time-lapse: ``image`` (T, C, Y, X),
    label arrays (T, Y, X). ``mask`` holds class ids, ``migrasome_ids`` and ``cell_ids`` instance
    ids that are the truth table's ids (stable over frames).
    """

    image: np.ndarray
    mask: np.ndarray
    migrasome_ids: np.ndarray
    cell_ids: np.ndarray
    pixel_size_um: float
    truth: dict[str, Any]

    @property
    def n_frames(self) -> int:
        return self.image.shape[0] if self.image.ndim == 4 else 1


def tem_view(
    rng: np.random.Generator, scene: Scene, p: TemParams, field_um: tuple[float, float]
) -> Scene:
    """A TEM-sized window onto a larger scene: on a cell edge where fibers leave, or a migrasome."""
    trunks = [f for f in scene.fibers if f.kind == "trunk"]
    if trunks and (rng.random() < p.view_on_cell_edge or not scene.migrasomes):
        anchor = trunks[int(rng.integers(len(trunks)))].points[0]
    elif scene.migrasomes:
        anchor = scene.migrasomes[int(rng.integers(len(scene.migrasomes)))].center
    else:
        anchor = np.array([scene.width_um, scene.height_um]) / 2
    size = np.array(field_um)
    origin = anchor + rng.uniform(-0.25, 0.25, 2) * size - size / 2
    return scene.translated(-origin, *field_um)


def _scene(rng: np.random.Generator, config: SynthConfig, pixel_size: float) -> Scene:
    height, width = config.acquisition.image_size_px
    field_um = (width * pixel_size, height * pixel_size)
    if config.modality == "tem":
        world = max(config.tem.world_um, *field_um)
        scene = tem_view(rng, build_scene(rng, config.scene, world, world), config.tem, field_um)
    else:
        scene = build_scene(rng, config.scene, *field_um)
    return place_distractors(rng, scene, config.distractors)


def make_sample(config: SynthConfig, seed: int, index: int) -> SyntheticSample:
    """Simulate image ``index`` of the dataset with seed ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    pixel_size = float(rng.uniform(*config.acquisition.pixel_size_um))
    shape = tuple(config.acquisition.image_size_px)
    scene = _scene(rng, config, pixel_size)
    acq: tem.TemAcquisition | confocal.ConfocalAcquisition
    if config.modality == "tem":
        acq = tem.draw_acquisition(rng, config.tem, pixel_size)
        fiber_width = None  # true width
    else:
        acq = confocal.draw_acquisition(rng, config.confocal, pixel_size)
        fiber_width = acq.fiber_mask_width_um
    lapse = config.timelapse
    timeline = make_timeline(rng, scene, lapse) if lapse.n_frames > 1 else None
    frames = [timeline.frame(t) for t in range(lapse.n_frames)] if timeline else [scene]
    bleach = float(rng.uniform(*lapse.bleach_per_frame))
    # time-lapses only: still images keep their random stream
    focus_drift = float(rng.uniform(*lapse.focus_drift_per_frame)) if timeline else 0.0
    images, rasters = [], []
    for t, frame in enumerate(frames):
        raster = rasterize(frame, shape, pixel_size, fiber_width)
        if config.modality == "tem":
            images.append(tem.render_tem(rng, frame, raster, acq))
        else:
            if t:  # the cytoplasm changes between frames; beads on static fibers do not
                texture = smooth_noise(rng, shape, 0.5 / pixel_size)
                acq = replace(acq, cell_texture=texture, defocus=1 + focus_drift * t)
            images.append(confocal.render_confocal(rng, frame, raster, acq, (1 - bleach) ** t))
        rasters.append(raster)
    truth = _truth(config, frames, rasters, pixel_size, acq.summary(), timeline)
    if timeline:
        truth["focus_drift_per_frame"] = focus_drift

    def stack(arrays: list[np.ndarray]) -> np.ndarray:
        return np.stack(arrays) if timeline else arrays[0]

    return SyntheticSample(
        image=stack(images),
        mask=stack([r.semantic for r in rasters]),
        migrasome_ids=stack([r.migrasome_ids for r in rasters]),
        cell_ids=stack([r.cell_ids for r in rasters]),
        pixel_size_um=pixel_size,
        truth=truth,
    )


def _truth(
    config: SynthConfig,
    frames: list[Scene],
    rasters: list[SceneRaster],
    pixel_size: float,
    acquisition: dict[str, Any],
    timeline: Timeline | None,
) -> dict[str, Any]:
    per_frame = [frame_truth(f, r, pixel_size) for f, r in zip(frames, rasters, strict=True)]
    truth = {
        "preset": config.preset,
        "modality": config.modality,
        "pixel_size_um": pixel_size,
        "image_size_px": list(rasters[0].semantic.shape),
        "channels": config.channels,
        "acquisition": acquisition,
        **per_frame[-1],
    }
    if timeline is not None:
        interval = timeline.p.frame_interval_min  # the stack's own, when drawn per stack
        truth["frame_interval_min"] = interval
        truth["nucleation_min"] = {
            str(k): v if np.isfinite(v) else None for k, v in timeline.nucleation_min.items()
        }
        truth["growth_min"] = {str(k): v for k, v in timeline.growth_min.items()}
        if timeline.fates:  # what happens within the movie to each migrasome once grown
            end = (len(frames) - 1) * interval
            truth["fate"] = {
                str(m.id): timeline.fates[m.id]
                if timeline.fate_min.get(m.id, np.inf) <= end
                else "persists"
                for m in timeline.scene.migrasomes
            }
            truth["fate_min"] = {str(k): v for k, v in timeline.fate_min.items()}
        truth["frames"] = [{"t": t, "time_min": t * interval, **f} for t, f in enumerate(per_frame)]
    return truth
