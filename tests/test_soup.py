"""Weight averaging (a model soup): the mean of models fine-tuned from one model, written as a
checkpoint every migraseg tool loads."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from migraseg.inference.loading import load_checkpoint_model, weights_checkpoint
from migraseg.inference.predictor import Predictor
from migraseg.models.factory import build_model
from migraseg.synth.generator import make_sample
from migraseg.synth.presets import load_preset
from migraseg.training.run import TrainingInputError, load_init_weights
from migraseg.training.soup import average_weights

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # the script tested


def shifted_copy(trained: dict, out: Path, shift: float, **meta_changes) -> Path:
    """The trained checkpoint with every floating-point weight moved by ``shift``."""
    init = load_init_weights(trained["checkpoint"])
    state = {k: v + shift if v.is_floating_point() else v for k, v in init.state_dict.items()}
    torch.save(weights_checkpoint(state, replace(init.meta, **meta_changes)), out)
    return out


def test_the_mean_of_weights_and_the_first_models_metadata(trained: dict, tmp_path: Path):
    shifted = shifted_copy(trained, tmp_path / "shifted.ckpt", 1.0)
    original = load_init_weights(trained["checkpoint"])
    # a traced model.pt keeps its parameter names, so it can be an ingredient too
    mean, meta = average_weights([trained["model_path"], shifted])
    assert meta == load_init_weights(trained["model_path"]).meta
    floats = [k for k, v in original.state_dict.items() if v.is_floating_point()]
    integers = [k for k, v in original.state_dict.items() if not v.is_floating_point()]
    assert floats and integers  # weights, and batch-norm step counts
    for key in floats:
        torch.testing.assert_close(mean[key], original.state_dict[key] + 0.5)
    for key in integers:
        assert torch.equal(mean[key], original.state_dict[key])


def test_the_script_writes_a_checkpoint_that_predicts_like_its_ingredients(
    trained: dict, tmp_path: Path
):
    import average_weights as script

    out = tmp_path / "soup.ckpt"
    shifted = shifted_copy(trained, tmp_path / "shifted.ckpt", 0.0)
    assert script.main([str(out), trained["checkpoint"], str(shifted)]) == 0
    _, meta = load_checkpoint_model(out)
    assert meta.postprocess == load_init_weights(trained["checkpoint"]).meta.postprocess
    sample = make_sample(load_preset("confocal"), seed=3, index=0)
    expected = Predictor.from_path(trained["checkpoint"], backend="torch").probabilities(
        sample.image, sample.pixel_size_um
    )
    got = Predictor.from_path(out, backend="torch").probabilities(
        sample.image, sample.pixel_size_um
    )
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not list(tmp_path.glob(".soup.*"))  # written atomically


@pytest.mark.parametrize("field", ["pixel_size_um", "modality"])
def test_models_that_do_not_fit_together_are_refused(trained: dict, tmp_path: Path, field: str):
    meta = load_init_weights(trained["checkpoint"]).meta
    other_value = {"pixel_size_um": meta.pixel_size_um * 2, "modality": "tem"}[field]
    assert getattr(meta, field) != other_value
    other = shifted_copy(trained, tmp_path / "other.ckpt", 0.0, **{field: other_value})
    with pytest.raises(TrainingInputError, match=rf"other\.ckpt: {field}"):
        average_weights([trained["checkpoint"], other])


def test_another_architecture_is_named(trained: dict, tmp_path: Path):
    init = load_init_weights(trained["checkpoint"])
    channels = [c * 2 for c in init.meta.model["decoder_channels"]]
    wide = {**init.meta.model, "decoder_channels": channels}
    net = build_model(**{**wide, "encoder_weights": None})
    other = tmp_path / "wide.ckpt"
    torch.save(weights_checkpoint(net.state_dict(), replace(init.meta, model=wide)), other)
    with pytest.raises(TrainingInputError, match=r"wide\.ckpt: architecture"):
        average_weights([trained["checkpoint"], other])


def test_one_model_or_a_missing_one_gets_a_clear_error(trained: dict, tmp_path: Path, capsys):
    import average_weights as script

    with pytest.raises(TrainingInputError, match="two or more"):
        average_weights([trained["checkpoint"]])
    out = tmp_path / "soup.ckpt"
    assert script.main([str(out), trained["checkpoint"], str(tmp_path / "nope.ckpt")]) == 2
    assert "nope.ckpt" in capsys.readouterr().err
    assert not out.exists()
