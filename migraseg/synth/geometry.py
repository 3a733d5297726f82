"""Star-shaped outlines (cells, debris) and the pixel grid they are evaluated on.

Coordinates are (x, y) in µm with the origin at the image's top-left corner; pixel (row, col)
has its centre at ((col + 0.5) · p, (row + 0.5) · p) for a pixel size p in µm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Outline:
    """A closed outline r(θ) around ``center``, sampled at N equal angles θ_k = 2πk/N."""

    center: np.ndarray  # (2,) µm
    radii: np.ndarray  # (N,) µm

    @property
    def max_radius(self) -> float:
        return float(self.radii.max())

    def radius_at(self, theta: np.ndarray) -> np.ndarray:
        """r(θ) by periodic linear interpolation between the samples."""
        n = len(self.radii)
        pos = np.mod(theta, 2 * np.pi) * (n / (2 * np.pi))
        i = np.floor(pos).astype(np.intp) % n
        frac = pos - np.floor(pos)
        return self.radii[i] * (1 - frac) + self.radii[(i + 1) % n] * frac

    def depth(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Radial distance inside the outline in µm (positive inside, negative outside)."""
        dx, dy = x - self.center[0], y - self.center[1]
        return self.radius_at(np.arctan2(dy, dx)) - np.hypot(dx, dy)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Whether each (x, y) µm point of ``points`` (M, 2) lies inside."""
        return self.depth(points[:, 0], points[:, 1]) > 0

    def translated(self, offset: np.ndarray) -> Outline:
        return Outline(self.center + offset, self.radii)


def random_outline(
    rng: np.random.Generator,
    center: np.ndarray,
    radius: float,
    roughness: float,
    harmonics: range = range(2, 6),
    bulge: float = 0.0,
    heading: float = 0.0,
    n: int = 96,
) -> Outline:
    """Irregular outline: harmonics of s.d. ``roughness``, ``bulge`` wider towards ``heading``."""
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in harmonics:
        r += rng.normal(0, roughness) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r *= 1 + bulge * np.cos(theta - heading)
    return Outline(np.asarray(center, float), radius * np.clip(r, 0.4, None))


@dataclass(frozen=True)
class Window:
    """The pixel box ``rows × cols`` of an object's bounding box within the image, and its grid."""

    rows: slice
    cols: slice
    x: np.ndarray  # (1, w) µm pixel-centre x
    y: np.ndarray  # (h, 1) µm pixel-centre y

    @property
    def empty(self) -> bool:
        return self.x.size == 0 or self.y.size == 0


def window(center: np.ndarray, half_um: float, shape: tuple[int, int], pixel_size: float) -> Window:
    """The pixels within ``half_um`` of ``center`` in x and y (clipped to the image)."""
    c0 = max(int(np.floor((center[0] - half_um) / pixel_size)), 0)
    c1 = min(int(np.ceil((center[0] + half_um) / pixel_size)) + 1, shape[1])
    r0 = max(int(np.floor((center[1] - half_um) / pixel_size)), 0)
    r1 = min(int(np.ceil((center[1] + half_um) / pixel_size)) + 1, shape[0])
    cols, rows = np.arange(c0, max(c1, c0)), np.arange(r0, max(r1, r0))
    return Window(
        slice(r0, max(r1, r0)),
        slice(c0, max(c1, c0)),
        ((cols + 0.5) * pixel_size)[None, :],
        ((rows + 0.5) * pixel_size)[:, None],
    )


def resample_polyline(points: np.ndarray, spacing: float) -> np.ndarray:
    """Points along a polyline (N, 2) at most ``spacing`` apart, ends included."""
    seg = np.diff(points, axis=0)
    n = np.maximum(np.ceil(np.linalg.norm(seg, axis=1) / spacing).astype(int), 1)
    t = np.concatenate([np.arange(k) / k for k in n])
    starts = np.repeat(points[:-1], n, axis=0)
    return np.vstack([starts + np.repeat(seg, n, axis=0) * t[:, None], points[-1:]])


def cumulative_length(points: np.ndarray) -> np.ndarray:
    """Arc length (N,) of a polyline (N, 2) from its first point to each vertex."""
    return np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])


def point_at_arclength(points: np.ndarray, s: float) -> np.ndarray:
    """The point of a polyline (N, 2) at arc length ``s`` from its first point (clipped)."""
    cum = cumulative_length(points)
    s = float(np.clip(s, 0, cum[-1]))
    return np.array([np.interp(s, cum, points[:, 0]), np.interp(s, cum, points[:, 1])])


def soft_disc(win: Window, center: np.ndarray, radius: float, pixel_size: float) -> np.ndarray:
    """Area coverage (0–1, anti-aliased over one pixel) of a disc on a window's pixels."""
    rho = np.hypot(win.x - center[0], win.y - center[1])
    return np.clip((radius - rho) / pixel_size + 0.5, 0, 1).astype(np.float32)


def rotated_offsets(win: Window, center: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (µm) of the window's pixels from ``center``, along the direction ``angle``
    (radians) and across it: the frame of a rotated ellipse."""
    dx, dy = win.x - center[0], win.y - center[1]
    return dx * np.cos(angle) + dy * np.sin(angle), -dx * np.sin(angle) + dy * np.cos(angle)
