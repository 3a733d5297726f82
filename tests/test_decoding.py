"""Migrasome decoding: dropping objects the network is unsure of, and tuning the decoding of a
model on held-out images."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
import torch
import yaml
from omegaconf import open_dict
from skimage.draw import disk

from migraseg.cli import predict as predict_cli
from migraseg.constants import BACKGROUND, FIBER, MIGRASOME
from migraseg.data.contract import image_to_cyx, load_dataset, write_dataset_yaml
from migraseg.data.synthetic import write_synthetic_dataset
from migraseg.data.truth import read_truth
from migraseg.inference.loading import load_checkpoint_model, load_torchscript_model, model_path
from migraseg.inference.predictor import Predictor
from migraseg.inference.settings import PredictSettings
from migraseg.io import read_image
from migraseg.metrics.objects import match_instances
from migraseg.postprocess import drop_unsure, migrasome_instances, settle_migrasomes
from migraseg.synth.generator import make_sample
from migraseg.synth.presets import load_preset
from migraseg.training import decoding
from migraseg.training.decoding import (
    held_out,
    set_checkpoint_postprocess,
    tune_decoding,
    tune_run_decoding,
)
from migraseg.training.run import train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # the scripts tested

POST = {"min_diameter_um": 0.4, "split_h_um": 0.1, "min_score": 0.7}


def two_migrasomes() -> tuple[np.ndarray, np.ndarray]:
    """Labels with two migrasome discs on a fiber; the network is sure of the left one only."""
    labels = np.zeros((40, 80), np.uint8)
    labels[19:21] = FIBER
    probability = np.zeros(labels.shape, np.float32)
    for cx, p in ((20, 0.95), (60, 0.55)):
        rr, cc = disk((20, cx), 6)
        labels[rr, cc] = MIGRASOME
        probability[rr, cc] = p
    return labels, probability


def test_unsure_objects_are_dropped_and_the_rest_renumbered():
    labels, probability = two_migrasomes()
    ids = migrasome_instances(labels, 0.1, 0.4, 0.1)
    assert ids.max() == 2
    kept = drop_unsure(ids, probability, 0.7)
    assert kept.max() == 1 and kept[20, 20] == 1 and kept[20, 60] == 0
    as_uint8 = drop_unsure(ids, (probability * 255).round().astype(np.uint8), 0.7)
    assert np.array_equal(as_uint8, kept)
    assert np.array_equal(drop_unsure(ids, probability, 0.5), ids)


def test_settling_erases_dropped_objects_from_the_labels():
    labels, probability = two_migrasomes()
    before = labels.copy()
    ids = settle_migrasomes(labels, probability, 0.1, POST)
    assert ids.max() == 1
    assert labels[20, 60] == BACKGROUND and labels[20, 20] == MIGRASOME
    assert np.array_equal(labels[before != MIGRASOME], before[before != MIGRASOME])
    # a model's metadata from before min_score keeps every object
    labels, probability = two_migrasomes()
    ids = settle_migrasomes(labels, probability, 0.1, {"min_diameter_um": 0.4, "split_h_um": 0.1})
    assert ids.max() == 2 and np.array_equal(labels, before)


def test_a_score_threshold_without_probabilities_is_refused():
    labels, _ = two_migrasomes()
    with pytest.raises(ValueError, match=r"min_score=0\.7 needs the migrasome probability"):
        migrasome_instances(labels, 0.1, 0.4, 0.1, min_score=0.7)
    with pytest.raises(ValueError, match=r"min_probability=0\.3 needs the migrasome probab"):
        migrasome_instances(labels, 0.1, 0.4, 0.1, min_probability=0.3)


def dim_migrasome() -> tuple[np.ndarray, np.ndarray]:
    """A fiber with a migrasome the network half sees: probability 0.35 on its disc, with
    background likelier (0.65), so the likeliest class misses it."""
    labels = np.zeros((40, 80), np.uint8)
    labels[19:21] = FIBER
    probability = np.zeros(labels.shape, np.float32)
    rr, cc = disk((20, 40), 6)
    probability[rr, cc] = 0.35
    return labels, probability


def test_min_probability_finds_what_the_likeliest_class_misses():
    labels, probability = dim_migrasome()
    assert migrasome_instances(labels, 0.1, 0.4, 0.1, probability=probability).max() == 0
    ids = migrasome_instances(labels, 0.1, 0.4, 0.1, probability=probability, min_probability=0.3)
    assert ids.max() == 1 and (ids > 0).sum() == (probability > 0).sum()
    as_uint8 = (probability * 255).round().astype(np.uint8)
    found = migrasome_instances(labels, 0.1, 0.4, 0.1, probability=as_uint8, min_probability=0.3)
    assert np.array_equal(found, ids)
    # the labels agree with the objects: the disc becomes migrasome, the fiber around it stays
    post = {**POST, "min_probability": 0.3, "min_score": 0.3}
    ids = settle_migrasomes(labels, probability, 0.1, post)
    assert ids.max() == 1 and labels[20, 40] == MIGRASOME and labels[19, 5] == FIBER
    # an object it adds but is not sure enough of is dropped, and its pixels keep their class
    labels, probability = dim_migrasome()
    before = labels.copy()
    ids = settle_migrasomes(labels, probability, 0.1, {**post, "min_score": 0.5})
    assert ids.max() == 0 and np.array_equal(labels, before)


@pytest.fixture(scope="module")
def held_out_images(tmp_path_factory):
    """Six simulated 192² images of the shipped confocal model's kind, half held out as val."""
    config = load_preset("confocal_generalist", ["confocal.image_size_px=[192,192]"])
    root = write_synthetic_dataset(
        tmp_path_factory.mktemp("decoding") / "set", n=6, seed=5, config=config
    )
    info = yaml.safe_load((root / "dataset.yaml").read_text())
    stems = sorted(p.stem for p in (root / "images").glob("*.tif"))
    info["splits"] = {"train": stems[:3], "val": stems[3:] + stems[:1], "test": []}
    write_dataset_yaml(root, info)
    return load_dataset(root)


