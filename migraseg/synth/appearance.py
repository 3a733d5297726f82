"""Appearance families of confocal images (docs/simulator_families.md).

Each image draws one family per axis of ``ConfocalParams`` (``cell_styles``, ``optics``,
``noise_models``, ``fiber_styles``, ``exposures``) with the preset's weights, plus the optional
out-of-focus objects and autofluorescence. Families change how an image looks, never its scene
or masks: their draws come from a child generator of the image's, and weights that select one
family per axis (the defaults: the original look) draw no number at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from migraseg.synth.fields import blur, puncta_field, smooth_noise
from migraseg.synth.geometry import rotated_offsets, window
from migraseg.synth.objects import Scene
from migraseg.synth.params import FAMILY_AXES, ConfocalParams, choose
from migraseg.synth.raster import SceneRaster

if TYPE_CHECKING:
    from migraseg.synth.confocal import Channel, ConfocalAcquisition

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
SCMOS_OFFSET_SD_E = (0.2, 1.0)  # per-pixel offset pattern left after calibration, electrons
SCMOS_COLUMN_SD_E = (0.1, 0.8)  # per-column offset, electrons
EMCCD_READ_NOISE = 0.05  # read noise left after EM gain (fraction)


@dataclass
class Look:
    """The appearance families one image drew and what they drew (constant over a time-lapse)."""

    families: dict[str, str] = field(default_factory=dict)  # axis -> the family drawn
    values: dict[str, float] = field(default_factory=dict)  # per-image family draws (truth)
    style_field: np.ndarray | None = None  # (Y, X) puncta or strong texture of cell styles
    nucleus_draws: np.ndarray | None = None  # (K, 5) uniform draws per cell id (mod K)
    autofluorescence: np.ndarray | None = None  # (Y, X) density
    camera: dict[str, np.ndarray] = field(default_factory=dict)  # sCMOS patterns, (Y, X)
    out_of_focus_density: tuple[float, float] = (0.0, 0.0)

    def family(self, axis: str) -> str:
        """The family drawn on ``axis`` (a ConfocalParams weights field); else the first."""
        return self.families.get(axis, FAMILY_AXES[axis][0])

    @property
    def psf_scale(self) -> float:
        """Lateral PSF relative to the point-scanning confocal's."""
        return PSF_SCALE[self.family("optics")]

    def summary(self) -> dict[str, Any]:
        return {"families": {axis: self.family(axis) for axis in FAMILY_AXES}, **self.values}


