"""Confocal image formation: marker density → PSF blur (+ out-of-focus haze) → photons → counts.

Each channel is one marker (``tspan4``: migrasomes brightest, faint fibers, bright membrane;
``wga``: brighter cells, diffuse dye in the medium, bright endocytosed puncta) rendered from the
same scene with its own emission wavelength, levels and noise.

Each image also draws its appearance families (cell style, optics, noise model, fiber style,
exposure: :mod:`migraseg.synth.appearance`, docs/simulator_families.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from migraseg.synth.appearance import (
    Look,
    cell_density,
    detect,
    draw_look,
    optics_haze,
    out_of_focus_light,
)
from migraseg.synth.fields import blur, illumination, smooth_noise
from migraseg.synth.geometry import soft_disc, window
from migraseg.synth.objects import Scene
from migraseg.synth.params import ConfocalParams, MarkerParams, draw_ranges
from migraseg.synth.raster import SceneRaster

RIM_UM = 0.3  # thickness of the bright rim of a ring-like migrasome
EV_REFERENCE_UM = 0.15  # ev levels are for a vesicle of this diameter ...
REFERENCE_PIXEL_UM = 0.1  # ... as pixels of this size


def psf_sigma_um(wavelength_um: float, numerical_aperture: float) -> float:
    """Gaussian approximation of the lateral confocal PSF: σ ≈ 0.21 λ / NA (Zhang et al. 2007)."""
    return 0.21 * wavelength_um / numerical_aperture


@dataclass
class Channel:
    """What one channel drew: its marker's levels, PSF and detector."""

    marker: str
    params: MarkerParams
    levels: dict[str, float]  # one draw from every MarkerParams range
    psf_sigma_um: float
    haze_sigma_um: float
    peak_photons: float
    background_photons: float
    read_noise_e: float
    gain: float  # ADU per photon
    offset: float  # ADU
    bleached: float
    extra: dict[str, float] = field(default_factory=dict)  # family-specific draws (summary)


@dataclass
class ConfocalAcquisition:
    """The values one image (or every frame of a time-lapse) draws from :class:`ConfocalParams`.

    ``texture`` (smooth noise over 0.5 µm) beads fibers and roughens debris; it is drawn once, so
    a static fiber keeps its beads over a time-lapse. ``cell_texture`` modulates cell interiors
    (the same field in a still image; redrawn for each frame of a time-lapse).
    """

    pixel_size: float
    numerical_aperture: float
    bit_depth: int
    channels: list[Channel]
    illumination: np.ndarray  # (Y, X)
    texture: np.ndarray  # (Y, X)
    cell_texture: np.ndarray  # (Y, X)
    look: Look = field(default_factory=Look)  # the appearance families drawn
    defocus: float = 1.0  # PSF widening of this frame by slow focus drift (time-lapses)

    @property
    def psf_scale(self) -> float:
        return self.look.psf_scale * self.defocus

    @property
    def fiber_mask_width_um(self) -> float:
        """One confocal PSF FWHM (of the first channel): the width a 50 nm fiber images at.

        The point-scanning PSF whatever the optics family, so that masks never depend on it.
        """
        return 2.355 * self.channels[0].psf_sigma_um

    def summary(self) -> dict[str, Any]:
        """The drawn values, for the truth table."""
        return {
            "numerical_aperture": self.numerical_aperture,
            "bit_depth": self.bit_depth,
            "fiber_mask_width_um": self.fiber_mask_width_um,
            **self.look.summary(),
            "channels": [
                {
                    "marker": c.marker,
                    "psf_fwhm_um": 2.355 * c.psf_sigma_um * self.psf_scale,
                    "peak_photons": c.peak_photons,
                    "background_photons": c.background_photons,
                    "gain_adu_per_photon": c.gain,
                    **c.levels,
                    **c.extra,
                }
                for c in self.channels
            ],
        }


def draw_acquisition(
    rng: np.random.Generator, p: ConfocalParams, pixel_size: float
) -> ConfocalAcquisition:
    """Draw optics, marker levels and detector settings for one image or time-lapse."""
    na = float(rng.uniform(*p.numerical_aperture))
    bits = int(rng.choice(p.bit_depths))
    full = 2.0**bits - 1
    channels = []
    for marker in p.channels:
        mp = p.markers[marker]
        levels = draw_ranges(rng, mp)
        if p.log_photons:
            peak = float(np.exp(rng.uniform(*np.log(p.peak_photons))))
        else:
            peak = float(rng.uniform(*p.peak_photons))
        offset = p.offset_fraction * full
        gain = float(rng.uniform(*p.full_scale_fraction)) * (full - offset) / peak
        channels.append(
            Channel(
                marker,
                mp,
                levels,
                psf_sigma_um(levels["emission_um"], na),
                float(rng.uniform(*p.haze_sigma_um)),
                peak,
                float(rng.uniform(*p.background_photons)),
                float(rng.uniform(*p.read_noise_e)),
                gain,
                offset,
                float(rng.uniform(*p.bleached_fraction)),
            )
        )
    shape = tuple(p.image_size_px)
    light = illumination(rng, shape, float(rng.uniform(*p.illumination_falloff)))
    texture = smooth_noise(rng, shape, 0.5 / pixel_size)
    acq = ConfocalAcquisition(pixel_size, na, bits, channels, light, texture, texture)
    acq.look = draw_look(rng.spawn(1)[0], p, acq)
    return acq


