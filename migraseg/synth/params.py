"""Parameter ranges of the simulator, in physical units (µm, photons). One dataclass per part.

Every range is a ``(low, high)`` tuple from which each image draws uniformly, so a dataset's
variety (domain randomisation) is set by these ranges alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Range = tuple[float, float]


@dataclass(frozen=True)
class SceneParams:
    """Geometry of cells, retraction fibers and migrasomes."""

    n_cells: tuple[int, int] = (1, 2)
    cell_radius_um: Range = (6.0, 11.0)
    fibers_per_cell: tuple[int, int] = (3, 6)
    fiber_length_um: Range = (8.0, 30.0)
    fiber_step_um: float = 0.4
    fiber_wiggle_rad: float = 0.06  # s.d. of the heading change per step
    rear_arc_deg: float = 70.0  # fibers leave the rear within ±this angle of straight back
    branch_probability: float = 0.6  # expected branch points per fiber
    migrasome_at_tip: float = 0.75
    migrasome_at_branch: float = 0.6
    migrasomes_along_per_10um: float = 0.15
    cluster_probability: float = 0.2  # a second, touching migrasome at the same tip
    diameter_median_um: float = 1.4
    diameter_sigma: float = 0.4  # log-normal shape, clipped to diameter_range_um
    diameter_range_um: Range = (0.5, 3.0)


@dataclass(frozen=True)
class ConfocalParams:
    """Optics, marker and detector of a confocal acquisition (Tspan4-like membrane marker)."""

    image_size_px: tuple[int, int] = (512, 512)
    pixel_size_um: Range = (0.1, 0.1)
    wavelength_um: Range = (0.5, 0.6)
    numerical_aperture: Range = (1.3, 1.45)
    fiber_mask_width_um: float = 0.25  # fibers are masked one PSF (FWHM) wide
    cell_interior: Range = (0.12, 0.25)
    cell_membrane: Range = (0.35, 0.55)
    fiber_brightness: Range = (0.5, 0.9)  # of a line before blurring; faint after the PSF
    migrasome_brightness: Range = (0.8, 1.0)
    ring_above_diameter_um: float = 1.6  # larger migrasomes show as rings
    peak_photons: Range = (60.0, 200.0)
    background_photons: Range = (2.0, 10.0)
    read_noise_adu: Range = (1.0, 4.0)
    offset_adu: float = 100.0
    bit_depth: int = 12


@dataclass(frozen=True)
class SynthConfig:
    """Everything one simulated dataset needs."""

    modality: str = "confocal"
    scene: SceneParams = field(default_factory=SceneParams)
    confocal: ConfocalParams = field(default_factory=ConfocalParams)
