"""Confocal image formation: marker density → PSF blur (+ out-of-focus haze) → photons → counts.

Each channel is one marker (``tspan4``: migrasomes brightest, faint fibers, bright membrane;
``wga``: brighter cells, diffuse dye in the medium, bright endocytosed puncta) rendered from the
same scene with its own emission wavelength, levels and noise.

Each image also draws one appearance family per axis of ``ConfocalParams`` (cell style, optics,
noise model, fiber style, exposure; docs/simulator_families.md). Their draws come from a child
generator, so that the families change how an image looks and never its scene or masks, and a
preset whose weights select one family per axis (the defaults: today's look) draws exactly the
numbers it drew before families existed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from migraseg.synth.fields import blur, illumination, puncta_field, smooth_noise
from migraseg.synth.geometry import soft_disc, window
from migraseg.synth.objects import Scene
from migraseg.synth.params import FAMILY_AXES, ConfocalParams, MarkerParams, choose, draw_ranges
from migraseg.synth.raster import SceneRaster

RIM_UM = 0.3  # thickness of the bright rim of a ring-like migrasome
EV_REFERENCE_UM = 0.15  # ev levels are for a vesicle of this diameter ...
REFERENCE_PIXEL_UM = 0.1  # ... as pixels of this size

# Optics families: lateral PSF relative to a point-scanning confocal (widefield ~1.4x wider,
# Airyscan/SIM-like ~0.7x), and Airyscan's better signal (more photons, less read noise).
PSF_SCALE = {"confocal": 1.0, "spinning_disk": 1.1, "widefield": 1.4, "airyscan": 0.7}
AIRYSCAN_PHOTONS = 2.0
AIRYSCAN_READ_NOISE = 0.5
WIDEFIELD_NEAR_HAZE_UM = 1.0  # widefield: near-focus halo (σ) besides the far haze
# Cell styles: interior of a rim-only cell (× cell_interior); fill level (× cell_membrane)
RIM_ONLY_INTERIOR = 0.3
FILL_LEVEL = (0.6, 1.3)
FILL_RAMP_UM = (0.5, 2.5)  # a filled cell thins (dims) over this distance from its edge
PUNCTA_PER_UM2 = (0.5, 3.0)  # punctate cells: puncta per µm² ...
PUNCTA_LEVEL = (0.4, 1.2)  # ... of this peak density (migrasomes ≈ 1)
NUCLEUS_DARK = (0.05, 0.35)  # a nucleus is this fraction of the fill
# Noise families
SCMOS_GAIN_SD = 0.02  # per-pixel gain variation
SCMOS_OFFSET_SD_E = (0.5, 2.0)  # per-pixel offset pattern, electrons
SCMOS_COLUMN_SD_E = (0.3, 2.0)  # per-column offset, electrons
EMCCD_READ_NOISE = 0.05  # read noise left after EM gain (fraction)


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
    families: dict[str, str] = field(default_factory=dict)  # axis -> the family drawn
    family_values: dict[str, float] = field(default_factory=dict)  # per-image family draws
    style_field: np.ndarray | None = None  # (Y, X) puncta or strong texture of cell styles
    nucleus_draws: np.ndarray | None = None  # (K, 5) uniform draws per cell id (mod K)
    autofluorescence: np.ndarray | None = None  # (Y, X) density
    camera: dict[str, np.ndarray] = field(default_factory=dict)  # sCMOS patterns (Y, X)
    out_of_focus_density: tuple[float, float] = (0.0, 0.0)

    def family(self, axis: str) -> str:
        """The family drawn for ``axis`` (a ConfocalParams weights field), or its first."""
        return self.families.get(axis, FAMILY_AXES[axis][0])

    @property
    def psf_scale(self) -> float:
        return PSF_SCALE[self.family("optics")]

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
            "families": {axis: self.family(axis) for axis in FAMILY_AXES},
            **self.family_values,
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
    draw_families(rng.spawn(1)[0], p, acq)
    return acq


def draw_families(rng: np.random.Generator, p: ConfocalParams, acq: ConfocalAcquisition) -> None:
    """Draw the image's appearance families and what they need, into ``acq`` (in place).

    ``rng`` is a child generator of the image's: nothing drawn here moves the image's other
    draws, and a family that needs nothing draws nothing.
    """
    acq.families = {axis: choose(rng, getattr(p, axis)) for axis in FAMILY_AXES}
    acq.out_of_focus_density = p.out_of_focus_density
    shape, px = acq.illumination.shape, acq.pixel_size
    full = 2.0**acq.bit_depth - 1
    optics = acq.family("optics")
    if optics == "widefield":
        acq.family_values["optics_haze"] = float(rng.uniform(*p.widefield_haze))
    elif optics == "spinning_disk":
        acq.family_values["optics_haze"] = float(rng.uniform(*p.spinning_disk_crosstalk))
    for c in acq.channels:
        if p.relative_background:  # background light scales with exposure, as the signal does
            c.background_photons *= c.peak_photons / 100
        if optics == "airyscan":
            c.gain /= AIRYSCAN_PHOTONS  # the same full-scale fraction for twice the photons
            c.peak_photons *= AIRYSCAN_PHOTONS
            c.read_noise_e *= AIRYSCAN_READ_NOISE
        if acq.family("exposures") == "saturated":
            level = float(rng.uniform(*p.saturated_density))
            c.gain = (full - c.offset) / (c.peak_photons * level)
            c.extra["saturated_density"] = level
        if acq.family("fiber_styles") == "dim":
            snr = float(rng.uniform(*p.dim_fiber_snr))
            sigma_px = c.psf_sigma_um * acq.psf_scale / px
            line_peak = 1 / max(np.sqrt(2 * np.pi) * sigma_px, 1.0)  # of a 1-px line, blurred
            noise = np.sqrt(c.background_photons + c.read_noise_e**2)
            dim = snr * noise / (c.peak_photons * line_peak)
            c.levels["fiber"] = float(min(dim, c.levels["fiber"]))  # never brighter than drawn
            c.extra["fiber_snr"] = snr
    style = acq.family("cell_styles")
    if style in ("fill", "nucleus", "textured"):
        acq.family_values["fill_level"] = float(rng.uniform(*FILL_LEVEL))
        acq.family_values["fill_ramp_um"] = float(rng.uniform(*FILL_RAMP_UM))
    if style == "punctate":
        per_px = float(rng.uniform(*PUNCTA_PER_UM2)) * px**2
        acq.style_field = puncta_field(rng, shape, per_px, (0.1 / px, 0.25 / px))
        acq.family_values["puncta_level"] = float(rng.uniform(*PUNCTA_LEVEL))
    elif style == "nucleus":
        acq.nucleus_draws = rng.random((64, 5))
    elif style == "textured":
        coarse = smooth_noise(rng, shape, 1.5 / px)
        fine = smooth_noise(rng, shape, 0.25 / px)
        acq.style_field = 0.8 * coarse + 0.6 * fine
    noise = acq.family("noise_models")
    if noise == "scmos":
        offset_sd = float(rng.uniform(*SCMOS_OFFSET_SD_E))
        column_sd = float(rng.uniform(*SCMOS_COLUMN_SD_E))
        acq.camera = {
            "gain": (1 + SCMOS_GAIN_SD * rng.standard_normal(shape)).astype(np.float32),
            "offset_e": (
                offset_sd * rng.standard_normal(shape)
                + column_sd * rng.standard_normal((1, shape[1]))
            ).astype(np.float32),
            "read_scale": np.exp(0.3 * rng.standard_normal(shape)).astype(np.float32),
        }
    if p.autofluorescence[1] > 0:
        level = float(rng.uniform(*p.autofluorescence))
        blotches = np.clip(1 + 0.6 * smooth_noise(rng, shape, 6.0 / px), 0, None)
        acq.autofluorescence = (level * blotches).astype(np.float32)
        acq.family_values["autofluorescence"] = level


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


def _nuclei(scene: Scene, raster: SceneRaster, acq: ConfocalAcquisition) -> np.ndarray:
    """Soft nucleus coverage (0–1), (Y, X): an ellipse behind each cell's centre."""
    out = np.zeros(raster.cell_ids.shape, np.float32)
    draws, px = acq.nucleus_draws, acq.pixel_size
    assert draws is not None
    for cell in scene.cells:
        u = draws[cell.id % len(draws)]
        radius = float(np.mean(cell.outline.radii))
        a = radius * (0.3 + 0.15 * u[0])
        b = a * (0.65 + 0.3 * u[1])
        angle = cell.heading + (u[2] - 0.5) * 0.8
        back = np.array([np.cos(cell.heading), np.sin(cell.heading)]) * radius * 0.2 * u[3]
        center = cell.center - back
        win = window(center, a + px, out.shape, px)
        if win.empty:
            continue
        dx, dy = win.x - center[0], win.y - center[1]
        along = dx * np.cos(angle) + dy * np.sin(angle)
        across = -dx * np.sin(angle) + dy * np.cos(angle)
        rho = np.sqrt((along / a) ** 2 + (across / b) ** 2)
        soft = np.clip((1 - rho) * b / 0.3 + 0.5, 0, 1)  # ~0.3 µm soft edge
        own = raster.cell_ids[win.rows, win.cols] == cell.id
        np.maximum(out[win.rows, win.cols], soft * own, out=out[win.rows, win.cols])
    return out


