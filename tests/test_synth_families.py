"""Appearance families of the confocal simulator (docs/simulator_families.md).

Families change how an image looks, never its scene or masks; weights of 0 are never drawn; the
generalist preset and the leave-one-family-out eval sets compose.
"""

import dataclasses
import functools
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import ndimage as ndi

from migraseg.constants import CELL
from migraseg.synth import appearance, confocal
from migraseg.synth.generator import make_sample
from migraseg.synth.params import (
    FAMILY_AXES,
    ConfocalParams,
    SynthConfig,
    choose,
    only,
    synth_config_from_mapping,
)
from migraseg.synth.presets import load_preset

from .conftest import compose_config

SETS_DIR = Path(__file__).parents[1] / "configs" / "eval" / "sets"
FAMILY_SETS = sorted(SETS_DIR.glob("family_*.yaml"))
EVERY_FAMILY = [(axis, family) for axis, families in FAMILY_AXES.items() for family in families]


@functools.cache
def generalist() -> SynthConfig:
    return load_preset("confocal_generalist")


def small(config: SynthConfig | None = None, **confocal_changes) -> SynthConfig:
    """A 128² confocal config (the default preset unless given) with some ConfocalParams set."""
    config = config or SynthConfig()
    return config.with_acquisition(image_size_px=(128, 128), **confocal_changes)


def pinned(axis: str, family: str) -> SynthConfig:
    return small(**{axis: only(axis, family)})


def with_out_of_focus(config: SynthConfig, per_100um2: float) -> SynthConfig:
    d = dataclasses.replace(config.distractors, out_of_focus_per_100um2=(per_100um2, per_100um2))
    return dataclasses.replace(config, distractors=d)


@pytest.mark.parametrize(("axis", "family"), EVERY_FAMILY)
def test_every_family_renders_and_is_recorded(axis, family):
    sample = make_sample(pinned(axis, family), 3, 0)
    assert sample.image.shape == (1, 128, 128) and sample.image.dtype == np.uint16
    assert sample.image.std() > 0
    assert sample.truth["acquisition"]["families"][axis] == family


def test_masks_do_not_depend_on_appearance():
    """The same scene seed gives identical masks in every family; the images differ."""
    reference = make_sample(small(), 11, 2)
    assert (reference.mask == CELL).any()
    variants = [pinned(axis, family) for axis, family in EVERY_FAMILY]
    variants.append(with_out_of_focus(small(), 2.0))
    for config in variants:
        sample = make_sample(config, 11, 2)
        np.testing.assert_array_equal(sample.mask, reference.mask)
        np.testing.assert_array_equal(sample.cell_ids, reference.cell_ids)
        np.testing.assert_array_equal(sample.migrasome_ids, reference.migrasome_ids)
    # a generalist without a family has the same scenes as the full generalist
    full = generalist().with_acquisition(image_size_px=(96, 96))
    without = full.with_acquisition(optics={**full.confocal.optics, "widefield": 0.0})
    without = with_out_of_focus(without, 0.0)
    for index in range(3):
        a, b = make_sample(full, 5, index), make_sample(without, 5, index)
        np.testing.assert_array_equal(a.mask, b.mask)
        assert b.truth["acquisition"]["families"]["optics"] != "widefield"
    for axis, family in EVERY_FAMILY:
        if family != FAMILY_AXES[axis][0]:
            image = make_sample(pinned(axis, family), 11, 2).image
            assert not np.array_equal(image, reference.image), (axis, family)


def test_family_draws_never_move_the_images_other_draws():
    """Families draw from a child generator: the image's own generator ends in the same state."""
    plain, mixed = (
        ConfocalParams(image_size_px=(64, 64)),
        ConfocalParams(
            image_size_px=(64, 64),
            cell_styles={"punctate": 1.0, "nucleus": 1.0, "textured": 1.0},
            optics={"widefield": 1.0, "airyscan": 1.0},
            noise_models={"scmos": 1.0, "emccd": 1.0},
            fiber_styles={"marker": 1.0, "dim": 1.0},
            exposures={"standard": 1.0, "saturated": 1.0},
            autofluorescence=(0.1, 0.2),
        ),
    )
    states = []
    for params in (plain, mixed):
        rng = np.random.default_rng(np.random.SeedSequence([5, 1]))
        acq = confocal.draw_acquisition(rng, params, 0.1)
        states.append(rng.random())
    assert states[0] == states[1]
    assert acq.look.families["cell_styles"] != "membrane"
    assert acq.look.autofluorescence is not None


