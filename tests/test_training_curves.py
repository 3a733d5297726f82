"""Training curves from the CSV log: a tiny real training draws them into its run folder and
its report; the log reader merges a resumed run's versions."""

import json

from omegaconf import open_dict

from migraseg.evaluation.curves import metric_logs, read_training_log, write_training_curves
from migraseg.evaluation.figures import slug
from tests.conftest import TEST_OVERRIDES, compose_config


def test_a_training_draws_its_curves_into_the_run_folder_and_the_report(tiny_dataset, tmp_path):
    from migraseg.training.run import train

    overrides = [o for o in TEST_OVERRIDES if not o.startswith("logger=")]
    cfg = compose_config(
        "train",
        [
            *overrides,
            "logger=csv",
            "trainer.max_epochs=2",
            "export=false",
            f"data.root={tiny_dataset}",
        ],
    )
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path)
    result = train(cfg)

    assert result["curves_path"] == str(tmp_path / "training_curves.png")
    assert (tmp_path / "training_curves.png").stat().st_size > 5000
    log = read_training_log(metric_logs(tmp_path))
    assert log.n_epochs == 2
    for key in ("train/loss_epoch", "val/loss", "val/dice_fg", "val/f1_migrasome"):
        epochs, values = log.curve(key)
        assert list(epochs) == [0, 1] and len(values) == 2, key

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    (name,) = (n for n in metrics["models"] if n != "classical")
    assert name.startswith("run 20") and "epoch" not in name  # the run, not the checkpoint file
    md = (tmp_path / "report.md").read_text()
    assert "## Training" in md and f"figures/{slug(name)}_training.png" in md
    assert (tmp_path / "figures" / f"{slug(name)}_training.png").is_file()
    assert "simulated image" in next(iter(metrics["sets"].values()))["verdict"]


def test_a_resumed_run_continues_its_curves_and_a_run_without_a_log_has_none(tmp_path):
    first, second = tmp_path / "csv" / "version_0", tmp_path / "csv" / "version_1"
    first.mkdir(parents=True)
    second.mkdir(parents=True)
    header = "epoch,step,train/loss,val/dice_fg\n"
    (first / "metrics.csv").write_text(header + "0,1,1.0,\n0,2,0.5,\n0,2,,0.2\n1,3,0.9,\n")
    (second / "metrics.csv").write_text(header + "1,3,0.4,\n1,4,,0.6\n2,5,0.3,\n2,5,,0.7\n")
    log = read_training_log(metric_logs(tmp_path))
    epochs, loss = log.curve("train/loss")
    assert list(epochs) == [0, 1, 2] and list(loss) == [0.75, 0.4, 0.3]  # epoch 1: resumed run
    assert list(log.curve("val/dice_fg")[1]) == [0.2, 0.6, 0.7]
    assert write_training_curves(tmp_path).name == "training_curves.png"
    assert write_training_curves(tmp_path / "csv") is None