def cell_density(
    scene: Scene, raster: SceneRaster, c: Channel, acq: ConfocalAcquisition
) -> np.ndarray:
    """Marker density of the cell bodies (0 outside), (Y, X) float32, in the image's cell style.

    Whatever the style, the mask is the whole outline: a dim interior, a dark nucleus or holes
    in a texture are still cell.
    """
    lv, mp = c.levels, c.params
    cell = raster.cell_ids > 0
    rim = cell & (raster.cell_depth_um < mp.membrane_width_um)
    style = acq.family("cell_styles")
    texture = np.clip(1 + mp.cell_texture * acq.cell_texture, 0.2, None)
    if style in ("membrane", "rim", "punctate"):
        interior = lv["cell_interior"] * (RIM_ONLY_INTERIOR if style == "rim" else 1.0)
        density = np.where(cell, interior * texture, 0).astype(np.float32)
        density[rim] = lv["cell_membrane"] * (0.7 if style == "punctate" else 1.0)
        if style == "punctate":
            assert acq.style_field is not None
            puncta = acq.family_values["puncta_level"] * acq.style_field
            density += np.where(cell, puncta, 0).astype(np.float32)
        return density
    # fill, nucleus, textured: cytosol fills the cell and thins towards its edge; a weak rim
    fill = lv["cell_membrane"] * acq.family_values["fill_level"]
    depth = np.clip(raster.cell_depth_um / acq.family_values["fill_ramp_um"], 0, 1)
    profile = 0.35 + 0.65 * np.sqrt(depth)
    if style == "textured":
        assert acq.style_field is not None
        strong = 1 + 0.5 * mp.cell_texture * acq.cell_texture + acq.style_field
        texture = np.clip(strong, 0.05, None)
    else:
        texture = np.clip(1 + 0.5 * mp.cell_texture * acq.cell_texture, 0.2, None)
    density = np.where(cell, fill * profile * texture, 0).astype(np.float32)
    density[rim] *= 1.4
    if style == "nucleus":
        dark = NUCLEUS_DARK[0] + (NUCLEUS_DARK[1] - NUCLEUS_DARK[0]) * acq.nucleus_draws[0, 4]
        density *= 1 - (1 - dark) * _nuclei(scene, raster, acq)
    return density


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


