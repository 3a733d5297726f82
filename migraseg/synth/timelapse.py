"""Time-lapse: the scene as it was at each frame before the last.

The final scene is the last frame. Going back in time, each cell sits further back along its
heading (it migrates at a constant speed); a fiber point exists once its cell's centre has passed
it (fibers are laid down behind the cell, tip first); a migrasome's site exists once it lies
behind and outside its cell, and the migrasome nucleates a little later, grows (diameter and
marker intensity) and then stays at its maximal size, unless a fate is drawn for it: some time
after reaching its maximal size it shrinks, ruptures (gone from one frame to the next) or
detaches (leaves its fiber and drifts off slowly). Ids never change between frames. With stage
drift, the whole field moves with the stage (truth coordinates are each frame's own). Each stack
may draw its own frame interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from migraseg.synth.objects import Cell, Scene
from migraseg.synth.params import TimelapseParams


def growth_curve(x: np.ndarray | float) -> np.ndarray:
    """Ease-out growth progress: 0 at nucleation, 1 (and flat) from ``x = 1`` on."""
    x = np.clip(x, 0.0, 1.0)
    return 1 - (1 - x) ** 2


@dataclass
class Timeline:
    """How every object of a final scene moves and grows over ``n_frames`` frames."""

    scene: Scene
    p: TimelapseParams
    speeds: dict[int, float]  # µm/min per cell id
    nucleation_min: dict[int, float]  # per migrasome id (inf: not within the movie)
    growth_min: dict[int, float]
    stage: np.ndarray | None = None  # (n_frames, 2) µm: stage drift, everything moves with it
    fates: dict[int, str] = field(default_factory=dict)  # shrinks, ruptures, detaches; else none
    fate_min: dict[int, float] = field(default_factory=dict)  # when the fate starts
    shrink_min: dict[int, float] = field(default_factory=dict)
    detach_um_per_min: dict[int, np.ndarray] = field(default_factory=dict)  # (2,) velocity

    def offset(self, cell: Cell, frame: int) -> np.ndarray:
        """Where the cell was relative to its final position, µm."""
        back = self.speeds[cell.id] * (self.p.n_frames - 1 - frame) * self.p.frame_interval_min
        return -back * np.array([np.cos(cell.heading), np.sin(cell.heading)])

    def frame(self, t: int) -> Scene:
        """The scene at frame ``t`` (0-based; the last frame is the final scene)."""
        time = t * self.p.frame_interval_min
        offsets = {c.id: self.offset(c, t) for c in self.scene.cells}
        cells = {
            c.id: replace(c, outline=c.outline.translated(offsets[c.id])) for c in self.scene.cells
        }
        fibers = []
        for f in self.scene.fibers:
            cell = cells[f.cell]
            heading = np.array([np.cos(cell.heading), np.sin(cell.heading)])
            laid = (f.points - cell.center) @ heading < 0
            if laid.all():
                fibers.append(f)
            elif laid[-1]:
                first = int(np.flatnonzero(~laid)[-1]) + 1
                if len(f.points) - first >= 2:
                    fibers.append(replace(f, points=f.points[first:]))
        migrasomes = []
        f0 = self.p.initial_diameter_fraction
        for m in self.scene.migrasomes:
            start = self.nucleation_min[m.id]
            if time < start:
                continue
            g = float(growth_curve((time - start) / self.growth_min[m.id]))
            grown = replace(m, diameter_um=m.diameter_um * (f0 + (1 - f0) * g), growth=g)
            since = time - self.fate_min.get(m.id, np.inf)
            fate = self.fates.get(m.id)
            if since >= 0 and fate == "ruptures":
                continue
            if since >= 0 and fate == "shrinks":
                lost = (1 - self.p.shrunk_diameter_fraction) * min(since / self.shrink_min[m.id], 1)
                grown = replace(grown, diameter_um=grown.diameter_um * (1 - lost))
            if since >= 0 and fate == "detaches":
                moved = m.center + self.detach_um_per_min[m.id] * since
                grown = replace(grown, center=moved, site="detached", fiber=None, cluster=None)
            migrasomes.append(grown)
        distractors = [
            replace(d, center=d.center + offsets[d.cell]) if d.cell else d
            for d in self.scene.distractors
        ]
        scene = Scene(
            self.scene.width_um,
            self.scene.height_um,
            list(cells.values()),
            fibers,
            migrasomes,
            distractors,
        )
        if self.stage is None:
            return scene
        return scene.translated(self.stage[t], scene.width_um, scene.height_um)


def _site_frame(timeline: Timeline, center: np.ndarray, diameter: float, cell: Cell) -> float:
    """First frame in which a migrasome site lies behind its cell and clear of it (inf: never)."""
    heading = np.array([np.cos(cell.heading), np.sin(cell.heading)])
    for t in range(timeline.p.n_frames):
        moved = cell.outline.translated(timeline.offset(cell, t))
        behind = (center - moved.center) @ heading < 0
        clear = moved.depth(center[0:1], center[1:2])[0] < -diameter / 2
        if behind and clear:
            return float(t)
    return float("inf")


def make_timeline(rng: np.random.Generator, scene: Scene, p: TimelapseParams) -> Timeline:
    """Draw cell speeds and migrasome nucleation and growth times for a final scene (and, when
    the parameters ask for them, the stack's frame interval and the migrasomes' fates)."""
    if p.frame_interval_range_min[1] > 0:  # drawn first, only then: other stacks stay as they were
        p = replace(p, frame_interval_min=float(rng.uniform(*p.frame_interval_range_min)))
    speeds = {c.id: float(rng.uniform(*p.cell_speed_um_per_min)) for c in scene.cells}
    timeline = Timeline(scene, p, speeds, {}, {})
    cells = {c.id: c for c in scene.cells}
    for m in scene.migrasomes:
        laid = _site_frame(timeline, m.center, m.diameter_um, cells[m.cell])
        delay = float(rng.uniform(*p.nucleation_delay_min))
        if laid == 0:  # its site may predate the movie: it may already be growing or grown
            delay = float(rng.uniform(-p.growth_time_min[1] - p.nucleation_delay_min[1], delay))
        timeline.nucleation_min[m.id] = laid * p.frame_interval_min + delay
        timeline.growth_min[m.id] = float(rng.uniform(*p.growth_time_min))
    if p.drift_um_per_frame[1] > 0:  # drawn last: stacks without drift stay as they were
        timeline.stage = stage_drift(rng, p)
    if p.shrink_fraction + p.rupture_fraction + p.detach_fraction > 0:  # drawn last, as drift
        draw_fates(rng, timeline)
    return timeline


def draw_fates(rng: np.random.Generator, timeline: Timeline) -> None:
    """A fate per migrasome (shrinks, ruptures, detaches or none: it persists), starting a
    drawn delay after it reaches its maximal size, with how fast it shrinks or drifts off."""
    p = timeline.p
    shares = np.array([p.shrink_fraction, p.rupture_fraction, p.detach_fraction])
    edges = np.cumsum(shares)
    for m in timeline.scene.migrasomes:
        pick = int(np.searchsorted(edges, rng.uniform(), side="right"))
        delay = float(rng.uniform(*p.fate_delay_min))
        if pick == len(shares):
            continue
        fate = ("shrinks", "ruptures", "detaches")[pick]
        timeline.fates[m.id] = fate
        timeline.fate_min[m.id] = timeline.nucleation_min[m.id] + timeline.growth_min[m.id] + delay
        if fate == "shrinks":
            timeline.shrink_min[m.id] = float(rng.uniform(*p.shrink_time_min))
        if fate == "detaches":
            speed = float(rng.uniform(*p.detach_speed_um_per_min))
            angle = float(rng.uniform(0, 2 * np.pi))
            timeline.detach_um_per_min[m.id] = speed * np.array([np.cos(angle), np.sin(angle)])


def stage_drift(rng: np.random.Generator, p: TimelapseParams) -> np.ndarray:
    """Stage position per frame (µm, 0 at the first): steps of a drawn length per frame in a
    direction that turns slowly, as thermal drift does."""
    steps = rng.uniform(*p.drift_um_per_frame, p.n_frames - 1)
    angles = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.2, p.n_frames - 1))
    moves = steps[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return np.vstack([np.zeros(2), np.cumsum(moves, axis=0)])
