"""TEM appearance families: each preparation renders, the masks ignore it, weights are obeyed."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from migraseg.constants import MIGRASOME
from migraseg.synth.generator import make_sample
from migraseg.synth.params import TEM_PREPARATIONS, SynthConfig, synth_config_from_mapping
from migraseg.synth.presets import load_preset
from migraseg.synth.tem import pick_preparation

from .conftest import compose_config

SIZE = 128


def only(preparation: str, preset: str = "tem_generalist") -> SynthConfig:
    """The preset at 128² and 20 nm/px, drawing only ``preparation``."""
    config = load_preset(preset)
    weights = {name: float(name == preparation) for name in TEM_PREPARATIONS}
    tem = replace(
        config.tem, image_size_px=(SIZE, SIZE), pixel_size_um=(0.02, 0.02), preparations=weights
    )
    return replace(config, tem=tem)


def migrasome_samples(config: SynthConfig, n: int = 6):
    """Samples (seed 3) whose frame holds a migrasome of at least 200 pixels."""
    samples = [make_sample(config, 3, i) for i in range(n)]
    return [s for s in samples if (s.mask == MIGRASOME).sum() >= 200]


@pytest.mark.parametrize("preparation", TEM_PREPARATIONS)
def test_each_preparation_renders_and_is_recorded(preparation):
    for index in range(2):
        sample = make_sample(only(preparation), 1, index)
        assert sample.image.shape == (1, SIZE, SIZE)
        assert sample.image.dtype in (np.uint8, np.uint16)
        assert sample.image.std() > 0
        assert sample.truth["acquisition"]["preparation"] == preparation


def test_masks_are_the_same_whatever_the_preparation():
    for index in range(3):
        samples = [make_sample(only(p), 4, index) for p in TEM_PREPARATIONS]
        for other in samples[1:]:
            for field in ("mask", "migrasome_ids", "cell_ids"):
                np.testing.assert_array_equal(getattr(samples[0], field), getattr(other, field))
        assert not np.array_equal(samples[0].image, samples[1].image)


@pytest.mark.parametrize("preparation", TEM_PREPARATIONS)
def test_cells_are_filled_regions(preparation):
    with_cells = 0
    for index in range(4):
        sample = make_sample(only(preparation), 5, index)
        cells = sample.cell_ids > 0
        with_cells += cells.sum() > 500
        assert np.array_equal(ndi.binary_fill_holes(cells), cells)
    assert with_cells


def test_thin_section_migrasomes_are_dark_outlines_around_a_light_lumen():
    samples = migrasome_samples(only("thin_section"))
    assert samples
    for sample in samples:
        image, ids = sample.image[0].astype(float), sample.migrasome_ids
        inside = ids > 0
        rim = inside & ~ndi.binary_erosion(inside, iterations=2)
        lumen = ndi.binary_erosion(inside, iterations=4)
        if lumen.sum() > 50:
            assert np.median(image[rim]) < np.median(image[lumen])


def test_negative_stain_objects_are_lighter_than_the_stain_around_them():
    samples = migrasome_samples(only("negative_stain"))
    assert samples
    for sample in samples:
        image, inside = sample.image[0].astype(float), sample.mask == MIGRASOME
        core = ndi.binary_erosion(inside, iterations=3)
        background = sample.mask == 0
        assert np.median(image[core]) > np.median(image[background])


def test_whole_mount_migrasomes_stay_dark_discs():
    samples = migrasome_samples(only("whole_mount", "tem"))
    assert samples
    for sample in samples:
        image, inside = sample.image[0].astype(float), sample.mask == MIGRASOME
        assert np.median(image[inside]) < np.median(image[sample.mask == 0])


def test_a_weight_of_zero_is_never_drawn():
    rng = np.random.default_rng(0)
    weights = {"whole_mount": 0.0, "thin_section": 1.0, "negative_stain": 3.0}
    picks = [pick_preparation(rng, weights) for _ in range(400)]
    assert "whole_mount" not in picks
    assert 0.15 < picks.count("thin_section") / len(picks) < 0.35
    config = only("thin_section")
    config = replace(config, tem=replace(config.tem, preparations=weights))
    drawn = {make_sample(config, 2, i).truth["acquisition"]["preparation"] for i in range(6)}
    assert drawn <= {"thin_section", "negative_stain"}


def test_a_single_preparation_draws_nothing():
    """So the ``tem`` preset (whole mount only) renders the images it rendered before."""
    rng = np.random.default_rng(7)
    state = rng.bit_generator.state
    assert pick_preparation(rng, {"whole_mount": 1.0, "thin_section": 0.0}) == "whole_mount"
    assert rng.bit_generator.state == state


def test_bad_preparations_are_refused():
    bad_weights = (
        {"cryo": 1.0},
        {"whole_mount": 0.0},
        {"whole_mount": -1.0, "thin_section": 2.0},
        {"whole_mount": "heavy"},
    )
    for bad in bad_weights:
        with pytest.raises(ValueError, match="preparations"):
            synth_config_from_mapping({"modality": "tem", "tem": {"preparations": bad}})


def test_generalist_preset_and_leaving_one_family_out():
    config = load_preset("tem_generalist")
    assert config.preset == "tem_generalist" and config.modality == "tem"
    assert all(config.tem.preparations[p] > 0 for p in TEM_PREPARATIONS)
    assert config.tem.pixel_size_um == (0.002, 0.025)
    without = load_preset("tem_generalist", ["tem.preparations.thin_section=0"])
    assert without.tem.preparations["thin_section"] == 0
    assert without.tem.preparations["negative_stain"] > 0
    assert load_preset("tem").tem.preparations["whole_mount"] == 1.0
    assert sum(load_preset("tem").tem.preparations.values()) == 1.0
    cfg = compose_config(
        "train",
        [
            "experiment=tem",
            "data/synth=tem_generalist",
            "data.synthesize.simulator.tem.preparations.negative_stain=0",
        ],
    )
    assert cfg.data.root.endswith("synthetic_tem_generalist")
    assert cfg.data.synthesize.simulator.tem.preparations.negative_stain == 0


@pytest.mark.parametrize("family", TEM_PREPARATIONS)
def test_family_eval_sets_hold_only_their_family(family):
    name = f"tem_family_{family}"
    cfg = compose_config("eval", [f"eval/sets=[{name}]"])
    recipe = cfg.eval.sets[name].synthesize
    assert recipe.n == 24 and recipe.seed == 7
    config = load_preset(recipe.preset, list(recipe.overrides))
    weights = config.tem.preparations
    assert {p for p, w in weights.items() if w > 0} == {family}
    assert config.tem.pixel_size_um[0] >= 0.018 and config.tem.pixel_size_um[1] <= 0.022
    small = replace(config, tem=replace(config.tem, image_size_px=(64, 64)))
    assert make_sample(small, 7, 0).truth["acquisition"]["preparation"] == family


def test_documented_commands_run(tmp_path):
    """docs/simulator_tem_families.md: the synth and gallery commands (small), the training and
    evaluation commands composed."""
    from migraseg.cli.synth import main as synth_main
    from migraseg.data.contract import load_dataset

    small = ["--n", "1", "--size", "64"]
    assert synth_main([str(tmp_path / "gen"), "--preset", "tem_generalist", *small]) == 0
    thin = ["tem.preparations.whole_mount=0", "tem.preparations.negative_stain=0"]
    assert synth_main([str(tmp_path / "thin"), "--preset", "tem_generalist", *small, *thin]) == 0
    truth = json.loads(next((tmp_path / "thin" / "truth").glob("*.json")).read_text())
    assert truth["acquisition"]["preparation"] == "thin_section"
    assert load_dataset(tmp_path / "gen").modality == "tem"
    train = compose_config(
        "train",
        [
            "experiment=tem",
            "data/synth=tem_generalist",
            "data.synthesize.simulator.tem.preparations.thin_section=0",
            "data.root=data/tem_without_thin_section",
        ],
    )
    assert synth_config_from_mapping(train.data.synthesize.simulator).tem.preparations == {
        "whole_mount": 1.0,
        "thin_section": 0.0,
        "negative_stain": 1.0,
    }
    sets = [f"tem_family_{p}" for p in ("thin_section", "negative_stain", "whole_mount")]
    cfg = compose_config("eval", ["models=[x.pt,classical]", f"eval/sets=[{','.join(sets)}]"])
    assert list(cfg.eval.sets) == sets
    script = Path(__file__).parents[1] / "scripts" / "make_tem_gallery.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path / "g"), "--size", "64"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "g" / "gallery_tem_families.png").stat().st_size > 1000


def test_training_simulates_the_generalist_preset(tmp_path):
    """Hydra hands the simulator a DictConfig: the weights must become a plain dict."""
    from hydra.utils import instantiate

    from migraseg.data.contract import load_dataset

    cfg = compose_config(
        "train",
        [
            "experiment=tem",
            "data/synth=tem_generalist",
            f"data.root={tmp_path / 'ds'}",
            "data.synthesize.n=3",
            "data.synthesize.workers=1",
            "data.synthesize.simulator.tem.image_size_px=[64,64]",
            "data.synthesize.simulator.tem.preparations.whole_mount=0",
        ],
    )
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    spec = load_dataset(tmp_path / "ds")
    assert spec.modality == "tem" and len(spec.samples) == 3
    datamodule.prepare_data()  # cached and matching: nothing to do
    drawn = {
        json.loads(path.read_text())["acquisition"]["preparation"]
        for path in (tmp_path / "ds" / "truth").glob("*.json")
    }
    assert drawn <= {"thin_section", "negative_stain"}