def test_out_of_focus_blobs_are_bright_background():
    config = small()
    plain = make_sample(config, 4, 0)
    blobs = make_sample(with_out_of_focus(config, 3.0), 4, 0)
    assert blobs.truth["distractors"]["out_of_focus"] > 0
    assert plain.truth["distractors"]["out_of_focus"] == 0
    np.testing.assert_array_equal(blobs.mask, plain.mask)
    brighter = blobs.image[0].astype(float) - plain.image[0].astype(float)
    # the blobs add light where the mask says background, well above the noise
    background = ndi.binary_erosion(plain.mask == 0, iterations=3)
    lit = background & (ndi.uniform_filter(brighter, 5) > 0.1 * plain.image.max())
    assert lit.sum() > 200


def test_nucleus_cells_are_dark_inside_yet_have_no_holes_in_the_mask():
    coarse = small(pixel_size_um=(0.25, 0.25))  # 32 µm: whole cells in 128 px
    fill = make_sample(coarse.with_acquisition(cell_styles=only("cell_styles", "fill")), 4, 0)
    styled = coarse.with_acquisition(cell_styles=only("cell_styles", "nucleus"))
    nucleus = make_sample(styled, 4, 0)  # the same fill, plus nuclei
    for cell_id in np.unique(nucleus.cell_ids[nucleus.cell_ids > 0]):
        region = nucleus.cell_ids == cell_id
        np.testing.assert_array_equal(ndi.binary_fill_holes(region), region)
    smooth = [ndi.uniform_filter(s.image[0].astype(float), 5) for s in (fill, nucleus)]
    dark = smooth[1] < 0.6 * smooth[0]
    assert dark.sum() > 100  # the nuclei are really dark in the image ...
    assert np.all(nucleus.mask[dark] != 0)  # ... and still cell (or migrasome) in the mask
    np.testing.assert_array_equal(nucleus.mask, fill.mask)


def test_choose_never_draws_a_zero_weight_and_draws_nothing_for_one_family():
    rng = np.random.default_rng(0)
    drawn = {choose(rng, {"a": 0.0, "b": 1.0, "c": 3.0}) for _ in range(300)}
    assert drawn == {"b", "c"}
    before = rng.bit_generator.state
    assert choose(rng, {"a": 0.0, "b": 2.0}) == "b"
    assert rng.bit_generator.state == before
    config = small(optics={"confocal": 0.0, "widefield": 1.0, "airyscan": 1.0})
    seen = {make_sample(config, 0, i).truth["acquisition"]["families"]["optics"] for i in range(8)}
    assert seen <= {"widefield", "airyscan"} and len(seen) == 2


def test_unknown_families_and_bad_weights_are_refused():
    with pytest.raises(ValueError, match=r"optics.*laser_sheet.*known"):
        synth_config_from_mapping({"confocal": {"optics": {"confocal": 1, "laser_sheet": 1}}})
    with pytest.raises(ValueError, match="at least one > 0"):
        synth_config_from_mapping({"confocal": {"noise_models": {"poisson_gauss": 0}}})
    with pytest.raises(ValueError, match=">= 0"):
        ConfocalParams(exposures={"standard": 1.0, "saturated": -1.0})
    with pytest.raises(ValueError, match="log_photons needs peak_photons > 0"):
        ConfocalParams(log_photons=True, peak_photons=(0.0, 100.0))
    with pytest.raises(ValueError, match="pointillist"):
        load_preset("confocal", ["+confocal.cell_styles.pointillist=1"])


