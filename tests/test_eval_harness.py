"""The harness end to end on the tiny dataset: label-folder models, paired comparison, report."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from migraseg.data.contract import load_dataset
from migraseg.data.truth import read_truth
from migraseg.evaluation.figures import foreground_box
from migraseg.evaluation.harness import EvaluationSettings, evaluate
from migraseg.evaluation.pipeline import run_evaluation
from migraseg.evaluation.sets import EvalSet, ensure_synthesized, set_from_path
from migraseg.evaluation.sources import LabelFolderSource, model_kind, name_models
from migraseg.io import write_tiff

FAST = EvaluationSettings(n_bootstrap=200, progress=False)


def write_predictions(dataset: Path, out: Path, drop_one_migrasome: bool, empty=False) -> Path:
    """Truth masks as predictions, optionally with the first migrasome of each image erased,
    or nothing at all (``empty``)."""
    for record in load_dataset(dataset).samples.values():
        truth = read_truth(record)
        labels = truth.labels * (not empty)
        if drop_one_migrasome and truth.migrasome_ids.max() > 0:
            first = (
                truth.migrasome_ids == np.unique(truth.migrasome_ids[truth.migrasome_ids > 0])[0]
            )
            labels[first] = 0
        write_tiff(out / f"{record.stem}_labels.tif", labels, record.pixel_size_um)
    return out


@pytest.fixture(scope="module")
def folders(tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("predictions")
    return {
        "perfect": write_predictions(tiny_dataset, root / "perfect", False),
        "dropped": write_predictions(tiny_dataset, root / "dropped", True),
        "empty": write_predictions(tiny_dataset, root / "empty", False, empty=True),
    }


@pytest.fixture(scope="module")
def run(tiny_dataset, folders, tmp_path_factory):
    """Three label-folder models on two sets (all images; test split only), with the report."""
    sets = [EvalSet("tiny_all", tiny_dataset, "all"), set_from_path(tiny_dataset, "test")]
    models = {name: str(folder) for name, folder in folders.items()}
    out = tmp_path_factory.mktemp("eval")
    return run_evaluation(models, sets, out, FAST, report=True)


def test_truth_as_prediction_scores_perfectly(run):
    perfect = run.metrics["sets"]["tiny_all"]["models"]["perfect"]
    head = perfect["headline"]
    assert head["cell.dice"] == head["migrasome.f1@0.5"] == head["retraction_fiber.cldice"] == 1
    assert head["migrasome.count_mae"] == 0 and head["migrasome.diameter_rel_err_median"] < 0.02
    assert perfect["ci95"]["migrasome.f1@0.5"] == [1.0, 1.0]
    assert perfect["classes"]["migrasome"]["f1@0.5:0.95"] > 0.95
    # the simulator writes cells/; touching cells merge into one instance decoded from labels
    assert perfect["classes"]["cell"]["instance_f1@0.5"] > 0.8
    assert len(perfect["per_image"]) == 6


def test_dropping_one_migrasome_per_image_shows_in_every_number(run):
    result = run.metrics["sets"]["tiny_all"]
    dropped = result["models"]["dropped"]
    with_migrasomes = sum(r["migrasome"]["n_true"] > 0 for r in dropped["per_image"])
    mig = dropped["classes"]["migrasome"]
    assert mig["precision@0.5"] == 1.0 and mig["recall@0.5"] < 1.0
    assert mig["n_true"] - mig["n_pred"] == with_migrasomes
    assert mig["count_bias"] == pytest.approx(-with_migrasomes / 6)
    assert result["reference"] == "perfect"  # no classical model: the first model
    delta = result["comparison"]["dropped"]["migrasome.f1@0.5"]
    assert delta["delta"] < 0 and delta["ci95"][1] < 0
    assert "dropped is worse than perfect" in result["verdict"]


def test_a_model_that_finds_nothing_scores_zero_without_breaking_anything(run):
    saved = json.loads(run.metrics_path.read_text())
    head = saved["sets"]["tiny_all"]["models"]["empty"]["headline"]
    assert head["cell.dice"] == head["migrasome.f1@0.5"] == head["migrasome.recall@0.5"] == 0
    assert head["migrasome.precision@0.5"] is None  # nothing predicted: undefined, not 0
    assert head["migrasome.diameter_rel_err_median"] is None  # no matched pairs
    assert head["migrasome.count_mae"] > 0


def test_metrics_json_lists_models_sets_and_settings(run):
    saved = json.loads(run.metrics_path.read_text())
    assert saved["schema_version"] == 2
    assert set(saved["sets"]) == {"tiny_all", "tiny/test"}
    assert saved["sets"]["tiny/test"]["n_images"] == 1
    assert saved["models"]["perfect"]["kind"] == "label_folder"
    assert saved["settings"]["fiber_tolerance_um"] == 0.25


def test_report_has_verdicts_tables_and_every_figure(run):
    md_path, html_path = run.report_paths
    md, page = md_path.read_text(), html_path.read_text()
    assert md.index("## Verdict") < md.index("## Set tiny_all")
    for result in run.metrics["sets"].values():
        assert result["verdict"] in md and result["verdict"].split(":")[0] in page
    images = [line[line.index("(") + 1 : -1] for line in md.splitlines() if line.startswith("![")]
    closeups = [name for name in images if name.endswith("_closeups.png")]
    assert len(images) - len(closeups) == 2 * (3 + 3 * 2)  # per set: 3 plots + best/worst each
    # close-ups of each worst image with errors: a model that finds nothing errs everywhere
    assert "figures/tiny_all_empty_worst_closeups.png" in closeups
    assert not any("_perfect_" in name for name in closeups)
    for name in images:
        assert (md_path.parent / name).stat().st_size > 1000 and f"src='{name}'" in page


def test_report_shows_the_bar_defines_each_metric_and_gives_percentages(run):
    from migraseg.evaluation.report import DEFINITIONS, REPORT_HEADLINE

    md = run.report_paths[0].read_text()
    verdict = md[md.index("## Verdict") : md.index("## Models")]
    assert "| migrasome F1@0.5 | ≥ 0.90 |" in verdict and "| count error | ≤ 10% |" in verdict
    assert "| cell Dice | ≥ 0.90 |" in verdict and "fewer than 20 true objects" in verdict
    first_table = md.index("### Headline metrics")
    for key in REPORT_HEADLINE:  # defined at the bar (verdict) or the headline table
        assert 0 <= md.find(DEFINITIONS[key]) < md.index("### All metrics"), key
    assert md.find(DEFINITIONS["migrasome.f1@0.5"]) < first_table  # at the bar, first
    rows = {line.split(" | ")[0]: line for line in md.splitlines() if line.startswith("| ")}
    diameter = rows["| diameter error, median (relative)"]
    assert diameter.count("%") >= 2 and " pp (" in diameter  # value and Δ in percentage points
    assert "%" in rows["| migrasome: count error (relative)"]
    assert "6 simulated images (migraseg simulator) from" in md
    assert run.metrics["sets"]["tiny_all"]["simulated"] is True


def test_a_class_with_too_few_objects_gets_a_caveat_not_a_verdict(run):
    from migraseg.evaluation.verdict import caveats, class_support

    for result in run.results:
        rows = result.models["perfect"].rows
        unjudged = caveats(rows, 20)
        migrasomes = class_support(rows)["migrasome"][0]
        assert ("migrasome" in unjudged) == (migrasomes < 20)
        assert "simulated image" in result.verdict
        for reason in unjudged.values():
            assert reason in result.verdict
        if "migrasome" in unjudged:
            assert "No verdict on counting and sizing: only" in result.verdict
            assert "good enough" not in result.verdict.lower()
    # one image cannot hold 20 migrasomes here: no verdict, only the caveat
    single = next(r for r in run.results if r.eval_set.name == "tiny/test")
    assert "No verdict" in single.verdict
    # a class absent from most images is not judged either
    (row,) = single.models["perfect"].rows
    no_fiber = replace(row, counts=[[0, 0, 0] if k == 2 else c for k, c in enumerate(row.counts)])
    reasons = caveats([no_fiber, no_fiber, row], min_objects=1)
    assert reasons == {"retraction_fiber": "retraction fibers in only 1 of 3 images"}


def test_figures_have_round_scale_bars_and_close_ups_where_errors_are():
    from migraseg.evaluation.figures import error_windows, scale_bar_um

    assert scale_bar_um(51.2) == 10 and scale_bar_um(12.8) == 2 and scale_bar_um(0.9) == 0.1
    truth = np.zeros((200, 300), np.uint8)
    truth[150:153, 20:60] = 2  # a 3 px fiber, missed
    truth[10:14, 250:254] = 3  # a small migrasome, missed
    pred = np.zeros_like(truth)
    first, second = error_windows(truth, pred, size=64)
    assert (first[0].start, first[1].start) == (119, 8)  # centred on the fiber: most wrong pixels
    assert (second[0].start, second[1].start) == (0, 220)  # the migrasome, at the image's edge
    assert error_windows(truth, truth, size=64) == []


def test_missing_or_malformed_predictions_are_named(tiny_dataset, tmp_path):
    sets = [EvalSet("tiny", tiny_dataset, "test")]
    stem = load_dataset(tiny_dataset).split("test")[0].stem
    with pytest.raises(FileNotFoundError, match=f"no prediction for {stem}"):
        evaluate({"empty": LabelFolderSource(tmp_path)}, sets, FAST)
    write_tiff(tmp_path / f"{stem}.tif", np.full((128, 128), 7, np.uint8), 0.2)
    with pytest.raises(ValueError, match=rf"{stem}\.tif: expected a Y×X label image"):
        evaluate({"bad": LabelFolderSource(tmp_path)}, sets, FAST)
    write_tiff(tmp_path / f"{stem}.tif", np.zeros((64, 64), np.uint8), 0.2)
    with pytest.raises(ValueError, match=r"prediction shape \(64, 64\) != truth shape"):
        evaluate({"small": LabelFolderSource(tmp_path)}, sets, FAST)


def test_model_specs_and_names(tmp_path):
    assert model_kind("classical") == "classical" and model_kind(str(tmp_path)) == "folder"
    assert model_kind("run/checkpoints/last.ckpt") == "network"
    with pytest.raises(ValueError, match=r"model 'weights\.h5': expected a \.ckpt"):
        model_kind("weights.h5")
    names = name_models(
        ["runs/a/model.pt", "runs/b/model.pt", "x/checkpoints/last.ckpt", "classical"]
    )
    assert list(names) == ["a", "b", "x", "classical"]
    assert list(name_models(["m/model.pt", "m/model.pt"])) == ["m", "m_2"]


def test_model_files_are_named_after_their_training_run(tmp_path):
    import zipfile

    run = tmp_path / "outputs" / "2026-11-29" / "14-01-20"
    (run / "checkpoints").mkdir(parents=True)
    (run / ".hydra").mkdir()
    choices = "hydra:\n  runtime:\n    choices:\n      experiment: tem\n      data: x\n"
    (run / ".hydra" / "hydra.yaml").write_text(choices)
    best, last = run / "checkpoints" / "epoch011-dice0.4630.ckpt", run / "checkpoints" / "last.ckpt"
    best.write_bytes(b"")
    last.write_bytes(b"")
    names = name_models([str(best), str(last)])
    assert list(names) == ["tem 2026-11-29 14:01", "tem 2026-11-29 14:01_2"]
    # a copied model.pt carries its run in its metadata (read from the zip, no torch)
    lone = tmp_path / "shared" / "model.pt"
    lone.parent.mkdir()
    with zipfile.ZipFile(lone, "w") as archive:
        meta = {"experiment": "quickstart", "created": "2026-11-28T09:30:05"}
        archive.writestr("model/extra/meta.json", json.dumps(meta))
    assert list(name_models([str(lone)])) == ["quickstart 2026-11-28 09:30"]
    # no experiment: "run" and the date the resolved config was written
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config_resolved.yaml").write_text("seed: 0\n")
    (plain / "model.pt").write_bytes(b"not a zip")
    (name,) = name_models([str(plain / "model.pt")])
    assert name.startswith("run 20") and len(name) == len("run 2026-11-29 14:01")


def test_sets_must_be_unique_and_a_recipe_simulates_a_missing_set(tiny_dataset, tmp_path):
    with pytest.raises(ValueError, match="set names must be unique"):
        evaluate({}, [EvalSet("a", tiny_dataset), EvalSet("a", tiny_dataset)], FAST)
    small = ["confocal.image_size_px=[64,64]", "confocal.pixel_size_um=[0.25,0.25]"]
    recipe = {"preset": "shifted", "n": 2, "seed": 3, "overrides": small}
    shifted = EvalSet("shifted", tmp_path / "shifted", "all", recipe)
    ensure_synthesized(shifted)
    spec = load_dataset(shifted.root)
    assert len(spec.samples) == 2 and spec.pixel_size_um == 0.25
    assert read_truth(next(iter(spec.samples.values()))).labels.shape == (64, 64)
    ensure_synthesized(shifted)  # cached: nothing to do
    other = EvalSet("shifted", shifted.root, "all", {**recipe, "seed": 4})
    with pytest.raises(ValueError, match="made with other settings"):
        ensure_synthesized(other)


def test_overlays_zoom_on_the_labelled_region():
    labels = np.zeros((100, 200), np.uint8)
    labels[20:30, 40:45] = 1
    other = np.zeros_like(labels)
    other[50, 150] = 3
    box = foreground_box(labels, other)
    assert (box[0].start, box[0].stop) == (15, 56) and (box[1].start, box[1].stop) == (30, 161)
    assert foreground_box(np.zeros_like(labels)) == (slice(None), slice(None))


def test_shortfalls_name_each_missed_criterion_without_ties_in_print():
    from migraseg.evaluation.verdict import VerdictThresholds, shortfalls

    bar = VerdictThresholds()
    values = {
        "migrasome.f1@0.5": 0.83,
        "migrasome.count_rel_err": bar.max_count_rel_err + 0.004,  # prints as the bar at .0%
        "migrasome.diameter_rel_err_median": 0.01,
        "retraction_fiber.cldice": float("nan"),  # class absent: never a shortfall
        "cell.dice": 0.99,
    }
    missed = shortfalls(values, bar)
    assert missed[0] == f"migrasome F1@0.5 0.83 < {bar.min_migrasome_f1:.2f}"
    assert (
        missed[1]
        == f"count error {values['migrasome.count_rel_err']:.1%} > {bar.max_count_rel_err:.0%}"
    )
    assert len(missed) == 2


def test_report_states_many_pixel_sizes_as_a_range():
    from migraseg.evaluation.report import pixel_sizes

    assert pixel_sizes([0.1]) == "0.1 µm"
    assert pixel_sizes([0.0709848, 0.08, 0.1, 0.137798]) == "0.071–0.138 µm (4 values)"
