"""The objects of a scene, in micrometres: cells, retraction fibers, migrasomes, distractors.

Coordinates are (x, y) in µm with the origin at the image's top-left corner. Nothing here knows
about pixels or optics, so every modality renders the same kind of scene. Ids (cells, fibers,
migrasomes) start at 1 and are the ids of the truth tables and instance masks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from migraseg.synth.geometry import Outline


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
    site: str  # one of migraseg.constants.SITES
    fiber: int | None
    cell: int
    cluster: int | None  # id of the tip migrasome of its cluster, if in one
    tone: float
    seed: int
    growth: float = 1.0


@dataclass
class Distractor:
    """Not a migrasome: ``ev``, ``debris``, ``punctum`` (inside a cell), ``dust`` or
    ``out_of_focus`` (a bright object far from the focal plane, blurred by ``blur_um``)."""

    kind: str
    center: np.ndarray  # (2,) µm
    diameter_um: float
    tone: float
    cell: int | None = None  # puncta move with their cell
    outline: Outline | None = None  # irregular shapes (debris)
    blur_um: float = 0.0  # defocus blur σ of an out_of_focus object


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
