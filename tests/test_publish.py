"""Publishing: bioimage.io packages that bioimageio.core passes offline, model cards, info files."""

import json
import socket
from dataclasses import replace

import numpy as np
import pytest
import torch
import yaml

from migraseg.model_meta import ModelMeta
from migraseg.models import build_model
from migraseg.publish.info import DEFAULT_INFO, PublishInfo
from migraseg.publish.model_card import checkpoint_metrics, model_card
from migraseg.utils.files import sha256_file

TINY = {"encoder_name": "tu-test_resnet", "encoder_depth": 3, "decoder_channels": [16, 8, 8]}
META = ModelMeta(
    in_channels=1,
    pixel_size_um=0.2,
    patch_size=64,
    model={**TINY, "in_channels": 1},
    channel_names=["tspan4"],
    dataset="tiny",
)
METRICS = {  # metrics.json schema 2 (README "Evaluation")
    "models": {"model": {"kind": "checkpoint"}, "classical": {"kind": "classical"}},
    "sets": {
        "tiny/test": {
            "n_images": 3,
            "models": {
                "model": {"headline": {"migrasome.f1@0.5": 0.875}},
                "classical": {"headline": {"migrasome.f1@0.5": 0.625}},
            },
        }
    },
}


def tiny_checkpoint(path):
    """A checkpoint as migraseg-train writes it (network weights + metadata), without training."""
    torch.manual_seed(0)
    state = {f"net.{k}": v for k, v in build_model(**TINY).state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hyper_parameters": {"meta": META.to_dict()}, "state_dict": state}, path)
    return path


def scored_run(tmp_path, scored="best.ckpt"):
    """A run folder: checkpoints/best.ckpt and last.ckpt, metrics.json scoring ``scored`` (and
    another network and the baseline)."""
    run = tmp_path / "run"
    for name in ("best.ckpt", "last.ckpt"):
        tiny_checkpoint(run / "checkpoints" / name)
    models = {
        "model": {"kind": "checkpoint", "path": str(run / "checkpoints" / scored)},
        "other": {"kind": "torchscript", "path": str(tmp_path / "other.pt")},
        "classical": {"kind": "classical"},
    }
    set_models = {**METRICS["sets"]["tiny/test"]["models"], "other": {"headline": {"x": 0.5}}}
    metrics = {"models": models, "sets": {"tiny/test": {"n_images": 3, "models": set_models}}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


@pytest.fixture
def no_network(monkeypatch):
    """Fail any connection or DNS lookup, and record that it was tried."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.mark.slow
@pytest.mark.export
def test_bioimageio_package_passes_bioimageio_core_offline(tmp_path, no_network, monkeypatch):
    from migraseg.publish.bioimageio import sample_image, write_package

    monkeypatch.chdir(tmp_path)  # bioimageio reads a .env from the working directory
    torch.manual_seed(0)
    net = build_model(**TINY).eval()
    info = PublishInfo.load()
    sample = sample_image(META, size=128)
    assert sample.shape == (1, 128, 128)
    card = model_card(META, info, {}, METRICS)
    rdf = write_package(net, META, info, sample, card, tmp_path / "package")  # tested inside
    assert rdf == tmp_path / "package" / "rdf.yaml"
    assert no_network == []
    description = yaml.safe_load(rdf.read_text())
    assert description["format_version"].startswith("0.5")
    assert [c["doi"] for c in description["cite"]] == [c["doi"] for c in info.cite]
    assert "://" not in rdf.read_text()
    assert description["authors"][0]["name"] == info.authors[0]["name"]
    assert "# Validation" in (tmp_path / "package" / "README.md").read_text()
    weights = description["weights"]
    assert set(weights) == {"torchscript", "pytorch_state_dict"}
    architecture = weights["pytorch_state_dict"]["architecture"]
    assert architecture["callable"] == "MigrasegNetwork"
    assert architecture["kwargs"]["decoder_channels"] == TINY["decoder_channels"]
    assert (tmp_path / "package" / architecture["source"]).is_file()
    expected = np.load(tmp_path / "package" / "test_output.npy")
    assert expected.shape == (1, 4, 128, 128)
    np.testing.assert_allclose(expected.sum(1), 1.0, atol=1e-5)  # softmax inside the weights
    assert json.loads((tmp_path / "package" / "meta.json").read_text())["pixel_size_um"] == 0.2
    zipped = write_package(net, META, info, sample, card, tmp_path / "package.zip", test=False)
    assert zipped == tmp_path / "package.zip" and zipped.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["package", "package.zip"]


@pytest.mark.export
def test_both_weight_formats_of_a_package_are_tested_by_bioimageio_core(tmp_path, monkeypatch):
    from migraseg.publish import bioimageio

    seen = []
    real = bioimageio.validate_package

    def spy(source):
        passed, report = real(source)
        seen.append(report)
        return passed, report

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bioimageio, "validate_package", spy)
    net = build_model(**TINY).eval()
    sample = bioimageio.sample_image(META, size=64)
    bioimageio.write_package(net, META, PublishInfo.load(), sample, "# card", tmp_path / "p")
    (report,) = seen
    for weights in ("pytorch_state_dict", "torchscript"):
        assert f"Reproduce test outputs from test inputs ({weights})" in report


@pytest.mark.export
def test_package_network_source_builds_the_network_and_its_softmax():
    from migraseg.publish.bioimageio import WithSoftmax, network_kwargs
    from migraseg.publish.package_network import MigrasegNetwork

    torch.manual_seed(0)
    reference = WithSoftmax(build_model(**TINY)).eval()
    rebuilt = MigrasegNetwork(**network_kwargs(META)).eval()
    rebuilt.load_state_dict(reference.state_dict())  # strict: the same keys and shapes
    x = torch.rand(2, 1, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), reference(x))


@pytest.mark.slow
@pytest.mark.export
def test_a_package_that_fails_its_test_is_not_left_on_disk(tmp_path, monkeypatch):
    import migraseg.publish.bioimageio as bio

    net, info = build_model(**TINY).eval(), PublishInfo.load()
    args = (net, META, info, bio.sample_image(META, size=64), "# card\n\n# Validation\n")
    old = bio.write_package(*args, tmp_path / "package", test=False)
    before = old.read_text()
    monkeypatch.setattr(bio, "validate_package", lambda source: (False, "broken on purpose"))
    for output in (tmp_path / "package", tmp_path / "package.zip"):
        with pytest.raises(bio.PackageTestError, match="failed its test") as failure:
            bio.write_package(*args, output)
        assert failure.value.report == "broken on purpose"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["package"]  # no zip, no staging
    assert old.read_text() == before  # the earlier package is untouched


def test_simulated_sample_images_use_the_models_modality_and_pixel_size(monkeypatch):
    from dataclasses import replace

    import migraseg.synth.generator as generator
    from migraseg.publish.bioimageio import sample_image

    configs = []
    make_sample = generator.make_sample
    monkeypatch.setattr(
        generator,
        "make_sample",
        lambda config, **kw: configs.append(config) or make_sample(config, **kw),
    )
    tem = replace(META, modality="tem", pixel_size_um=0.012)
    assert sample_image(tem, size=64).shape == (1, 64, 64)
    assert configs[-1].modality == "tem"
    assert configs[-1].tem.pixel_size_um == (0.012, 0.012)
    assert configs[-1].tem.image_size_px == (64, 64)
    with pytest.raises(ValueError, match="no simulator for the model's modality 'sem'"):
        sample_image(replace(META, modality="sem"))


def test_model_card_has_data_metrics_use_and_weight_hashes(tmp_path):
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"weights")
    card = model_card(META, PublishInfo.load(), {"torchscript": weights}, METRICS)
    for section in ("## Training data", "## Validation", "## Intended use", "## Limitations"):
        assert section in card
    assert sha256_file(weights) in card and "0.2 µm/px" in card
    assert "| migrasome.f1@0.5 | 0.875 | 0.625 |" in card
    assert "| 3 | migrasome |" in card and "doi:10.1111/febs.16183" in card
    assert "No metrics.json" in model_card(META, PublishInfo.load(), {}, None)
    assert "likeliest class, holes filled" in card  # min_probability 0.5: nothing more said
    lower = replace(META, postprocess={**META.postprocess, "min_probability": 0.3})
    assert "likeliest class or of probability ≥ 0.3," in model_card(lower, PublishInfo.load(), {})


def test_metrics_go_into_the_card_only_for_the_checkpoint_they_scored(tmp_path):
    run = scored_run(tmp_path)
    metrics, note = checkpoint_metrics(run / "metrics.json", run / "checkpoints" / "best.ckpt")
    assert note == "" and set(metrics["sets"]["tiny/test"]["models"]) == {"model", "classical"}
    metrics, note = checkpoint_metrics(run / "metrics.json", run / "checkpoints" / "last.ckpt")
    assert metrics is None and "scored best.ckpt, other.pt, not last.ckpt" in note
    assert checkpoint_metrics(None, run / "checkpoints" / "last.ckpt")[1].startswith("No metrics")


@pytest.mark.slow
@pytest.mark.export
def test_export_cli_uses_the_run_metrics_only_for_the_scored_checkpoint(tmp_path, capsys):
    from migraseg.cli.export import main

    run = scored_run(tmp_path)
    assert main([str(run / "checkpoints" / "best.ckpt"), str(tmp_path / "best.pt")]) == 0
    card = (tmp_path / "best_card.md").read_text()
    assert "| migrasome.f1@0.5 | 0.875 | 0.625 |" in card and "· other" not in card
    assert main([str(run / "checkpoints" / "last.ckpt"), str(tmp_path / "last.pt")]) == 0
    assert "warning" in capsys.readouterr().err
    card = (tmp_path / "last_card.md").read_text()
    assert "0.875" not in card and "scored best.ckpt, other.pt, not last.ckpt" in card


def test_export_cli_names_a_corrupt_checkpoint_in_one_line(tmp_path, capsys):
    from migraseg.cli.export import main

    good = tiny_checkpoint(tmp_path / "good.ckpt").read_bytes()
    (tmp_path / "corrupt.ckpt").write_bytes(good[: len(good) // 2])
    assert main([str(tmp_path / "corrupt.ckpt"), str(tmp_path / "m.pt")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "corrupt.ckpt: cannot load model" in err
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize(
    "change,message",
    [
        ({"cite": [{"text": "A paper", "url": "https://example.org"}]}, "remove URLs"),
        ({"cite": [{"text": "A paper"}]}, "needs text and a DOI"),
        ({"authors": []}, "at least one author"),
        ({"colour": "blue"}, "unknown keys"),
    ],
)
def test_publish_info_rejects_what_would_break_an_offline_package(tmp_path, change, message):
    data = yaml.safe_load(DEFAULT_INFO.read_text()) | change
    (tmp_path / "info.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=message):
        PublishInfo.load(tmp_path / "info.yaml")
