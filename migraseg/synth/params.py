"""Parameter ranges of the simulator, in physical units (µm, minutes, photons, electrons).

Every ``Range`` is a ``(low, high)`` pair from which each image draws uniformly (an
``IntRange`` draws an integer, both ends included), so a dataset's variety — its domain
randomisation — is set by these ranges alone. The defaults here are the default confocal dataset;
``configs/data/synth/*.yaml`` spell out every value of every preset, and
:func:`synth_config_from_mapping` turns such a mapping into a validated :class:`SynthConfig`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_type_hints

import numpy as np

Range = tuple[float, float]
IntRange = tuple[int, int]
MODALITIES = ("confocal", "tem")


def _check_ranges(obj: Any) -> None:
    """Turn lists into tuples and check every ``(low, high)`` range of a params dataclass.

    Pixel sizes and image sizes must also be positive.
    """
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, list):
            value = tuple(value)
            object.__setattr__(obj, f.name, value)
        if f.type in ("Range", "IntRange") and (len(value) != 2 or not value[0] <= value[1]):
            raise ValueError(
                f"{type(obj).__name__}.{f.name} must be a (low, high) pair, got {value!r}"
            )
        if f.name in ("pixel_size_um", "image_size_px") and min(value) <= 0:
            raise ValueError(f"{type(obj).__name__}.{f.name} must be positive, got {value!r}")


@dataclass(frozen=True)
class SceneParams:
    """Geometry of cells, retraction fibers and migrasomes (µm; probabilities per object)."""

    n_cells: IntRange = (1, 2)
    cell_radius_um: Range = (6.0, 11.0)
    cell_roughness: float = 0.06  # s.d. of the outline's low harmonics, fraction of the radius
    leading_edge_bulge: float = 0.25  # the outline is this much wider towards the heading
    touching_cells: float = 0.15  # probability that a further cell is placed touching another
    fibers_per_cell: IntRange = (3, 6)
    fiber_length_um: Range = (8.0, 30.0)
    fiber_diameter_um: Range = (0.04, 0.07)  # true width (TEM); sub-resolution in confocal
    fiber_step_um: float = 0.4
    fiber_wiggle_rad: float = 0.06  # s.d. of the heading change per step
    rear_arc_deg: float = 70.0  # fibers leave the rear within ±this angle of straight back
    branches_per_fiber: float = 0.6  # Poisson mean of branch points per trunk
    broken_fraction: float = 0.1  # fibers with a gap (the outer piece stays on the dish)
    break_gap_um: Range = (0.5, 2.5)
    migrasome_at_tip: float = 0.75
    migrasome_at_branch: float = 0.6
    migrasomes_along_per_10um: float = 0.15
    detached_per_cell: float = 0.4  # Poisson mean of migrasomes left on the dish off any fiber
    cluster_probability: float = 0.2  # a tip migrasome has touching neighbours on its fiber
    cluster_size: IntRange = (2, 3)  # migrasomes in such a cluster, the tip one included
    diameter_median_um: float = 1.6  # log-normal diameter, clipped to diameter_range_um
    diameter_sigma: float = 0.35  # s.d. of ln(diameter)
    diameter_range_um: Range = (0.5, 3.0)

    def __post_init__(self) -> None:
        _check_ranges(self)


@dataclass(frozen=True)
class DistractorParams:
    """Things that are not migrasomes and stay background (or cell) in the masks."""

    ev_per_100um2: Range = (0.5, 2.0)  # small extracellular vesicles on the dish
    ev_diameter_um: Range = (0.05, 0.15)
    debris_per_100um2: Range = (0.0, 0.08)  # irregular dead-cell debris, off the fibers
    debris_size_um: Range = (0.6, 3.0)
    puncta_per_cell: IntRange = (5, 20)  # intracellular vesicles (endocytosed dye, Tspan4)
    puncta_diameter_um: Range = (0.2, 0.7)
    dust_per_100um2: Range = (0.0, 0.04)  # out-of-focus dust (confocal), stain precipitate (TEM)
    dust_diameter_um: Range = (3.0, 10.0)
    # Bright objects far out of focus (whole cells above or below the plane, debris, vesicles):
    # blurred blobs, anywhere in the frame (also over cells). Confocal only; 0 draws none.
    out_of_focus_per_100um2: Range = (0.0, 0.0)
    out_of_focus_diameter_um: Range = (0.5, 20.0)  # log-uniform: many small, few cell-sized
    out_of_focus_blur_um: Range = (1.0, 5.0)  # defocus blur σ (depth below or above the plane)

    def __post_init__(self) -> None:
        _check_ranges(self)


@dataclass(frozen=True)
class MarkerParams:
    """How one fluorescent marker labels the scene: relative fluorophore densities (~0–1.5)."""

    emission_um: Range = (0.50, 0.62)  # GFP to mCherry; sets the PSF width
    background_dye: Range = (0.0, 0.0)  # dye left in the medium (WGA): diffuse background
    cell_interior: Range = (0.12, 0.25)
    cell_texture: float = 0.35  # s.d. of the interior's multiplicative texture
    cell_membrane: Range = (0.35, 0.55)
    membrane_width_um: float = 0.3
    fiber: Range = (0.5, 0.9)  # of a 1-px line before the PSF; faint after it
    fiber_beading: float = 0.5  # s.d. of the brightness modulation along fibers
    migrasome: Range = (0.8, 1.0)
    migrasome_variation: float = 0.25  # migrasomes differ by up to this fraction
    ring_above_diameter_um: float = 1.6  # larger migrasomes image as rings ...
    ring_lumen: Range = (0.4, 0.6)  # ... with a lumen this bright relative to the rim
    puncta: Range = (0.2, 0.5)
    ev: Range = (0.5, 1.5)  # a 150 nm vesicle's total signal, in pixels of migrasome brightness
    debris: Range = (0.2, 0.5)
    dust: Range = (0.02, 0.08)
    haze: Range = (0.0, 0.15)  # fraction of the cell signal spread as out-of-focus light

    def __post_init__(self) -> None:
        _check_ranges(self)


def _default_markers() -> dict[str, MarkerParams]:
    wga = MarkerParams(
        emission_um=(0.51, 0.67),
        background_dye=(0.04, 0.12),
        cell_interior=(0.25, 0.45),
        cell_membrane=(0.5, 0.8),
        fiber=(0.6, 1.0),
        migrasome=(0.7, 1.0),
        puncta=(0.8, 1.4),
        ev=(0.8, 2.0),
        debris=(0.3, 0.7),
        haze=(0.05, 0.25),
    )
    return {"tspan4": MarkerParams(), "wga": wga}


Weights = dict[str, float]
# Appearance families of confocal images: each image draws one family per axis, with the
# weights of its ConfocalParams field (docs/simulator_families.md). The first is today's look.
CELL_STYLES = ("membrane", "rim", "fill", "punctate", "nucleus", "textured")
OPTICS = ("confocal", "spinning_disk", "widefield", "airyscan")
NOISE_MODELS = ("poisson_gauss", "scmos", "emccd")
FIBER_STYLES = ("marker", "dim")
EXPOSURES = ("standard", "saturated")
FAMILY_AXES = {  # ConfocalParams field -> the families it weighs
    "cell_styles": CELL_STYLES,
    "optics": OPTICS,
    "noise_models": NOISE_MODELS,
    "fiber_styles": FIBER_STYLES,
    "exposures": EXPOSURES,
}


def only(axis: str, family: str) -> Weights:
    """Weights of a family axis that select ``family`` always (weight 1, every other 0)."""
    return {name: float(name == family) for name in FAMILY_AXES[axis]}


def check_weights(where: str, weights: Mapping[str, float], known: Sequence[str]) -> Weights:
    """Validated family weights: known names, finite weights >= 0, at least one above 0."""
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown famil(ies) {unknown}; known: {list(known)}")
    try:
        out = {str(k): float(v) for k, v in weights.items()}
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: weights must be numbers, got {dict(weights)}") from err
    if any(not np.isfinite(v) or v < 0 for v in out.values()) or not sum(out.values()) > 0:
        raise ValueError(f"{where}: weights must be >= 0 with at least one > 0, got {out}")
    return out


def choose(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    """One family drawn with probability proportional to its weight (0: never).

    Draws no random number when only one family has a weight above 0.
    """
    names = [k for k, v in weights.items() if v > 0]
    if len(names) == 1:
        return names[0]
    p = np.array([weights[k] for k in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


@dataclass(frozen=True)
class ConfocalParams:
    """Optics, markers and detector of a confocal acquisition."""

    image_size_px: tuple[int, int] = (512, 512)
    pixel_size_um: Range = (0.1, 0.1)
    channels: tuple[str, ...] = ("tspan4",)  # one marker per image channel
    markers: dict[str, MarkerParams] = field(default_factory=_default_markers)
    numerical_aperture: Range = (1.3, 1.45)
    haze_sigma_um: Range = (2.0, 5.0)  # blur of out-of-focus light
    peak_photons: Range = (60.0, 200.0)  # photons per pixel at density 1
    background_photons: Range = (2.0, 10.0)
    read_noise_e: Range = (1.0, 4.0)
    bit_depths: tuple[int, ...] = (12,)  # each image picks one
    full_scale_fraction: Range = (0.3, 0.8)  # detector gain maps density 1 to this of the range
    offset_fraction: float = 0.025  # dark offset, fraction of the full range
    illumination_falloff: Range = (0.0, 0.2)  # relative drop towards the corners
    bleached_fraction: Range = (0.0, 0.2)  # marker bleached before (the first) acquisition
    # Appearance families (docs/simulator_families.md): weights per image, 0 = never drawn.
    cell_styles: Weights = field(default_factory=lambda: only("cell_styles", "membrane"))
    optics: Weights = field(default_factory=lambda: only("optics", "confocal"))
    noise_models: Weights = field(default_factory=lambda: only("noise_models", "poisson_gauss"))
    fiber_styles: Weights = field(default_factory=lambda: only("fiber_styles", "marker"))
    exposures: Weights = field(default_factory=lambda: only("exposures", "standard"))
    log_photons: bool = False  # draw peak_photons log-uniformly (as many dim images as bright)
    relative_background: bool = False  # background_photons are per 100 peak photons
    autofluorescence: Range = (0.0, 0.0)  # smooth autofluorescent background (density)
    out_of_focus_density: Range = (0.1, 0.6)  # peak of a blurred out-of-focus blob (density)
    widefield_haze: Range = (0.3, 1.0)  # widefield: out-of-focus light of everything in focus
    spinning_disk_crosstalk: Range = (0.05, 0.2)  # spinning disk: pinhole crosstalk haze
    dim_fiber_snr: Range = (1.0, 3.0)  # dim fibers: peak signal / background noise
    saturated_density: Range = (0.3, 0.7)  # saturated: this density reaches full scale

    def __post_init__(self) -> None:
        _check_ranges(self)
        for axis, known in FAMILY_AXES.items():
            weights = check_weights(f"ConfocalParams.{axis}", getattr(self, axis), known)
            object.__setattr__(self, axis, weights)
        if self.log_photons and self.peak_photons[0] <= 0:
            raise ValueError(f"log_photons needs peak_photons > 0, got {self.peak_photons}")
        unknown = set(self.channels) - set(self.markers)
        if unknown or not self.channels:
            raise ValueError(
                f"ConfocalParams.channels {list(self.channels)} must name markers in "
                f"{sorted(self.markers)}"
            )
        if any(bits not in (8, 12, 16) for bits in self.bit_depths):
            raise ValueError(f"bit_depths must be among 8, 12, 16; got {self.bit_depths}")


TEM_PREPARATIONS = ("whole_mount", "thin_section", "negative_stain")


def _whole_mount_only() -> dict[str, float]:
    return {"whole_mount": 1.0}


@dataclass(frozen=True)
class TemParams:
    """Staining, optics and detector of a transmission electron micrograph.

    Each micrograph picks one sample preparation from ``preparations`` (weights; 0 = never):
    ``whole_mount`` (heavy stain, projected shells: dark discs), ``thin_section`` (membranes as
    outlines around a light lumen, cells as textured cytoplasm) or ``negative_stain`` (stain pools
    around the objects: light objects with dark rims on a darker, uneven background). The
    ranges after ``preparations`` are drawn only by the preparation that uses them.
    """

    image_size_px: tuple[int, int] = (512, 512)
    pixel_size_um: Range = (0.008, 0.016)
    world_um: float = 60.0  # the scene is drawn this large; the image is a window onto it
    view_on_cell_edge: float = 0.25  # else the window is centred near a migrasome
    membrane_thickness_um: Range = (0.008, 0.014)  # stained bilayer
    membrane_density: Range = (2.0, 4.0)  # stain density of membranes
    migrasome_lumen: Range = (0.02, 0.08)  # stain density of the lumen
    ilv_diameter_um: Range = (0.03, 0.12)  # intraluminal vesicles ("pomegranate")
    ilv_packing: Range = (0.2, 0.5)  # projected area fraction of the lumen they cover
    fiber_density: Range = (1.5, 3.0)  # stain density of a fiber (a membrane tube)
    cell_density: Range = (0.15, 0.35)  # per µm of cell thickness
    cell_thickness_um: Range = (1.0, 3.0)  # reached this far inside the edge:
    cell_ramp_um: Range = (0.3, 1.5)
    texture: float = 0.15  # s.d. of the cell's and debris' multiplicative texture
    debris_density: Range = (0.1, 0.4)  # projected stain of debris
    dust_density: Range = (0.3, 1.0)  # stain precipitate
    film_texture: Range = (0.0, 0.01)  # support film mottling
    contrast_per_um: Range = (3.0, 6.0)  # transmission = exp(-contrast × projected stain)
    defocus_blur_um: Range = (0.0, 0.006)  # Gaussian σ added to half a pixel (detector MTF)
    fringe: Range = (0.0, 0.4)  # Fresnel-like edge halo from defocus
    dose_e_per_px: Range = (30.0, 300.0)
    grain: Range = (0.0, 0.05)  # correlated detector/film grain, relative
    illumination_falloff: Range = (0.0, 0.3)
    bit_depths: tuple[int, ...] = (8, 16)
    full_scale_fraction: Range = (0.6, 0.9)  # the unobstructed beam maps to this of the range
    preparations: dict[str, float] = field(default_factory=_whole_mount_only)  # weights
    # thin_section: a 50–100 nm plastic section, post-stained; contrast scales with its thickness
    section_thickness_um: Range = (0.05, 0.1)
    section_membrane_density: Range = (5.0, 12.0)  # membranes cut across the section
    cytoplasm_density: Range = (0.8, 2.5)  # cell interior (resin background: film_texture)
    section_lumen_density: Range = (0.1, 0.6)  # migrasome and vesicle lumens
    ribosome_grain: Range = (0.2, 0.8)  # relative, fine-grained cytoplasm texture
    organelles_per_um2: Range = (0.05, 0.4)  # mitochondria in the cut cytoplasm
    fiber_in_section: Range = (0.4, 1.0)  # fraction of a fiber's length inside the section
    # negative_stain: a stain layer pooling around the objects on the film
    stain_depth_um: Range = (0.02, 0.08)
    stain_od: Range = (0.6, 1.6)  # optical density of the stain layer (background darkness)
    stain_unevenness: Range = (0.1, 0.5)  # relative s.d. of the layer's depth
    rim_um: Range = (0.02, 0.1)  # width of the meniscus of stain around each object
    rim_strength: Range = (0.5, 2.0)  # its extra depth, in layer depths
    positive_stain: Range = (0.05, 0.3)  # fraction of whole-mount stain the objects also take

    def __post_init__(self) -> None:
        _check_ranges(self)
        if any(bits not in (8, 16) for bits in self.bit_depths):
            raise ValueError(f"TEM bit_depths must be among 8, 16; got {self.bit_depths}")
        weights = check_weights("TemParams.preparations", self.preparations, TEM_PREPARATIONS)
        object.__setattr__(self, "preparations", weights)  # a plain dict, also from Hydra


@dataclass(frozen=True)
class TimelapseParams:
    """Time-lapse mode: the cell migrates, fibers are laid down, migrasomes grow then plateau."""

    n_frames: int = 1  # 1: still images (Y×X); more: T×Y×X stacks
    frame_interval_min: float = 2.0
    cell_speed_um_per_min: Range = (0.3, 0.8)
    nucleation_delay_min: Range = (0.0, 6.0)  # after the migrasome's site is laid down
    growth_time_min: Range = (6.0, 20.0)  # to the maximal diameter, then flat
    initial_diameter_fraction: float = 0.3
    bleach_per_frame: Range = (0.0, 0.01)
    drift_um_per_frame: Range = (0.0, 0.0)  # stage drift per frame, in a slowly turning direction
    # slow focus drift: the PSF widens by this fraction per frame (0.01: 30 % wider by frame 30)
    focus_drift_per_frame: Range = (0.0, 0.0)
    # each stack draws its frame interval here (min; (0, 0): every stack uses frame_interval_min)
    frame_interval_range_min: Range = (0.0, 0.0)
    # fates once grown: shares of migrasomes that shrink, rupture (vanish at once) or detach
    # (leave their fiber and drift off); the rest persist
    shrink_fraction: float = 0.0
    rupture_fraction: float = 0.0
    detach_fraction: float = 0.0
    fate_delay_min: Range = (2.0, 20.0)  # from reaching the maximal diameter to the fate
    shrink_time_min: Range = (4.0, 12.0)  # to shrunk_diameter_fraction of the maximal diameter
    shrunk_diameter_fraction: float = 0.4
    detach_speed_um_per_min: Range = (0.02, 0.1)

    def __post_init__(self) -> None:
        _check_ranges(self)
        if self.n_frames < 1:
            raise ValueError(f"TimelapseParams.n_frames must be >= 1, got {self.n_frames}")
        shares = (self.shrink_fraction, self.rupture_fraction, self.detach_fraction)
        if min(shares) < 0 or sum(shares) > 1:
            raise ValueError(
                "TimelapseParams: shrink_fraction, rupture_fraction and detach_fraction must be "
                f">= 0 and sum to at most 1, got {shares}"
            )
        if self.frame_interval_range_min[1] > 0 and self.frame_interval_range_min[0] <= 0:
            raise ValueError(
                "TimelapseParams.frame_interval_range_min must be positive (or (0, 0)), got "
                f"{self.frame_interval_range_min}"
            )


@dataclass(frozen=True)
class SynthConfig:
    """Everything one simulated dataset needs. ``preset`` names it (dataset folder, metadata)."""

    preset: str = "confocal"
    modality: str = "confocal"
    scene: SceneParams = field(default_factory=SceneParams)
    distractors: DistractorParams = field(default_factory=DistractorParams)
    confocal: ConfocalParams = field(default_factory=ConfocalParams)
    tem: TemParams = field(default_factory=TemParams)
    timelapse: TimelapseParams = field(default_factory=TimelapseParams)

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        if self.modality == "tem" and self.timelapse.n_frames > 1:
            raise ValueError("TEM samples are fixed: time-lapse (n_frames > 1) is confocal only")

    @property
    def acquisition(self) -> ConfocalParams | TemParams:
        """The parameters of the configured modality (image size, pixel size, ...)."""
        return self.confocal if self.modality == "confocal" else self.tem

    def with_acquisition(self, **changes: Any) -> SynthConfig:
        """A copy whose modality's acquisition parameters have ``changes`` applied."""
        acquisition = dataclasses.replace(self.acquisition, **changes)
        return dataclasses.replace(self, **{self.modality: acquisition})

    @property
    def channels(self) -> list[str]:
        """Channel names of the images (markers in confocal, ``tem`` in TEM)."""
        return list(self.confocal.channels) if self.modality == "confocal" else ["tem"]


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    hints = get_type_hints(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise ValueError(
            f"unknown simulator parameter(s) {[f'{where}{k}' for k in unknown]}; "
            f"{where or 'the top level'} takes {sorted(hints)}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, f"{where}{name}.")
        elif name == "markers":
            kwargs[name] = {
                str(k): _build(MarkerParams, v, f"{where}markers.{k}.") for k, v in value.items()
            }
        elif isinstance(value, Sequence) and not isinstance(value, str):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def synth_config_from_mapping(data: Mapping[str, Any] | SynthConfig | None) -> SynthConfig:
    """A validated :class:`SynthConfig` from a (possibly partial, possibly Hydra) mapping.

    Missing keys keep their defaults; an unknown key raises ``ValueError`` naming it, so that a
    typo in a preset cannot silently fall back to a default.
    """
    if data is None:
        return SynthConfig()
    if isinstance(data, SynthConfig):
        return data
    return _build(SynthConfig, data, "")


def draw_ranges(rng: np.random.Generator, params: Any) -> dict[str, float]:
    """One uniform draw from every ``Range`` field of a params dataclass, by field name."""
    return {
        f.name: float(rng.uniform(*getattr(params, f.name)))
        for f in dataclasses.fields(params)
        if f.type == "Range"
    }


def draw_int(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    """A uniform integer from an ``IntRange``, both ends included."""
    return int(rng.integers(bounds[0], bounds[1] + 1))