def _add_objects(density: np.ndarray, scene: Scene, c: Channel, acq: ConfocalAcquisition) -> None:
    """Migrasomes (rings when large), debris, intracellular puncta and small vesicles, in place."""
    lv, mp, shape, pixel_size = c.levels, c.params, density.shape, acq.pixel_size
    for m in scene.migrasomes:
        radius = m.diameter_um / 2
        win = window(m.center, radius + pixel_size, shape, pixel_size)
        if win.empty:
            continue
        level = lv["migrasome"] * (1 - mp.migrasome_variation * m.tone) * (0.6 + 0.4 * m.growth)
        value = soft_disc(win, m.center, radius, pixel_size) * level
        if m.diameter_um > mp.ring_above_diameter_um:
            lumen = soft_disc(win, m.center, radius - RIM_UM, pixel_size)
            value *= 1 - (1 - lv["ring_lumen"]) * lumen
        np.maximum(density[win.rows, win.cols], value, out=density[win.rows, win.cols])
    for d in scene.distractors:
        if d.kind in ("dust", "ev"):
            continue
        win = window(d.center, d.diameter_um / 2 + pixel_size, shape, pixel_size)
        if win.empty:
            continue
        if d.kind == "debris":
            inside = d.outline.depth(win.x, win.y) > 0
            grain = np.clip(1 + 0.6 * acq.texture[win.rows, win.cols], 0.2, None)
            value = inside * lv["debris"] * (0.6 + 0.8 * d.tone) * grain
        else:  # punctum
            value = soft_disc(win, d.center, d.diameter_um / 2, pixel_size)
            value *= lv["puncta"] * (0.5 + d.tone)
        np.maximum(density[win.rows, win.cols], value, out=density[win.rows, win.cols])
    evs = [d for d in scene.distractors if d.kind == "ev"]
    if evs:
        xy = np.array([d.center for d in evs]) / pixel_size
        cols, rows = xy[:, 0].astype(int), xy[:, 1].astype(int)
        ok = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
        size = np.array([d.diameter_um for d in evs]) / EV_REFERENCE_UM
        tone = np.array([0.5 + d.tone for d in evs])
        signal = lv["ev"] * size**2 * tone * (REFERENCE_PIXEL_UM / pixel_size) ** 2
        np.add.at(density, (rows[ok], cols[ok]), signal[ok].astype(np.float32))


def marker_density(
    scene: Scene, raster: SceneRaster, c: Channel, acq: ConfocalAcquisition
) -> tuple[np.ndarray, np.ndarray]:
    """In-focus marker density and the out-of-focus part (cell haze, dust), both (Y, X)."""
    lv, mp = c.levels, c.params
    cell = raster.cell_ids > 0
    density = cell_density(scene, raster, c, acq)
    line = np.clip(1 - raster.fiber_distance_px, 0, 1)
    beads = np.clip(1 + mp.fiber_beading * acq.texture, 0.1, None)
    density = np.where(cell, density, np.maximum(density, lv["fiber"] * line * beads))
    _add_objects(density, scene, c, acq)
    haze = lv["haze"] * np.where(cell, density, 0).astype(np.float32)
    for d in scene.distractors:
        if d.kind == "dust":
            win = window(d.center, d.diameter_um / 2, density.shape, acq.pixel_size)
            if not win.empty:
                inside = d.outline.depth(win.x, win.y) > 0
                haze[win.rows, win.cols] += lv["dust"] * (0.5 + d.tone) * inside
    return density, haze


def render_confocal(
    rng: np.random.Generator,
    scene: Scene,
    raster: SceneRaster,
    acq: ConfocalAcquisition,
    signal_scale: float = 1.0,
) -> np.ndarray:
    """Render every channel of one frame.

    Args:
        signal_scale: remaining marker fraction (bleaching over a time-lapse).

    Returns:
        (C, Y, X) uint8 or uint16 detector counts of ``acq.bit_depth`` bits.
    """
    full = 2**acq.bit_depth - 1
    dtype = np.uint8 if full < 256 else np.uint16
    shape = raster.semantic.shape
    out = np.empty((len(acq.channels), *shape), dtype)
    far = out_of_focus_light(scene, acq, shape)
    for i, c in enumerate(acq.channels):
        density, haze = marker_density(scene, raster, c, acq)
        signal = blur(density, c.psf_sigma_um * acq.psf_scale / acq.pixel_size)
        signal += blur(haze, c.haze_sigma_um / acq.pixel_size) + c.levels["background_dye"]
        for extra in (optics_haze(density, c, acq), far, acq.look.autofluorescence):
            if extra is not None:
                signal += extra
        signal *= acq.illumination * ((1 - c.bleached) * signal_scale)
        counts = detect(rng, signal, c, acq)
        out[i] = np.clip(np.round(counts), 0, full)
    return out