def test_emccd_doubles_the_shot_noise_variance():
    acq = confocal.draw_acquisition(
        np.random.default_rng(1), ConfocalParams(image_size_px=(64, 64)), 0.1
    )
    channel = dataclasses.replace(acq.channels[0], read_noise_e=0.0, gain=1.0, offset=0.0)
    signal = np.full((256, 256), 50 / channel.peak_photons, np.float32)
    variances = {}
    for model in ("poisson_gauss", "emccd"):
        acq.look.families["noise_models"] = model
        counts = appearance.detect(np.random.default_rng(2), signal, channel, acq)
        variances[model] = counts.var() / counts.mean()
    assert variances["poisson_gauss"] == pytest.approx(1.0, rel=0.05)
    assert variances["emccd"] == pytest.approx(2.0, rel=0.05)  # excess noise factor √2


def test_saturated_exposures_clip_the_brightest_structures():
    full = 2**12 - 1
    clipped, black = {}, {}
    for exposure in ("standard", "saturated"):
        sample = make_sample(pinned("exposures", exposure), 6, 0)
        clipped[exposure] = (sample.image[0] == full).mean()
        black[exposure] = (sample.image[0] == 0).mean()
    assert clipped["standard"] == 0 and clipped["saturated"] > 0.001
    assert black["saturated"] > max(0.01, 10 * black["standard"])  # the background clips too


def test_dim_fibers_sit_near_the_noise_floor():
    sample = make_sample(pinned("fiber_styles", "dim"), 6, 0)
    channel = sample.truth["acquisition"]["channels"][0]
    assert 1.0 <= channel["fiber_snr"] <= 3.0
    assert channel["fiber"] < SynthConfig().confocal.markers["tspan4"].fiber[0]


def test_generalist_mixes_families_fast_enough_and_timelapse_works():
    config = generalist().with_acquisition(image_size_px=(128, 128))
    families = [make_sample(config, 1, i).truth["acquisition"]["families"] for i in range(12)]
    for axis in ("cell_styles", "optics", "noise_models"):
        assert len({f[axis] for f in families}) >= 2, axis
    lapse = dataclasses.replace(config, timelapse=dataclasses.replace(config.timelapse, n_frames=3))
    sample = make_sample(lapse, 2, 0)
    assert sample.image.shape[:2] == (3, 1) and sample.mask.shape[0] == 3


RANGE_FAMILIES = {  # set -> (what the set shows, what the generalist without it keeps)
    "family_out_of_focus": (
        lambda c: c.distractors.out_of_focus_per_100um2[0] > 0,
        lambda c: c.distractors.out_of_focus_per_100um2 == (0, 0),
    ),
    "family_low_photons": (
        lambda c: c.confocal.peak_photons[1] <= 20,
        lambda c: c.confocal.peak_photons[0] >= 20,
    ),
    "family_uneven_background": (
        lambda c: c.confocal.autofluorescence[0] > 0 and c.confocal.illumination_falloff[0] > 0.2,
        lambda c: (
            c.confocal.autofluorescence == (0, 0) and c.confocal.illumination_falloff[1] <= 0.2
        ),
    ),
}


def leave_out_overrides(path: Path) -> list[str]:
    """The simulator overrides of the set's documented leave-one-family-out training command."""
    line = next(x for x in path.read_text().splitlines() if "migraseg-train" in x)
    prefix = "data.synthesize.simulator."
    return [w[len(prefix) :] for w in line.split() if w.startswith(prefix)]


@pytest.mark.parametrize("path", FAMILY_SETS, ids=lambda p: p.stem)
def test_family_eval_sets_show_their_family_and_can_be_left_out(path):
    ((name, spec),) = yaml.safe_load(path.read_text()).items()
    assert name == path.stem and spec["split"] == "all"
    recipe = spec["synthesize"]
    assert recipe["preset"] == "confocal_generalist" and recipe["n"] == 24
    held_out = load_preset(recipe["preset"], recipe["overrides"])
    without = load_preset("confocal_generalist", leave_out_overrides(path))
    axis_family = re.match(r"confocal\.(\w+)=\{", recipe["overrides"][0])
    if axis_family:  # a family axis: the set draws only it, the generalist without it never
        axis = axis_family.group(1)
        weights = getattr(held_out.confocal, axis)
        (family,) = [k for k, v in weights.items() if v > 0]
        assert getattr(without.confocal, axis)[family] == 0
        assert getattr(generalist().confocal, axis)[family] > 0
        sample = make_sample(held_out.with_acquisition(image_size_px=(64, 64)), 7, 0)
        assert sample.truth["acquisition"]["families"][axis] == family
    else:  # a range: the set lies outside what the generalist without it draws
        held, left = RANGE_FAMILIES[path.stem]
        assert held(held_out) and left(without) and not left(held_out)


