"""Objects that look a little like migrasomes and are not: they stay background (or cell).

Small extracellular vesicles (< 150 nm) and irregular debris on the dish, intracellular puncta
(endocytosed WGA, Tspan4 vesicles) inside cells, dust, and objects far out of focus (whole cells
above or below the focal plane, debris, vesicles: confocal renders them as blurred blobs).
Counts are densities per 100 µm² of the frame (puncta: per cell), so the same parameters suit
any field size.
"""

from __future__ import annotations

import numpy as np

from migraseg.synth.geometry import random_outline, resample_polyline
from migraseg.synth.objects import Distractor, Scene
from migraseg.synth.params import DistractorParams, draw_int


def _count(rng: np.random.Generator, per_100um2: tuple[float, float], area_um2: float) -> int:
    return int(rng.poisson(rng.uniform(*per_100um2) * area_um2 / 100))


def _outside_cells(scene: Scene, points: np.ndarray) -> np.ndarray:
    inside = np.zeros(len(points), bool)
    for cell in scene.cells:
        inside |= cell.outline.contains(points)
    return ~inside


def _clear_of(points: np.ndarray, others: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Whether each point is farther than ``distance`` from every point of ``others``."""
    if len(others) == 0 or len(points) == 0:
        return np.ones(len(points), bool)
    gaps = np.linalg.norm(points[:, None] - others[None], axis=2)
    return gaps.min(axis=1) > distance


def out_of_focus_objects(
    rng: np.random.Generator, scene: Scene, p: DistractorParams
) -> list[Distractor]:
    """Objects above or below the focal plane: anywhere (over cells too), log-uniform sizes."""
    w, h = scene.width_um, scene.height_um
    n = _count(rng, p.out_of_focus_per_100um2, w * h)
    log_size = np.log(p.out_of_focus_diameter_um)
    out = []
    for _ in range(n):
        size = float(np.exp(rng.uniform(*log_size)))
        center = rng.uniform([-size / 4, -size / 4], [w + size / 4, h + size / 4])
        outline = random_outline(rng, center, size / 2, 0.12)
        blur_um = float(rng.uniform(*p.out_of_focus_blur_um))
        out.append(
            Distractor("out_of_focus", center, size, float(rng.random()), None, outline, blur_um)
        )
    return out


def place_distractors(rng: np.random.Generator, scene: Scene, p: DistractorParams) -> Scene:
    """Return ``scene`` with distractors drawn over its frame.

    Out-of-focus objects draw from a child generator (``rng.spawn``), so that adding them
    leaves every other draw of the image, and its masks, unchanged.
    """
    w, h = scene.width_um, scene.height_um
    area = w * h
    out: list[Distractor] = []

    def uniform_points(n: int) -> np.ndarray:
        return rng.uniform([0, 0], [w, h], (n, 2))

    evs = uniform_points(_count(rng, p.ev_per_100um2, area))
    for center in evs[_outside_cells(scene, evs)]:
        out.append(Distractor("ev", center, rng.uniform(*p.ev_diameter_um), float(rng.random())))

    debris = uniform_points(_count(rng, p.debris_per_100um2, area))
    sizes = rng.uniform(*p.debris_size_um, len(debris))
    fiber_points = (
        np.vstack([resample_polyline(f.points, 0.5) for f in scene.fibers])
        if scene.fibers
        else np.zeros((0, 2))
    )
    migrasomes = np.array([m.center for m in scene.migrasomes]).reshape(-1, 2)
    reach = sizes / 2 + 1.0
    keep = (
        _outside_cells(scene, debris)
        & _clear_of(debris, fiber_points, reach)
        & _clear_of(debris, migrasomes, reach + 1.5)
    )
    for center, size in zip(debris[keep], sizes[keep], strict=True):
        outline = random_outline(rng, center, size / 2, 0.14, harmonics=range(2, 7))
        out.append(Distractor("debris", center, size, float(rng.random()), outline=outline))

    for cell in scene.cells:
        n = draw_int(rng, p.puncta_per_cell)
        angles = rng.uniform(0, 2 * np.pi, n)
        reach = cell.outline.radius_at(angles) * np.sqrt(rng.uniform(0, 0.8, n))
        centers = cell.center + reach[:, None] * np.stack([np.cos(angles), np.sin(angles)], 1)
        for center in centers:
            d = rng.uniform(*p.puncta_diameter_um)
            out.append(Distractor("punctum", center, d, float(rng.random()), cell=cell.id))

    for center in uniform_points(_count(rng, p.dust_per_100um2, area)):
        size = rng.uniform(*p.dust_diameter_um)
        outline = random_outline(rng, center, size / 2, 0.12)
        out.append(Distractor("dust", center, size, float(rng.random()), outline=outline))
    if p.out_of_focus_per_100um2[1] > 0:
        out += out_of_focus_objects(rng.spawn(1)[0], scene, p)
    scene.distractors = out
    return scene