def pooled_f1(predictor: Predictor, records) -> float:
    tp = n = 0
    for record in records:
        array, info = read_image(record.image_path)
        image = image_to_cyx(array, info["axes"])
        pred = predictor.predict(image.astype(np.float32), record.pixel_size_um)
        match = match_instances(read_truth(record).migrasome_ids, pred.migrasome_ids)
        tp, n = tp + match.tp, n + match.n_pred + match.n_true
    return 2 * tp / n


def test_tuning_picks_the_best_pair_and_predictions_decode_as_tuned(held_out_images):
    spec = held_out_images
    records = held_out(spec.split("val"), spec.split("train"))
    assert [r.stem for r in records] == spec.splits["val"][:3]  # the trained image is left out
    predictor = Predictor.from_path(model_path("confocal"), backend="torch", device="cpu")
    choice = tune_decoding(predictor, records, min_true_objects=5)
    assert choice is not None and choice.n_images == 3
    best = max(row["f1"] for row in choice.table)
    assert best - decoding.F1_TOLERANCE <= choice.f1 <= best
    post = choice.postprocess
    stricter = [r for r in choice.table if r["min_probability"] > post["min_probability"]]
    assert all(r["f1"] < best - decoding.F1_TOLERANCE for r in stricter)
    same = [r for r in choice.table if r["min_probability"] == post["min_probability"]]
    best_here = max(r["f1"] for r in same)
    lower = [r for r in same if r["min_score"] < post["min_score"]]
    assert all(r["f1"] < best_here - decoding.F1_TOLERANCE for r in lower)
    assert choice.f1_before == pytest.approx(pooled_f1(predictor, records))
    tuned = replace(predictor.meta, postprocess=choice.postprocess)
    predictor.meta = tuned
    assert pooled_f1(predictor, records) == pytest.approx(choice.f1)
    assert tune_decoding(predictor, records, min_true_objects=10_000) is None


def test_the_choice_is_stored_in_the_checkpoint(tmp_path):
    net, meta = load_checkpoint_model(model_path("confocal"))
    checkpoint = tmp_path / "run.ckpt"
    weights = {f"net.{k}": v for k, v in net.state_dict().items()}
    torch.save({"hyper_parameters": {"meta": meta.to_dict()}, "state_dict": weights}, checkpoint)
    post = {**meta.postprocess, "split_h_um": 0.042, "min_score": 0.85}
    set_checkpoint_postprocess(checkpoint, post)
    assert load_checkpoint_model(checkpoint)[1].postprocess == post


