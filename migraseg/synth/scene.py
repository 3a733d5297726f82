"""Scene geometry in micrometres: migrating cells, their retraction-fiber trees and migrasomes.

Coordinates are (x, y) in µm with the origin at the image's top-left corner. Nothing here knows
about pixels or optics, so every modality renders the same kind of scene. Ids (cells, fibers,
migrasomes) start at 1 and are the ids of the truth tables and instance masks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from migraseg.synth.geometry import Outline, point_at_arclength, random_outline
from migraseg.synth.params import SceneParams

SITES = ("tip", "branch", "along", "detached")
RETRIES = 5  # positions tried for a migrasome along a fiber or detached


@dataclass
class Cell:
    """A cell body migrating along ``heading`` (radians): wider leading edge, fibers at the rear."""

    id: int
    outline: Outline
    heading: float

    @property
    def center(self) -> np.ndarray:
        return self.outline.center


@dataclass
class Fiber:
    """One unbranched piece of retraction fiber, from the cell (or its parent) outward.

    ``kind`` is ``trunk`` (leaves the cell), ``branch`` (leaves ``parent``) or ``fragment`` (the
    outer piece of a broken fiber ``parent``). ``real_tip`` is False where the fiber ends at a
    break rather than at its adhesion tip.
    """

    id: int
    points: np.ndarray  # (N, 2) µm
    cell: int
    parent: int | None
    kind: str
    diameter_um: float
    real_tip: bool = True

    @property
    def length_um(self) -> float:
        return float(np.linalg.norm(np.diff(self.points, axis=0), axis=1).sum())


@dataclass
class Migrasome:
    """A vesicle on a fiber (or detached on the dish).

    ``tone`` in [0, 1) and ``seed`` fix its appearance (brightness, intraluminal vesicles) across
    the frames of a time-lapse; ``growth`` in [0, 1] is how far it has grown (1: its maximal
    ``diameter_um`` is reached, what still images show).
    """

    id: int
    center: np.ndarray  # (2,) µm
    diameter_um: float
    site: str  # one of SITES
    fiber: int | None
    cell: int
    cluster: int | None  # id of the tip migrasome of its cluster, if in one
    tone: float
    seed: int
    growth: float = 1.0


@dataclass
class Distractor:
    """Not a migrasome: ``ev``, ``debris``, ``punctum`` (inside a cell) or ``dust``."""

    kind: str
    center: np.ndarray  # (2,) µm
    diameter_um: float
    tone: float
    cell: int | None = None  # puncta move with their cell
    outline: Outline | None = None  # irregular shapes (debris)


@dataclass
class Scene:
    """Everything in one field of view (or in the larger world a TEM window looks into)."""

    width_um: float
    height_um: float
    cells: list[Cell]
    fibers: list[Fiber]
    migrasomes: list[Migrasome]
    distractors: list[Distractor] = field(default_factory=list)

    def translated(self, offset: np.ndarray, width_um: float, height_um: float) -> Scene:
        """The scene shifted by ``offset`` µm, seen through a ``width × height`` µm frame."""
        return Scene(
            width_um,
            height_um,
            [replace(c, outline=c.outline.translated(offset)) for c in self.cells],
            [replace(f, points=f.points + offset) for f in self.fibers],
            [replace(m, center=m.center + offset) for m in self.migrasomes],
            [
                replace(
                    d,
                    center=d.center + offset,
                    outline=d.outline.translated(offset) if d.outline else None,
                )
                for d in self.distractors
            ],
        )


def draw_diameter(rng: np.random.Generator, p: SceneParams) -> float:
    """Log-normal migrasome diameter in µm (median, σ of ln d), clipped to the configured range."""
    d = p.diameter_median_um * np.exp(rng.normal(0, p.diameter_sigma))
    return float(np.clip(d, *p.diameter_range_um))


def _uniform_int(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _place_cells(
    rng: np.random.Generator, p: SceneParams, width: float, height: float
) -> list[Cell]:
    """Cells whose trail (the region behind them) lies in the field; they may leave the frame.

    With probability ``touching_cells`` a further cell is put against an existing one.
    """
    cells: list[Cell] = []
    n_cells = _uniform_int(rng, p.n_cells)
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
        for _ in range(_uniform_int(rng, p.fibers_per_cell)):
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
        cum = np.concatenate(
            [[0], np.cumsum(np.linalg.norm(np.diff(fiber.points, axis=0), axis=1))]
        )
        start = rng.uniform(0.3, 0.7) * cum[-1]
        stop = start + rng.uniform(*p.break_gap_um)
        inner, outer = fiber.points[cum < start], fiber.points[cum > stop]
        if len(inner) < 2 or len(outer) < 2:
            continue
        fiber.points, fiber.real_tip = inner, False
        fibers.append(
            Fiber(len(fibers) + 1, outer, fiber.cell, fiber.id, "fragment", fiber.diameter_um)
        )


class _MigrasomePlacer:
    """Adds migrasomes that keep clear of cells and (unless touching) of each other."""

    def __init__(self, rng: np.random.Generator, p: SceneParams, cells: list[Cell]):
        self.rng, self.p, self.cells = rng, p, cells
        self.placed: list[Migrasome] = []

    def add(
        self,
        center: np.ndarray,
        diameter: float,
        site: str,
        fiber: Fiber | None,
        cell: int,
        cluster: int | None = None,
    ) -> Migrasome | None:
        depth = [c.outline.depth(center[0:1], center[1:2])[0] for c in self.cells]
        if depth and max(depth) > -diameter / 2:  # clear of every cell body
            return None
        touching = cluster is not None
        for m in self.placed:
            gap = np.linalg.norm(center - m.center) - (diameter + m.diameter_um) / 2
            if gap < (-0.05 * min(diameter, m.diameter_um) if touching else 0.3):
                return None
        tone, seed = float(self.rng.random()), int(self.rng.integers(2**31))
        fiber_id = fiber.id if fiber else None
        m = Migrasome(
            len(self.placed) + 1, center, diameter, site, fiber_id, cell, cluster, tone, seed
        )
        self.placed.append(m)
        return m

    def tip_cluster(self, fiber: Fiber) -> None:
        """A migrasome at the tip; sometimes a chain of touching ones inward along the fiber."""
        p, rng = self.p, self.rng
        d = draw_diameter(rng, p)
        tip = self.add(fiber.points[-1], d, "tip", fiber, fiber.cell)
        if tip is None or rng.random() >= p.cluster_probability:
            return
        back, previous = fiber.points[::-1], d
        s = 0.0
        for _ in range(_uniform_int(rng, p.cluster_size) - 1):
            d = draw_diameter(rng, p)
            s += 0.98 * (previous + d) / 2
            if s > fiber.length_um:
                break
            center = point_at_arclength(back, s)
            if self.add(center, d, "along", fiber, fiber.cell, cluster=tip.id) is None:
                break
            previous = d

    def along(self, fiber: Fiber) -> None:
        """A migrasome at a random point along a fiber (a few tries where it finds no room)."""
        d = draw_diameter(self.rng, self.p)
        for s in self.rng.uniform(0.05, 0.95, RETRIES):
            center = point_at_arclength(fiber.points, s * fiber.length_um)
            if self.add(center, d, "along", fiber, fiber.cell):
                return

    def detached(self, cell: Cell, fibers: list[Fiber], all_points: np.ndarray) -> None:
        """A migrasome left on the dish beside the cell's fibers, touching none."""
        p, rng = self.p, self.rng
        d = draw_diameter(rng, p)
        for _ in range(RETRIES):
            fiber = fibers[int(rng.integers(len(fibers)))]
            k = int(rng.integers(len(fiber.points)))
            side = rng.uniform(0, 2 * np.pi)
            offset = rng.uniform(1.0, 4.0) * np.array([np.cos(side), np.sin(side)])
            center = fiber.points[k] + offset
            clear = np.min(np.linalg.norm(all_points - center, axis=1)) > d / 2 + p.fiber_step_um
            if clear and self.add(center, d, "detached", None, cell.id):
                return


