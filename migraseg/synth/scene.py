"""Draw a scene in micrometres: migrating cells, their retraction-fiber trees, migrasomes.

The objects are in :mod:`migraseg.synth.objects`, migrasome placement in
:mod:`migraseg.synth.migrasomes`; distractors are added once the frame is known, by
:mod:`migraseg.synth.distractors`.
"""

from __future__ import annotations

import numpy as np

from migraseg.synth.geometry import cumulative_length, random_outline
from migraseg.synth.migrasomes import place_migrasomes
from migraseg.synth.objects import Cell, Fiber, Scene
from migraseg.synth.params import SceneParams, draw_int


def _place_cells(
    rng: np.random.Generator, p: SceneParams, width: float, height: float
) -> list[Cell]:
    """Cells whose trail (the region behind them) lies in the field; they may leave the frame.

    With probability ``touching_cells`` a further cell is put against an existing one.
    """
    cells: list[Cell] = []
    n_cells = draw_int(rng, p.n_cells)
    for _ in range(20 * n_cells):
        if len(cells) == n_cells:
            break
        radius = rng.uniform(*p.cell_radius_um)
        if cells and rng.random() < p.touching_cells:
            other = cells[int(rng.integers(len(cells)))]
            direction = rng.uniform(0, 2 * np.pi)
            reach = float(other.outline.radius_at(np.array([direction]))[0]) + 0.9 * radius
            center = other.center + reach * np.array([np.cos(direction), np.sin(direction)])
            heading = other.heading + rng.normal(0, 0.5)
        else:
            heading = rng.uniform(0, 2 * np.pi)
            trail = rng.uniform([0.2 * width, 0.2 * height], [0.8 * width, 0.8 * height])
            offset = radius + 0.4 * np.mean(p.fiber_length_um)
            center = trail + offset * np.array([np.cos(heading), np.sin(heading)])
            if any(
                np.linalg.norm(center - c.center) < 1.6 * radius + 0.8 * p.cell_radius_um[1]
                for c in cells
            ):
                continue
        outline = random_outline(
            rng, center, radius, p.cell_roughness, bulge=p.leading_edge_bulge, heading=heading
        )
        cells.append(Cell(len(cells) + 1, outline, heading))
    return cells


def grow_fiber(
    rng: np.random.Generator, start: np.ndarray, heading: float, length: float, p: SceneParams
) -> np.ndarray:
    """A curved random walk of ``length`` µm from ``start``."""
    n = max(2, int(length / p.fiber_step_um) + 1)
    turns = np.cumsum(rng.normal(0, p.fiber_wiggle_rad, n - 1)) + heading
    steps = p.fiber_step_um * np.stack([np.cos(turns), np.sin(turns)], axis=1)
    return np.vstack([start, start + np.cumsum(steps, axis=0)])


def _grow_fibers(
    rng: np.random.Generator, p: SceneParams, cells: list[Cell]
) -> tuple[list[Fiber], list[tuple[np.ndarray, int]]]:
    """Fiber trees trailing from each cell's rear; returns fibers and (branch point, branch id)."""
    fibers: list[Fiber] = []
    branch_points: list[tuple[np.ndarray, int]] = []
    arc = np.deg2rad(p.rear_arc_deg)

    def add(points: np.ndarray, cell: int, parent: int | None, kind: str) -> Fiber:
        diameter = rng.uniform(*p.fiber_diameter_um)
        fiber = Fiber(len(fibers) + 1, points, cell, parent, kind, diameter)
        fibers.append(fiber)
        return fiber

    for cell in cells:
        rear = cell.heading + np.pi
        for _ in range(draw_int(rng, p.fibers_per_cell)):
            angle = rear + rng.uniform(-arc, arc)
            r = float(cell.outline.radius_at(np.array([angle]))[0])
            start = cell.center + 0.98 * r * np.array([np.cos(angle), np.sin(angle)])
            heading = 0.5 * (angle + rear) + rng.normal(0, 0.15)
            length = rng.uniform(*p.fiber_length_um)
            trunk = add(grow_fiber(rng, start, heading, length, p), cell.id, None, "trunk")
            n_points = len(trunk.points)
            for _ in range(int(rng.poisson(p.branches_per_fiber))):
                k = int(rng.integers(n_points // 5, max(n_points * 4 // 5, 2)))
                step = trunk.points[min(k + 1, n_points - 1)] - trunk.points[k - 1]
                local = float(np.arctan2(step[1], step[0]))
                turn = rng.choice([-1, 1]) * rng.uniform(np.deg2rad(20), np.deg2rad(50))
                remaining = trunk.length_um * (1 - k / n_points)
                length = max(2.0, rng.uniform(0.4, 0.9) * remaining)
                points = grow_fiber(rng, trunk.points[k], local + turn, length, p)
                branch = add(points, cell.id, trunk.id, "branch")
                branch_points.append((trunk.points[k], branch.id))
    return fibers, branch_points


def _break_fibers(rng: np.random.Generator, p: SceneParams, fibers: list[Fiber]) -> None:
    """Cut a gap into some unbranched fibers; the outer piece becomes a ``fragment``."""
    parents = {f.parent for f in fibers}
    for fiber in list(fibers):
        if fiber.id in parents or rng.random() >= p.broken_fraction:
            continue
        cum = cumulative_length(fiber.points)
        start = rng.uniform(0.3, 0.7) * cum[-1]
        stop = start + rng.uniform(*p.break_gap_um)
        inner, outer = fiber.points[cum < start], fiber.points[cum > stop]
        if len(inner) < 2 or len(outer) < 2:
            continue
        fiber.points, fiber.real_tip = inner, False
        fibers.append(
            Fiber(len(fibers) + 1, outer, fiber.cell, fiber.id, "fragment", fiber.diameter_um)
        )


def build_scene(
    rng: np.random.Generator, p: SceneParams, width_um: float, height_um: float
) -> Scene:
    """Draw one random field of view (cells, fibers, migrasomes; no distractors yet)."""
    cells = _place_cells(rng, p, width_um, height_um)
    fibers, branch_points = _grow_fibers(rng, p, cells)
    _break_fibers(rng, p, fibers)
    migrasomes = place_migrasomes(rng, p, cells, fibers, branch_points)
    return Scene(width_um, height_um, cells, fibers, migrasomes)
