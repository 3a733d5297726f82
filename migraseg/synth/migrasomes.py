"""Where migrasomes go: fiber tips (with touching clusters), branch points, along, detached."""

from __future__ import annotations

import numpy as np

from migraseg.synth.geometry import point_at_arclength
from migraseg.synth.objects import Cell, Fiber, Migrasome
from migraseg.synth.params import SceneParams, draw_int

RETRIES = 5  # positions tried for a migrasome along a fiber or detached


def draw_diameter(rng: np.random.Generator, p: SceneParams) -> float:
    """Log-normal migrasome diameter in µm (median, σ of ln d), clipped to the configured range."""
    d = p.diameter_median_um * np.exp(rng.normal(0, p.diameter_sigma))
    return float(np.clip(d, *p.diameter_range_um))


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
        for _ in range(draw_int(rng, p.cluster_size) - 1):
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


def place_migrasomes(
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
