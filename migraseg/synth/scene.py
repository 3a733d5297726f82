"""Scene geometry in micrometres: cells, retraction-fiber trees and migrasomes.

Coordinates are (x, y) in µm with the origin at the image's top-left corner. Nothing here knows
about pixels or optics, so every modality renders the same scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.measure import points_in_poly

from migraseg.synth.params import SceneParams

SITES = ("tip", "branch", "along", "detached")


@dataclass
class Cell:
    """A cell body as a closed polygon; it migrates along ``heading`` (radians)."""

    polygon: np.ndarray  # (N, 2) µm
    center: np.ndarray  # (2,) µm
    heading: float


@dataclass
class Fiber:
    """One unbranched piece of retraction fiber; branches are further Fibers with a parent."""

    points: np.ndarray  # (N, 2) µm, from the cell (or parent) outward
    parent: int | None

    @property
    def length_um(self) -> float:
        return float(np.linalg.norm(np.diff(self.points, axis=0), axis=1).sum())


@dataclass
class Migrasome:
    """A vesicle on a fiber (or detached); ``instance_id`` starts at 1."""

    instance_id: int
    center: np.ndarray  # (2,) µm
    diameter_um: float
    site: str  # one of SITES


@dataclass
class Scene:
    """Everything in one field of view."""

    width_um: float
    height_um: float
    cells: list[Cell]
    fibers: list[Fiber]
    migrasomes: list[Migrasome]


def cell_polygon(
    rng: np.random.Generator, center: np.ndarray, radius: float, heading: float, n: int = 96
) -> np.ndarray:
    """Irregular cell outline, wider at the leading edge (towards ``heading``)."""
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 6):
        r += rng.normal(0, 0.06) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r *= 1 + 0.25 * np.cos(theta - heading)
    r = radius * np.clip(r, 0.5, None)
    return center + np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def _polygon_exit(polygon: np.ndarray, center: np.ndarray, angle: float) -> np.ndarray:
    """Point where a ray from ``center`` at ``angle`` meets the outline (nearest vertex)."""
    rel = polygon - center
    angles = np.arctan2(rel[:, 1], rel[:, 0])
    i = int(np.argmin(np.abs(np.angle(np.exp(1j * (angles - angle))))))
    return polygon[i]


def grow_fiber(
    rng: np.random.Generator, start: np.ndarray, heading: float, length: float, p: SceneParams
) -> np.ndarray:
    """A curved random walk of ``length`` µm from ``start``."""
    n = max(2, int(length / p.fiber_step_um) + 1)
    turns = np.cumsum(rng.normal(0, p.fiber_wiggle_rad, n - 1)) + heading
    steps = p.fiber_step_um * np.stack([np.cos(turns), np.sin(turns)], axis=1)
    return np.vstack([start, start + np.cumsum(steps, axis=0)])


def draw_diameter(rng: np.random.Generator, p: SceneParams) -> float:
    """Log-normal migrasome diameter in µm, clipped to the configured range."""
    d = p.diameter_median_um * np.exp(rng.normal(0, p.diameter_sigma))
    return float(np.clip(d, *p.diameter_range_um))


def _inside_any(point: np.ndarray, cells: list[Cell]) -> bool:
    return any(points_in_poly(point[None], c.polygon)[0] for c in cells)


def _place_cells(
    rng: np.random.Generator, p: SceneParams, width: float, height: float
) -> list[Cell]:
    """Cells whose trail (the region behind them) lies in the field; they may leave the frame."""
    cells: list[Cell] = []
    n_cells = int(rng.integers(p.n_cells[0], p.n_cells[1] + 1))
    for _ in range(20 * n_cells):
        if len(cells) == n_cells:
            break
        radius = rng.uniform(*p.cell_radius_um)
        heading = rng.uniform(0, 2 * np.pi)
        trail = rng.uniform([0.2 * width, 0.2 * height], [0.8 * width, 0.8 * height])
        offset = radius + 0.4 * np.mean(p.fiber_length_um)
        center = trail + offset * np.array([np.cos(heading), np.sin(heading)])
        if any(
            np.linalg.norm(center - c.center) < 1.6 * radius + 0.8 * p.cell_radius_um[1]
            for c in cells
        ):
            continue
        cells.append(Cell(cell_polygon(rng, center, radius, heading), center, heading))
    return cells


def _grow_fibers(
    rng: np.random.Generator, p: SceneParams, cells: list[Cell]
) -> tuple[list[Fiber], list[np.ndarray]]:
    """Fiber trees trailing from each cell's rear; returns the fibers and the branch points."""
    fibers: list[Fiber] = []
    branch_points: list[np.ndarray] = []
    arc = np.deg2rad(p.rear_arc_deg)
    for cell in cells:
        rear = cell.heading + np.pi
        for _ in range(int(rng.integers(p.fibers_per_cell[0], p.fibers_per_cell[1] + 1))):
            angle = rear + rng.uniform(-arc, arc)
            start = _polygon_exit(cell.polygon, cell.center, angle)
            heading = 0.5 * (angle + rear) + rng.normal(0, 0.15)
            trunk = Fiber(grow_fiber(rng, start, heading, rng.uniform(*p.fiber_length_um), p), None)
            fibers.append(trunk)
            trunk_index = len(fibers) - 1
            for _ in range(int(rng.poisson(p.branch_probability))):
                k = int(rng.integers(len(trunk.points) // 5, max(len(trunk.points) * 4 // 5, 2)))
                step = trunk.points[min(k + 1, len(trunk.points) - 1)] - trunk.points[k - 1]
                local = float(np.arctan2(step[1], step[0]))
                turn = rng.choice([-1, 1]) * rng.uniform(np.deg2rad(20), np.deg2rad(50))
                remaining = trunk.length_um * (1 - k / len(trunk.points))
                length = max(2.0, rng.uniform(0.4, 0.9) * remaining)
                branch = grow_fiber(rng, trunk.points[k], local + turn, length, p)
                fibers.append(Fiber(branch, trunk_index))
                branch_points.append(trunk.points[k])
    return fibers, branch_points


def _heading_at_end(points: np.ndarray) -> np.ndarray:
    d = points[-1] - points[max(0, len(points) - 4)]
    return d / (np.linalg.norm(d) + 1e-9)


def _place_migrasomes(
    rng: np.random.Generator,
    p: SceneParams,
    cells: list[Cell],
    fibers: list[Fiber],
    branch_points: list[np.ndarray],
) -> list[Migrasome]:
    """Migrasomes at tips, branch points and along fibers; touching pairs at some tips."""
    placed: list[Migrasome] = []

    def add(center: np.ndarray, diameter: float, site: str, touching: bool = False) -> bool:
        if _inside_any(center, cells):
            return False
        for m in placed:
            gap = np.linalg.norm(center - m.center) - (diameter + m.diameter_um) / 2
            if gap < (-0.05 if touching else 0.3):
                return False
        placed.append(Migrasome(len(placed) + 1, center, diameter, site))
        return True

    for fiber in fibers:
        if rng.random() < p.migrasome_at_tip:
            d = draw_diameter(rng, p)
            if add(fiber.points[-1], d, "tip") and rng.random() < p.cluster_probability:
                d2 = draw_diameter(rng, p)
                direction = _heading_at_end(fiber.points)
                add(fiber.points[-1] + direction * (d + d2) / 2, d2, "tip", touching=True)
        n_along = rng.poisson(p.migrasomes_along_per_10um * fiber.length_um / 10)
        for k in rng.integers(1, len(fiber.points) - 1, size=n_along):
            add(fiber.points[k], draw_diameter(rng, p), "along")
    for point in branch_points:
        if rng.random() < p.migrasome_at_branch:
            add(point, draw_diameter(rng, p), "branch")
    return placed


def build_scene(
    rng: np.random.Generator, p: SceneParams, width_um: float, height_um: float
) -> Scene:
    """Draw one random field of view."""
    cells = _place_cells(rng, p, width_um, height_um)
    fibers, branch_points = _grow_fibers(rng, p, cells)
    migrasomes = _place_migrasomes(rng, p, cells, fibers, branch_points)
    return Scene(width_um, height_um, cells, fibers, migrasomes)
