"""TEM image formation (whole mount): projected stain → transmission → blur → electrons → counts.

Membranes carry the stain, so each vesicle projects as a spherical shell: dark at its rim, lighter
inside. A migrasome is a shell with a faint lumen packed with intraluminal vesicles (the
"pomegranate"); a fiber is a 50 nm membrane tube (projected thickness of a cylinder); the cell is
a dense region thickening inward from its edge. Transmission follows mass-thickness contrast,
``exp(-contrast · stain)``, on a light background.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from migraseg.synth.fields import blur, illumination, smooth_noise
from migraseg.synth.geometry import window
from migraseg.synth.objects import Migrasome, Scene
from migraseg.synth.params import TemParams, draw_ranges
from migraseg.synth.raster import SceneRaster


@dataclass
class TemAcquisition:
    """The values one micrograph draws from :class:`TemParams`; ``texture`` is smooth noise."""

    pixel_size: float
    params: TemParams
    levels: dict[str, float]
    bit_depth: int
    gain: float  # ADU per electron
    illumination: np.ndarray  # (Y, X)
    texture: np.ndarray  # (Y, X), correlated over ~40 nm

    def summary(self) -> dict[str, Any]:
        return {"bit_depth": self.bit_depth, "gain_adu_per_electron": self.gain, **self.levels}


def draw_acquisition(rng: np.random.Generator, p: TemParams, pixel_size: float) -> TemAcquisition:
    """Draw staining, optics and detector settings for one micrograph."""
    levels = draw_ranges(rng, p)
    del levels["pixel_size_um"]
    bits = int(rng.choice(p.bit_depths))
    gain = levels["full_scale_fraction"] * (2.0**bits - 1) / levels["dose_e_per_px"]
    shape = tuple(p.image_size_px)
    light = illumination(rng, shape, levels["illumination_falloff"])
    texture = smooth_noise(rng, shape, max(0.04 / pixel_size, 1.0))
    return TemAcquisition(pixel_size, p, levels, bits, gain, light, texture)


def shell_path(rho: np.ndarray, radius: np.ndarray, thickness: float) -> np.ndarray:
    """Path length (same unit as the radii) through a spherical shell at distance ``rho``."""
    inner = np.maximum(radius - thickness, 0)
    return 2 * (
        np.sqrt(np.maximum(radius**2 - rho**2, 0)) - np.sqrt(np.maximum(inner**2 - rho**2, 0))
    )


def add_vesicles(
    stain: np.ndarray,
    centers_um: np.ndarray,
    radii_um: np.ndarray,
    membrane: tuple[float, float],
    lumen: float,
    pixel_size: float,
) -> None:
    """Add many small vesicles (shells with a faint lumen) at once, in place.

    Shape: centers_um (N, 2) (x, y) µm; radii_um (N,) µm; stain (Y, X). ``membrane`` is
    (thickness µm, stain density), ``lumen`` the lumen's stain density.
    """
    if len(radii_um) == 0:
        return
    k = int(np.ceil(radii_um.max() / pixel_size)) + 1
    offsets = np.arange(-k, k + 1)
    base = np.floor(centers_um / pixel_size).astype(int)  # (N, 2) col, row
    cols = base[:, 0, None, None] + offsets[None, None, :]
    rows = base[:, 1, None, None] + offsets[None, :, None]
    dx = (cols + 0.5) * pixel_size - centers_um[:, 0, None, None]
    dy = (rows + 0.5) * pixel_size - centers_um[:, 1, None, None]
    rho, r = np.hypot(dx, dy), radii_um[:, None, None]
    value = membrane[1] * shell_path(rho, r, membrane[0])
    value += lumen * 2 * np.sqrt(np.maximum(r**2 - rho**2, 0))
    rows, cols = np.broadcast_arrays(rows, cols)
    ok = (rows >= 0) & (rows < stain.shape[0]) & (cols >= 0) & (cols < stain.shape[1])
    ok &= value > 0
    np.add.at(stain, (rows[ok], cols[ok]), value[ok].astype(np.float32))


def _migrasome(stain: np.ndarray, m: Migrasome, acq: TemAcquisition) -> None:
    """A migrasome: stained shell, faint lumen, intraluminal vesicles (fixed by ``m.seed``)."""
    lv, px = acq.levels, acq.pixel_size
    thickness, radius = lv["membrane_thickness_um"], m.diameter_um / 2
    win = window(m.center, radius + px, stain.shape, px)
    if not win.empty:
        rho = np.hypot(win.x - m.center[0], win.y - m.center[1])
        inner = radius - thickness
        value = lv["membrane_density"] * shell_path(rho, radius, thickness)
        value += lv["migrasome_lumen"] * 2 * np.sqrt(np.maximum(inner**2 - rho**2, 0))
        stain[win.rows, win.cols] += value.astype(np.float32)
    rng = np.random.default_rng(m.seed)
    p = acq.params
    lo, hi = p.ilv_diameter_um
    mean_r = (lo + hi) / 4
    room = max(radius - thickness - hi / 2, 0)
    n = int(lv["ilv_packing"] * (room / mean_r) ** 2)
    radii = rng.uniform(lo, hi, n) / 2
    direction = rng.standard_normal((n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    depth = room * rng.random(n) ** (1 / 3)  # uniform in the ball, seen in projection
    centers = m.center + direction[:, :2] * depth[:, None]
    membrane = (thickness, lv["membrane_density"])
    add_vesicles(stain, centers, radii, membrane, lv["migrasome_lumen"], px)


def stain_density(scene: Scene, raster: SceneRaster, acq: TemAcquisition) -> np.ndarray:
    """Projected stain (density × µm) of every object in the frame, (Y, X) float32."""
    lv, px, p = acq.levels, acq.pixel_size, acq.params
    texture = acq.texture
    stain = (lv["film_texture"] * (1 + texture)).astype(np.float32)
    depth = raster.cell_depth_um
    cell = depth > 0
    thickness = lv["cell_thickness_um"] * np.clip(depth / lv["cell_ramp_um"], 0, 1)
    grain = np.clip(1 + p.texture * texture, 0.3, None)
    stain += np.where(cell, lv["cell_density"] * thickness * grain, 0).astype(np.float32)
    edge = cell & (depth < 3 * lv["membrane_thickness_um"])
    stain[edge] += lv["membrane_density"] * lv["membrane_thickness_um"] * 4
    near = (raster.fiber_index >= 0) & ~cell
    if near.any():
        radii = np.array([f.diameter_um / 2 for f in scene.fibers], np.float32)
        r = radii[raster.fiber_index[near]]
        d = raster.fiber_distance_px[near] * px
        stain[near] += lv["fiber_density"] * 2 * np.sqrt(np.maximum(r**2 - d**2, 0))
    for m in scene.migrasomes:
        _migrasome(stain, m, acq)
    small = [d for d in scene.distractors if d.kind in ("ev", "punctum")]
    if small:
        add_vesicles(
            stain,
            np.array([d.center for d in small]),
            np.array([d.diameter_um / 2 for d in small]),
            (lv["membrane_thickness_um"], lv["membrane_density"]),
            lv["migrasome_lumen"],
            px,
        )
    for d in scene.distractors:
        if d.outline is None:
            continue
        win = window(d.center, d.diameter_um / 2 + px, stain.shape, px)
        if win.empty:
            continue
        inside = d.outline.depth(win.x, win.y) > 0
        level = lv["debris_density"] if d.kind == "debris" else lv["dust_density"]
        value = inside * level * (0.5 + d.tone) * grain[win.rows, win.cols]
        stain[win.rows, win.cols] += value.astype(np.float32)
    return stain


def render_tem(
    rng: np.random.Generator, scene: Scene, raster: SceneRaster, acq: TemAcquisition
) -> np.ndarray:
    """Render one micrograph as (1, Y, X) uint8 or uint16 counts (dark = electron-dense)."""
    lv, px = acq.levels, acq.pixel_size
    transmission = np.exp(-lv["contrast_per_um"] * stain_density(scene, raster, acq))
    sigma = float(np.hypot(0.5, lv["defocus_blur_um"] / px))
    sharp = blur(transmission.astype(np.float32), sigma)
    image = sharp + lv["fringe"] * (sharp - blur(sharp, 2 * sigma + 1))
    electrons = rng.poisson(np.clip(image, 0, None) * acq.illumination * lv["dose_e_per_px"])
    grain = 1 + lv["grain"] * smooth_noise(rng, image.shape, 1.0)
    full = 2**acq.bit_depth - 1
    counts = np.clip(np.round(electrons * grain * acq.gain), 0, full)
    return counts.astype(np.uint8 if full < 256 else np.uint16)[None]