@pytest.mark.slow
def test_training_tunes_its_decoding_before_export(train_cfg, monkeypatch):
    monkeypatch.setattr(decoding, "MIN_TRUE_OBJECTS", 1)  # the tiny val image holds a few
    with open_dict(train_cfg):
        train_cfg.evaluate = False
    result = train(train_cfg)
    out = Path(result["output_dir"])
    chosen = json.loads((out / "decoding.json").read_text())
    assert result["decoding"] == chosen["postprocess"]
    assert set(chosen["postprocess"]) == {
        "min_diameter_um",
        "split_h_um",
        "min_score",
        "min_probability",
    }
    grid = (decoding.MIN_PROBABILITIES, decoding.SPLIT_H_PX, decoding.MIN_SCORES)
    assert len(chosen["table"]) == np.prod([len(values) for values in grid])
    assert load_checkpoint_model(Path(result["checkpoint"]))[1].postprocess == result["decoding"]
    assert load_torchscript_model(Path(result["model_path"]))[1].postprocess == result["decoding"]


def test_a_validation_split_of_training_images_keeps_the_decoding(held_out_images, tmp_path):
    stems = sorted(held_out_images.samples)[:2]
    spec = replace(held_out_images, splits={"train": stems, "val": stems})
    checkpoint = tmp_path / "never_read.ckpt"
    assert tune_run_decoding(checkpoint, spec, PredictSettings(), tmp_path) is None
    assert not (tmp_path / "decoding.json").exists()


def test_the_script_writes_a_tuned_copy_of_a_model(held_out_images, tmp_path, monkeypatch):
    import tune_decoding as script

    monkeypatch.setattr(script, "MIN_TRUE_OBJECTS", 5)
    out = tmp_path / "tuned" / "confocal.ckpt"
    args = ["confocal", str(held_out_images.root), "--split", "val", "--out", str(out)]
    assert script.main([*args, "--device", "cpu"]) == 0
    report = json.loads(out.with_name("confocal.ckpt.decoding.json").read_text())
    assert load_checkpoint_model(out)[1].postprocess == report["postprocess"]
    assert load_checkpoint_model(model_path("confocal"))[1].postprocess != report["postprocess"]


@pytest.mark.slow
def test_a_model_ships_with_a_tuned_decoding(tmp_path):
    import ship_pretrained

    post = {"min_diameter_um": 0.4, "split_h_um": 0.042, "min_score": 0.85}
    (tmp_path / "decoding.json").write_text(json.dumps({"postprocess": post}))
    args = [str(model_path("confocal")), "--name", "confocal", "--out", str(tmp_path)]
    assert ship_pretrained.main([*args, "--decoding", str(tmp_path / "decoding.json")]) == 0
    assert load_checkpoint_model(tmp_path / "confocal.ckpt")[1].postprocess == post
    card = (tmp_path / "confocal.md").read_text()
    assert "max probability change 0.00e+00; 0.00e+00 of pixels change class" in card


def test_predicted_labels_tables_and_scores_agree(tmp_path):
    """migraseg-predict with the shipped model (its min_score > 0): every migrasome left in the
    label image is a table row, and every row's score reaches the threshold."""
    config = load_preset("confocal_generalist", ["confocal.image_size_px=[192,192]"])
    sample = make_sample(config, seed=4, index=0)
    images = tmp_path / "images"
    images.mkdir()
    size = sample.pixel_size_um
    tifffile.imwrite(
        images / "a.tif",
        sample.image.astype(np.float32),
        imagej=True,
        resolution=(1 / size, 1 / size),
        metadata={"unit": "um", "axes": "CYX"},
    )
    out = tmp_path / "pred"
    assert predict_cli.main(["confocal", str(images), "--out", str(out), "--device", "cpu"]) == 0
    post = load_checkpoint_model(model_path("confocal"))[1].postprocess
    assert post["min_score"] > 0
    labels = tifffile.imread(out / "a_labels.tif")
    rows = pd.read_csv(out / "a_migrasomes.csv")
    left = migrasome_instances(labels, size, post["min_diameter_um"], post["split_h_um"])
    assert len(rows) == left.max() > 0
    assert (rows["score"] >= post["min_score"]).all()