def test_family_eval_sets_compose_in_the_eval_config():
    names = [p.stem for p in FAMILY_SETS]
    cfg = compose_config("eval", [f"eval/sets=[{','.join(names)}]"])
    assert sorted(cfg.eval.sets) == names
    assert cfg.eval.sets.family_widefield.root.endswith("family_widefield")


def test_rasterize_ignores_appearance():
    """The mask's fiber width is the point-scanning PSF's whatever the optics."""
    sample = make_sample(pinned("optics", "airyscan"), 3, 0)
    assert sample.truth["acquisition"]["fiber_mask_width_um"] == pytest.approx(
        make_sample(small(), 3, 0).truth["acquisition"]["fiber_mask_width_um"]
    )


def test_documented_commands_compose_and_run(tmp_path):
    """docs/simulator_families.md: simulate, train without a family, evaluate on held-out sets."""
    from migraseg.cli.synth import main as synth_main
    from migraseg.data.contract import load_dataset

    args = ["--preset", "confocal_generalist", "--n", "2", "--size", "64"]
    assert synth_main([str(tmp_path / "g"), *args, "confocal.optics.widefield=0"]) == 0
    assert len(load_dataset(tmp_path / "g").samples) == 2
    leave_out = "data.synthesize.simulator.confocal.optics.widefield=0"
    cfg = compose_config(
        "train", ["data/synth=confocal_generalist", leave_out, f"data.root={tmp_path / 'nw'}"]
    )
    config = synth_config_from_mapping(cfg.data.synthesize.simulator)
    assert config.confocal.optics["widefield"] == 0 and config.preset == "confocal_generalist"
    cfg = compose_config("eval", ["eval/sets=[family_widefield,family_nucleus]"])
    assert set(cfg.eval.sets) == {"family_widefield", "family_nucleus"}


def test_family_gallery_script_renders_one_mask_under_every_family():
    import importlib.util

    script = Path(__file__).parents[1] / "scripts" / "make_family_gallery.py"
    spec = importlib.util.spec_from_file_location("make_family_gallery", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sheet = module.family_sheet(seed=4, size=48, image_px=96)  # raises if a mask changed
    rows = len(module.family_rows())
    assert sheet.ndim == 3 and sheet.shape[0] > rows * 48
    mixed = module.generalist_sheet(seed=0, image_px=64, n=4, per_row=2)
    assert mixed.shape[1] > 2 * 32 and mixed.shape[0] > 2 * 32


def test_widefield_haze_lights_the_background_beside_cells():
    config = small(peak_photons=(400.0, 400.0))
    images = {
        optics: make_sample(config.with_acquisition(optics=only("optics", optics)), 11, 2)
        for optics in ("confocal", "widefield")
    }
    mask = images["confocal"].mask
    beside = ndi.binary_dilation(mask == CELL, iterations=15)
    near = beside & ~ndi.binary_dilation(mask > 0, iterations=3)
    assert near.sum() > 100
    level = {k: float(np.median(s.image[0][near])) for k, s in images.items()}
    assert level["widefield"] > level["confocal"] * 1.2


def test_scmos_columns_carry_a_fixed_offset_pattern():
    params = ConfocalParams(image_size_px=(256, 256), noise_models=only("noise_models", "scmos"))
    acq = confocal.draw_acquisition(np.random.default_rng(3), params, 0.1)
    channel = dataclasses.replace(
        acq.channels[0], gain=1.0, offset=100.0, background_photons=0.5, read_noise_e=1.0
    )
    dark = np.zeros((256, 256), np.float32)

    def column_means(model: str, seed: int) -> np.ndarray:
        acq.look.families["noise_models"] = model
        return appearance.detect(np.random.default_rng(seed), dark, channel, acq).mean(axis=0)

    scmos, plain = column_means("scmos", 4), column_means("poisson_gauss", 4)
    assert scmos.std() > 2 * plain.std()
    assert np.corrcoef(scmos, column_means("scmos", 5))[0, 1] > 0.5  # the same in every frame
