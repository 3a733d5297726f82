"""TEM image formation: projected stain → transmission → blur → electrons → counts.

Each micrograph picks one sample preparation (``TemParams.preparations``); the scene and hence
the masks do not depend on it.

- ``whole_mount``: membranes carry the stain, so each vesicle projects as a spherical shell: dark
  at its rim, lighter inside. A migrasome is a shell with a faint lumen packed with intraluminal
  vesicles (the "pomegranate"); a fiber is a 50 nm membrane tube (projected thickness of a
  cylinder); the cell is a dense region thickening inward from its edge.
- ``thin_section``: a 50–100 nm section through the sample. Membranes cut across it are thin dark
  outlines: a migrasome is a ring around a light lumen holding intraluminal vesicles (small
  rings), the cell a textured cytoplasm with ribosome grain, vesicles and mitochondria bounded
  by its membrane; fibers are tubes that leave the section (short dark dashes and dots).
  Contrast scales with the section's thickness.
- ``negative_stain``: a stain layer pools around whatever stands on the film: objects are light
  with a dark meniscus at their rims, on a darker, uneven stain background; their membranes
  take a little stain too.

Transmission follows mass-thickness contrast, ``exp(-contrast · stain)``, then defocus (blur and
a Fresnel-like fringe), electron counting and the detector.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from migraseg.synth.fields import blur, illumination, smooth_noise
from migraseg.synth.geometry import rotated_offsets, window
from migraseg.synth.objects import Migrasome, Scene
from migraseg.synth.params import TemParams
from migraseg.synth.raster import SceneRaster

# The ranges only one preparation draws (after everything else, so that a whole-mount-only
# dataset draws exactly what it drew before preparations existed).
PREPARATION_RANGES = {
    "whole_mount": (),
    "thin_section": (
        "section_thickness_um",
        "section_membrane_density",
        "cytoplasm_density",
        "section_lumen_density",
        "ribosome_grain",
        "organelles_per_um2",
        "fiber_in_section",
    ),
    "negative_stain": (
        "stain_depth_um",
        "stain_od",
        "stain_unevenness",
        "rim_um",
        "rim_strength",
        "positive_stain",
    ),
}
_OWN_RANGES = {name for names in PREPARATION_RANGES.values() for name in names}


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
    preparation: str = "whole_mount"

    def summary(self) -> dict[str, Any]:
        return {
            "preparation": self.preparation,
            "bit_depth": self.bit_depth,
            "gain_adu_per_electron": self.gain,
            **self.levels,
        }


def _uniform(rng: np.random.Generator, p: TemParams, names: Any) -> dict[str, float]:
    return {name: float(rng.uniform(*getattr(p, name))) for name in names}


def pick_preparation(rng: np.random.Generator, weights: dict[str, float]) -> str:
    """One preparation by weight; no random draw when only one has a weight above 0."""
    names = [k for k, w in weights.items() if float(w) > 0]
    if len(names) == 1:
        return names[0]
    w = np.array([float(weights[k]) for k in names])
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def draw_acquisition(rng: np.random.Generator, p: TemParams, pixel_size: float) -> TemAcquisition:
    """Draw preparation, staining, optics and detector settings for one micrograph."""
    shared = [f.name for f in dataclasses.fields(p) if f.type == "Range"]
    levels = _uniform(rng, p, [name for name in shared if name not in _OWN_RANGES])
    del levels["pixel_size_um"]  # drawn by the caller; drawn here too, to keep the stream
    bits = int(rng.choice(p.bit_depths))
    gain = levels["full_scale_fraction"] * (2.0**bits - 1) / levels["dose_e_per_px"]
    shape = tuple(p.image_size_px)
    light = illumination(rng, shape, levels["illumination_falloff"])
    texture = smooth_noise(rng, shape, max(0.04 / pixel_size, 1.0))
    preparation = pick_preparation(rng, p.preparations)
    levels.update(_uniform(rng, p, PREPARATION_RANGES[preparation]))
    return TemAcquisition(pixel_size, p, levels, bits, gain, light, texture, preparation)


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


def band(r: np.ndarray, lo: float | np.ndarray, hi: float | np.ndarray, px: float) -> np.ndarray:
    """Fraction of a pixel (width ``px``, centred at radius ``r``) that lies in ``[lo, hi]``.

    Anti-aliases membranes thinner than a pixel: a ring of thickness t covers t/px of a pixel.
    """
    return np.clip((np.minimum(r + px / 2, hi) - np.maximum(r - px / 2, lo)) / px, 0, 1)


def add_rings(
    stain: np.ndarray,
    centers_um: np.ndarray,
    radii_um: np.ndarray,
    membrane: tuple[float, float],
    lumen: np.ndarray | float,
    pixel_size: float,
) -> None:
    """Add vesicles cut by a section, in place: membrane outlines (rings) around a lumen.

    Shape: centers_um (N, 2) (x, y) µm; radii_um (N,) µm; ``lumen`` a density or one per ring;
    stain (Y, X). ``membrane`` is (thickness µm, density).
    """
    if len(radii_um) == 0:
        return
    k = int(np.ceil(radii_um.max() / pixel_size)) + 1
    offsets = np.arange(-k, k + 1)
    base = np.floor(centers_um / pixel_size).astype(int)
    cols = base[:, 0, None, None] + offsets[None, None, :]
    rows = base[:, 1, None, None] + offsets[None, :, None]
    dx = (cols + 0.5) * pixel_size - centers_um[:, 0, None, None]
    dy = (rows + 0.5) * pixel_size - centers_um[:, 1, None, None]
    rho, r = np.hypot(dx, dy), radii_um[:, None, None]
    inner = np.maximum(r - membrane[0], 0)
    fill = np.broadcast_to(np.asarray(lumen, np.float64), radii_um.shape)[:, None, None]
    value = membrane[1] * band(rho, inner, r, pixel_size) + fill * band(
        rho, -1.0, inner, pixel_size
    )
    rows, cols = np.broadcast_arrays(rows, cols)
    ok = (rows >= 0) & (rows < stain.shape[0]) & (cols >= 0) & (cols < stain.shape[1])
    ok &= value > 0
    np.add.at(stain, (rows[ok], cols[ok]), value[ok].astype(np.float32))


def _ilvs(m: Migrasome, acq: TemAcquisition, room: float) -> tuple[np.ndarray, np.ndarray]:
    """Centres (N, 2) and radii (N,) of a migrasome's intraluminal vesicles cut by the section
    (uniform over its lumen's disc; fixed by ``m.seed``)."""
    rng = np.random.default_rng(m.seed)
    lo, hi = acq.params.ilv_diameter_um
    n = int(acq.levels["ilv_packing"] / 2 * (room / ((lo + hi) / 4)) ** 2)  # a slice of them
    radii = rng.uniform(lo, hi, n) / 2
    angle = rng.uniform(0, 2 * np.pi, n)
    reach = room * np.sqrt(rng.random(n))
    centers = m.center + reach[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return centers, radii


def _mitochondria(
    rng: np.random.Generator, stain: np.ndarray, depth: np.ndarray, acq: TemAcquisition
) -> None:
    """Mitochondria in the cut cytoplasm, in place: double membrane, dense matrix, cristae."""
    lv, px = acq.levels, acq.pixel_size
    inside = np.flatnonzero(depth.ravel() > 0.3)
    n = rng.poisson(lv["organelles_per_um2"] * inside.size * px * px)
    t, mem = lv["membrane_thickness_um"], lv["section_membrane_density"]
    for flat in rng.choice(inside, size=min(n, inside.size), replace=False):
        row, col = divmod(int(flat), stain.shape[1])
        center = np.array([col + 0.5, row + 0.5]) * px
        a, b = rng.uniform(0.25, 1.0), rng.uniform(0.1, 0.25)
        phi, period = rng.uniform(0, np.pi), rng.uniform(0.06, 0.15)
        win = window(center, a + px, stain.shape, px)
        if win.empty:
            continue
        u, v = rotated_offsets(win, center, phi)
        s = (1 - np.hypot(u / a, v / b)) * b  # ≈ distance inside the outline, µm
        value = mem * (band(s, 0, t, px) + band(s, 2.5 * t, 3.5 * t, px))
        matrix = band(s, 3.5 * t, 10.0, px)
        cristae = np.abs(np.cos(np.pi * u / period)) > 0.9
        value += matrix * lv["cytoplasm_density"] * (0.5 + mem / 10 * cristae)
        value *= depth[win.rows, win.cols] > 2 * t  # inside the cell, clear of its membrane
        stain[win.rows, win.cols] += value.astype(np.float32)


def section_stain(
    rng: np.random.Generator, scene: Scene, raster: SceneRaster, acq: TemAcquisition
) -> np.ndarray:
    """Stain (density × µm) of a thin section through the scene, (Y, X) float32."""
    lv, px, p = acq.levels, acq.pixel_size, acq.params
    shape = raster.semantic.shape
    t, mem = lv["membrane_thickness_um"], lv["section_membrane_density"]
    stain = (lv["film_texture"] * (1 + acq.texture)).astype(np.float32)  # resin
    depth = raster.cell_depth_um
    cell = depth > 0
    ribosomes = np.clip(smooth_noise(rng, shape, max(0.012 / px, 0.5)), 0, None)
    cytoplasm = lv["cytoplasm_density"] * np.clip(1 + 2 * p.texture * acq.texture, 0.3, None)
    cytoplasm *= 1 + lv["ribosome_grain"] * (ribosomes - 0.4)
    stain += np.where(cell, cytoplasm, 0).astype(np.float32)
    stain += (mem * band(depth, 0, t, px)).astype(np.float32)  # plasma membrane
    if cell.any():
        _mitochondria(rng, stain, depth, acq)
    near = (raster.fiber_index >= 0) & ~cell
    if near.any():
        radii = np.array([f.diameter_um / 2 for f in scene.fibers], np.float32)
        r = radii[raster.fiber_index[near]]
        d = raster.fiber_distance_px[near] * px
        along = smooth_noise(rng, shape, max(0.25 / px, 1.0))[near]
        seen = np.clip((along + 3 * lv["fiber_in_section"] - 1.5) * 2, 0.15, 1)
        wall = mem * band(d, r - t, r, px) + lv["section_lumen_density"] * band(d, -1, r - t, px)
        stain[near] += (seen * wall).astype(np.float32)
    for m in scene.migrasomes:
        radius = m.diameter_um / 2
        add_rings(stain, m.center[None], np.array([radius]), (t, mem), 0.0, px)
        win = window(m.center, radius + px, shape, px)
        if not win.empty:  # the lumen replaces whatever else is there (cytoplasm, fibers)
            rho = np.hypot(win.x - m.center[0], win.y - m.center[1])
            lumen = band(rho, -1.0, radius - t, px)
            old = stain[win.rows, win.cols]
            lumen_level = lv["section_lumen_density"] * (
                1 + p.texture * acq.texture[win.rows, win.cols]
            )
            stain[win.rows, win.cols] = (old * (1 - lumen) + lumen * lumen_level).astype(np.float32)
        centers, radii = _ilvs(m, acq, max(radius - t - p.ilv_diameter_um[1] / 2, 0))
        add_rings(stain, centers, radii, (t, mem), lv["section_lumen_density"], px)
    small = [d for d in scene.distractors if d.kind in ("ev", "punctum")]
    if small:
        tone = np.array([d.tone for d in small])
        # vesicles cut by the section: most with a light lumen, some dense-cored
        lumen = np.where(tone < 0.25, 3 * lv["cytoplasm_density"], lv["section_lumen_density"])
        add_rings(
            stain,
            np.array([d.center for d in small]),
            np.array([d.diameter_um / 2 for d in small]),
            (t, mem),
            lumen,
            px,
        )
    for d in scene.distractors:
        if d.outline is None:
            continue
        win = window(d.center, d.diameter_um / 2 + px, shape, px)
        if win.empty:
            continue
        inside = d.outline.depth(win.x, win.y) > 0
        grain = 1 + lv["ribosome_grain"] * (ribosomes[win.rows, win.cols] - 0.4)
        if d.kind == "debris":
            value = inside * lv["cytoplasm_density"] * (0.5 + d.tone) * grain
        else:  # stain precipitate: dense specks
            value = inside * 2 * mem * (0.5 + d.tone)
        stain[win.rows, win.cols] += value.astype(np.float32)
    return stain * lv["section_thickness_um"]


def heights(scene: Scene, raster: SceneRaster, acq: TemAcquisition) -> np.ndarray:
    """How high (µm) the sample stands above the support film, (Y, X) float32."""
    lv, px = acq.levels, acq.pixel_size
    shape = raster.semantic.shape
    depth = raster.cell_depth_um
    height = (lv["cell_thickness_um"] * np.clip(depth / lv["cell_ramp_um"], 0, 1)).astype(
        np.float32
    )
    near = raster.fiber_index >= 0
    if near.any():
        radii = np.array([f.diameter_um / 2 for f in scene.fibers], np.float32)
        r = radii[raster.fiber_index[near]]
        d = raster.fiber_distance_px[near] * px
        height[near] = np.maximum(height[near], 2 * np.sqrt(np.maximum(r**2 - d**2, 0)))
    balls = [(m.center, m.diameter_um / 2, 0.6) for m in scene.migrasomes]
    balls += [(d.center, d.diameter_um / 2, 1.0) for d in scene.distractors if d.kind == "ev"]
    for center, radius, flat in balls:
        win = window(center, radius + px, shape, px)
        if win.empty:
            continue
        rho2 = (win.x - center[0]) ** 2 + (win.y - center[1]) ** 2
        cap = (flat * 2 * np.sqrt(np.maximum(radius**2 - rho2, 0))).astype(np.float32)
        np.maximum(height[win.rows, win.cols], cap, out=height[win.rows, win.cols])
    for d in scene.distractors:
        if d.kind != "debris":
            continue
        win = window(d.center, d.diameter_um / 2 + px, shape, px)
        if not win.empty:
            lump = np.clip(d.outline.depth(win.x, win.y), 0, None) * (0.5 + d.tone)
            np.maximum(height[win.rows, win.cols], lump, out=height[win.rows, win.cols])
    return height


def negative_stain(
    rng: np.random.Generator, scene: Scene, raster: SceneRaster, acq: TemAcquisition
) -> np.ndarray:
    """Stain (in ``contrast_per_um`` units) of a negatively stained sample, (Y, X) float32.

    A layer of stain fills the space around the objects up to its (uneven) depth and rises in a
    meniscus at their rims; the objects themselves take ``positive_stain`` of whole-mount stain.
    """
    lv, px = acq.levels, acq.pixel_size
    shape = raster.semantic.shape
    height = heights(scene, raster, acq)
    mean = lv["stain_depth_um"]
    layer = mean * np.clip(
        1 + lv["stain_unevenness"] * smooth_noise(rng, shape, 0.5 / px), 0.2, None
    )
    outside = ndi.distance_transform_edt(height <= 0) * px  # µm from the nearest object
    layer += lv["rim_strength"] * mean * np.exp(-outside / lv["rim_um"])
    pool = np.maximum(layer - height, 0)
    stain = lv["stain_od"] / lv["contrast_per_um"] / mean * pool
    stain += lv["positive_stain"] * stain_density(scene, raster, acq)
    return stain.astype(np.float32)


def render_tem(
    rng: np.random.Generator, scene: Scene, raster: SceneRaster, acq: TemAcquisition
) -> np.ndarray:
    """Render one micrograph as (1, Y, X) uint8 or uint16 counts (dark = electron-dense)."""
    lv, px = acq.levels, acq.pixel_size
    if acq.preparation == "thin_section":
        stain = section_stain(rng, scene, raster, acq)
    elif acq.preparation == "negative_stain":
        stain = negative_stain(rng, scene, raster, acq)
    else:
        stain = stain_density(scene, raster, acq)
    transmission = np.exp(-lv["contrast_per_um"] * stain)
    sigma = float(np.hypot(0.5, lv["defocus_blur_um"] / px))
    sharp = blur(transmission.astype(np.float32), sigma)
    image = sharp + lv["fringe"] * (sharp - blur(sharp, 2 * sigma + 1))
    electrons = rng.poisson(np.clip(image, 0, None) * acq.illumination * lv["dose_e_per_px"])
    grain = 1 + lv["grain"] * smooth_noise(rng, image.shape, 1.0)
    full = 2**acq.bit_depth - 1
    counts = np.clip(np.round(electrons * grain * acq.gain), 0, full)
    return counts.astype(np.uint8 if full < 256 else np.uint16)[None]