def _place_migrasomes(
    rng: np.random.Generator,
    p: SceneParams,
    cells: list[Cell],
    fibers: list[Fiber],
    branch_points: list[tuple[np.ndarray, int]],
) -> list[Migrasome]:
    """Migrasomes at tips (with clusters), at branch points, along fibers and detached.

    Sites are filled in that order. A tip or branch migrasome that would overlap a cell or an
    earlier migrasome is dropped (10–30 % of them where tips carry clusters); one along a fiber
    or detached tries a few other positions first.
    """
    placer = _MigrasomePlacer(rng, p, cells)
    by_id = {f.id: f for f in fibers}
    for fiber in fibers:
        if fiber.real_tip and rng.random() < p.migrasome_at_tip:
            placer.tip_cluster(fiber)
    for point, branch_id in branch_points:
        if rng.random() < p.migrasome_at_branch:
            parent = by_id[by_id[branch_id].parent]
            placer.add(point, draw_diameter(rng, p), "branch", parent, parent.cell)
    for fiber in fibers:
        for _ in range(rng.poisson(p.migrasomes_along_per_10um * fiber.length_um / 10)):
            placer.along(fiber)
    if fibers:
        all_points = np.vstack([f.points for f in fibers])
        for cell in cells:
            own = [f for f in fibers if f.cell == cell.id]
            for _ in range(int(rng.poisson(p.detached_per_cell)) if own else 0):
                placer.detached(cell, own, all_points)
    return placer.placed


def build_scene(
    rng: np.random.Generator, p: SceneParams, width_um: float, height_um: float
) -> Scene:
    """Draw one random field of view (cells, fibers, migrasomes; no distractors yet)."""
    cells = _place_cells(rng, p, width_um, height_um)
    fibers, branch_points = _grow_fibers(rng, p, cells)
    _break_fibers(rng, p, fibers)
    migrasomes = _place_migrasomes(rng, p, cells, fibers, branch_points)
    return Scene(width_um, height_um, cells, fibers, migrasomes)