def draw_look(rng: np.random.Generator, p: ConfocalParams, acq: ConfocalAcquisition) -> Look:
    """Draw an image's appearance families and what they need.

    Adjusts ``acq``'s channels in place where a family changes the detector (Airyscan,
    saturation, relative background) or the fiber level (dim fibers). ``rng`` is a child
    generator of the image's: nothing drawn here moves the image's other draws, and a family
    that needs nothing draws nothing.
    """
    look = Look({axis: choose(rng, getattr(p, axis)) for axis in FAMILY_AXES})
    look.out_of_focus_density = p.out_of_focus_density
    shape, px = acq.illumination.shape, acq.pixel_size
    full = 2.0**acq.bit_depth - 1
    optics = look.family("optics")
    if optics == "widefield":
        look.values["optics_haze"] = float(rng.uniform(*p.widefield_haze))
    elif optics == "spinning_disk":
        look.values["optics_haze"] = float(rng.uniform(*p.spinning_disk_crosstalk))
    for c in acq.channels:
        if p.relative_background:  # background light scales with exposure, as the signal does
            c.background_photons *= c.peak_photons / 100
        if optics == "airyscan":
            c.gain /= AIRYSCAN_PHOTONS  # the same full-scale fraction for twice the photons
            c.peak_photons *= AIRYSCAN_PHOTONS
            c.read_noise_e *= AIRYSCAN_READ_NOISE
        if look.family("exposures") == "saturated":
            level = float(rng.uniform(*p.saturated_density))
            c.gain = (full - c.offset) / (c.peak_photons * level)
            c.extra["saturated_density"] = level
            # ... and the black level is pulled down into the background, which clips at 0
            c.offset = -float(rng.uniform(0.0, 1.0)) * c.background_photons * c.gain
        if look.family("fiber_styles") == "dim":
            snr = float(rng.uniform(*p.dim_fiber_snr))
            sigma_px = c.psf_sigma_um * look.psf_scale / px
            line_peak = 1 / max(np.sqrt(2 * np.pi) * sigma_px, 1.0)  # of a 1-px line, blurred
            noise = np.sqrt(c.background_photons + c.read_noise_e**2)
            dim = snr * noise / (c.peak_photons * line_peak)
            c.levels["fiber"] = float(min(dim, c.levels["fiber"]))  # never brighter than drawn
            c.extra["fiber_snr"] = snr
    style = look.family("cell_styles")
    if style in ("fill", "nucleus", "textured"):
        look.values["fill_level"] = float(rng.uniform(*FILL_LEVEL))
        look.values["fill_ramp_um"] = float(rng.uniform(*FILL_RAMP_UM))
    if style == "punctate":
        per_px = float(rng.uniform(*PUNCTA_PER_UM2)) * px**2
        look.style_field = puncta_field(rng, shape, per_px, (0.1 / px, 0.25 / px))
        look.values["puncta_level"] = float(rng.uniform(*PUNCTA_LEVEL))
    elif style == "nucleus":
        look.nucleus_draws = rng.random((64, 5))
    elif style == "textured":
        coarse = smooth_noise(rng, shape, 1.5 / px)
        fine = smooth_noise(rng, shape, 0.25 / px)
        look.style_field = 0.8 * coarse + 0.6 * fine
    noise = look.family("noise_models")
    if noise == "scmos":
        offset_sd = float(rng.uniform(*SCMOS_OFFSET_SD_E))
        column_sd = float(rng.uniform(*SCMOS_COLUMN_SD_E))
        look.camera = {
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
        look.autofluorescence = (level * blotches).astype(np.float32)
        look.values["autofluorescence"] = level
    return look


def nuclei(scene: Scene, raster: SceneRaster, acq: ConfocalAcquisition) -> np.ndarray:
    """Soft nucleus coverage (0–1), (Y, X): an ellipse behind each cell's centre."""
    out = np.zeros(raster.cell_ids.shape, np.float32)
    draws, px = acq.look.nucleus_draws, acq.pixel_size
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
        along, across = rotated_offsets(win, center, angle)
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
    look = acq.look
    style = look.family("cell_styles")
    texture = np.clip(1 + mp.cell_texture * acq.cell_texture, 0.2, None)
    if style in ("membrane", "rim", "punctate"):
        interior = lv["cell_interior"] * (RIM_ONLY_INTERIOR if style == "rim" else 1.0)
        density = np.where(cell, interior * texture, 0).astype(np.float32)
        density[rim] = lv["cell_membrane"] * (0.7 if style == "punctate" else 1.0)
        if style == "punctate":
            assert look.style_field is not None
            puncta = look.values["puncta_level"] * look.style_field
            density += np.where(cell, puncta, 0).astype(np.float32)
        return density
    # fill, nucleus, textured: cytosol fills the cell and thins towards its edge; a weak rim
    fill = lv["cell_membrane"] * look.values["fill_level"]
    depth = np.clip(raster.cell_depth_um / look.values["fill_ramp_um"], 0, 1)
    profile = 0.35 + 0.65 * np.sqrt(depth)
    if style == "textured":
        assert look.style_field is not None
        strong = 1 + 0.5 * mp.cell_texture * acq.cell_texture + look.style_field
        texture = np.clip(strong, 0.05, None)
    else:
        texture = np.clip(1 + 0.5 * mp.cell_texture * acq.cell_texture, 0.2, None)
    density = np.where(cell, fill * profile * texture, 0).astype(np.float32)
    density[rim] *= 1.4
    if style == "nucleus":
        dark = NUCLEUS_DARK[0] + (NUCLEUS_DARK[1] - NUCLEUS_DARK[0]) * look.nucleus_draws[0, 4]
        density *= 1 - (1 - dark) * nuclei(scene, raster, acq)
    return density


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
    lo, hi = acq.look.out_of_focus_density
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


def optics_haze(density: np.ndarray, c: Channel, acq: ConfocalAcquisition) -> np.ndarray | None:
    """Out-of-focus light of everything in focus: widefield (strong), spinning disk (crosstalk)."""
    optics, px = acq.look.family("optics"), acq.pixel_size
    if optics == "widefield":
        near = blur(density, WIDEFIELD_NEAR_HAZE_UM / px)
        far = blur(density, c.haze_sigma_um / px)
        return acq.look.values["optics_haze"] * (0.5 * near + far)
    if optics == "spinning_disk":
        return acq.look.values["optics_haze"] * blur(density, 2 * c.haze_sigma_um / px)
    return None


def detect(rng: np.random.Generator, signal: np.ndarray, c: Channel, acq: ConfocalAcquisition):
    """Photon counting and the camera: float32 counts in ADU before rounding and clipping."""
    photons = rng.poisson(signal * c.peak_photons + c.background_photons).astype(np.float32)
    model = acq.look.family("noise_models")
    if model == "emccd":  # EM multiplication: gamma-distributed gain, excess noise factor √2
        photons = rng.gamma(photons).astype(np.float32)
        read = EMCCD_READ_NOISE * c.read_noise_e
    else:
        read = c.read_noise_e
    noise = rng.standard_normal(photons.shape, dtype=np.float32) * (read * c.gain)
    if model == "scmos":
        cam = acq.look.camera
        electrons = photons * cam["gain"] + cam["offset_e"]
        return electrons * c.gain + c.offset + noise * cam["read_scale"]
    return photons * c.gain + c.offset + noise