def out_of_focus_light(scene: Scene, acq: ConfocalAcquisition, shape: tuple[int, int]):
    """Blurred out-of-focus objects, (Y, X) float32 density, or None when there are none.

    Each object is a filled outline blurred by its own defocus; objects are grouped into
    half-octave blur layers, each blurred once. Its density is scaled so that its blurred peak
    is its drawn level (out_of_focus_density), up to a 25x boost for small, far objects.
    """
    objects = [d for d in scene.distractors if d.kind == "out_of_focus"]
    if not objects:
        return None
    px = acq.pixel_size
    lo, hi = acq.out_of_focus_density
    layers: dict[int, np.ndarray] = {}
    for d in objects:
        win = window(d.center, d.diameter_um / 2 + px, shape, px)
        if win.empty:
            continue
        sigma_px = max(d.blur_um / px, 1.0)
        key = round(2 * float(np.log2(sigma_px)))
        sigma_layer = 2 ** (key / 2)
        peak = 1 - np.exp(-((d.diameter_um / px) ** 2) / (8 * sigma_layer**2))
        level = (lo + (hi - lo) * d.tone) / max(peak, 1 / 25)
        inside = np.clip(d.outline.depth(win.x, win.y) / px + 0.5, 0, 1)
        layer = layers.setdefault(key, np.zeros(shape, np.float32))
        layer[win.rows, win.cols] += (level * inside).astype(np.float32)
    out = np.zeros(shape, np.float32)
    for key, layer in layers.items():
        out += blur(layer, 2 ** (key / 2))
    return out


def _optics_haze(density: np.ndarray, c: Channel, acq: ConfocalAcquisition) -> np.ndarray | None:
    """Out-of-focus light of everything in focus: widefield (strong), spinning disk (crosstalk)."""
    optics, px = acq.family("optics"), acq.pixel_size
    if optics == "widefield":
        near = blur(density, WIDEFIELD_NEAR_HAZE_UM / px)
        far = blur(density, c.haze_sigma_um / px)
        return acq.family_values["optics_haze"] * (0.5 * near + far)
    if optics == "spinning_disk":
        return acq.family_values["optics_haze"] * blur(density, 2 * c.haze_sigma_um / px)
    return None


def _detect(rng: np.random.Generator, signal: np.ndarray, c: Channel, acq: ConfocalAcquisition):
    """Photon counting and the camera: float32 counts in ADU before rounding and clipping."""
    photons = rng.poisson(signal * c.peak_photons + c.background_photons).astype(np.float32)
    model = acq.family("noise_models")
    if model == "emccd":  # EM multiplication: gamma-distributed gain, excess noise factor √2
        photons = rng.gamma(photons).astype(np.float32)
        read = EMCCD_READ_NOISE * c.read_noise_e
    else:
        read = c.read_noise_e
    noise = rng.standard_normal(photons.shape, dtype=np.float32) * (read * c.gain)
    if model == "scmos":
        cam = acq.camera
        electrons = photons * cam["gain"] + cam["offset_e"]
        return electrons * c.gain + c.offset + noise * cam["read_scale"]
    return photons * c.gain + c.offset + noise


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
        for extra in (_optics_haze(density, c, acq), far, acq.autofluorescence):
            if extra is not None:
                signal += extra
        signal *= acq.illumination * ((1 - c.bleached) * signal_scale)
        counts = _detect(rng, signal, c, acq)
        out[i] = np.clip(np.round(counts), 0, full)
    return out
