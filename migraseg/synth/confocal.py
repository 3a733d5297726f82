"""Confocal image formation: fluorophore density → PSF blur → photons → detector counts."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from migraseg.synth.params import ConfocalParams
from migraseg.synth.raster import SceneRaster
from migraseg.synth.scene import Scene


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """Zero-mean, unit-s.d. spatially correlated noise."""
    field = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma_px)
    return field / (field.std() + 1e-6)


def psf_sigma_px(wavelength_um: float, numerical_aperture: float, pixel_size: float) -> float:
    """Gaussian approximation of the lateral confocal PSF: σ ≈ 0.21 λ / NA (Zhang et al. 2007)."""
    return 0.21 * wavelength_um / numerical_aperture / pixel_size


def migrasome_density(
    scene: Scene, raster: SceneRaster, pixel_size: float, brightness: float, ring_above_um: float
) -> np.ndarray:
    """Marker density in migrasomes: filled discs, or rings with a dimmer lumen when large."""
    density = np.zeros(raster.semantic.shape, np.float32)
    if not scene.migrasomes:
        return density
    inner = ndi.distance_transform_edt(raster.migrasome_ids > 0) * pixel_size  # µm to the edge
    diameters = np.zeros(len(scene.migrasomes) + 1, np.float32)
    for m in scene.migrasomes:
        diameters[m.instance_id] = m.diameter_um
    d = diameters[raster.migrasome_ids]
    ring = (d > ring_above_um) & (inner > 0.3)
    density[raster.migrasome_ids > 0] = brightness
    density[ring] = 0.5 * brightness
    return density


def render_confocal(
    rng: np.random.Generator,
    scene: Scene,
    raster: SceneRaster,
    p: ConfocalParams,
    pixel_size: float,
) -> tuple[np.ndarray, dict]:
    """Render a Tspan4-like confocal image.

    Returns:
        ``(image, optics)``: image (Y, X) uint16 counts in ``p.bit_depth`` bits and the drawn
        optical parameters (for the dataset's metadata).
    """
    shape = raster.semantic.shape
    u = rng.uniform
    cell = raster.cell_ids > 0
    density = np.zeros(shape, np.float32)
    texture = 1 + 0.35 * _smooth_noise(rng, shape, 0.5 / pixel_size)
    density[cell] = u(*p.cell_interior) * np.clip(texture[cell], 0.2, None)
    membrane = cell & ~ndi.binary_erosion(cell, iterations=max(1, round(0.2 / pixel_size)))
    density[membrane] = u(*p.cell_membrane)
    beading = np.clip(1 + 0.5 * _smooth_noise(rng, shape, 0.5 / pixel_size), 0.2, None)
    fibers = raster.fiber_centerline * u(*p.fiber_brightness) * beading
    density = np.where(cell, density, np.maximum(density, fibers))
    migrasomes = migrasome_density(
        scene, raster, pixel_size, u(*p.migrasome_brightness), p.ring_above_diameter_um
    )
    density = np.maximum(density, migrasomes)
    wavelength, na = u(*p.wavelength_um), u(*p.numerical_aperture)
    blurred = ndi.gaussian_filter(density, psf_sigma_px(wavelength, na, pixel_size))
    peak, background = u(*p.peak_photons), u(*p.background_photons)
    photons = rng.poisson(blurred * peak + background).astype(np.float32)
    counts = photons + rng.normal(p.offset_adu, u(*p.read_noise_adu), shape)
    image = np.clip(np.round(counts), 0, 2**p.bit_depth - 1).astype(np.uint16)
    optics = {"wavelength_um": wavelength, "numerical_aperture": na, "peak_photons": peak}
    return image, optics
