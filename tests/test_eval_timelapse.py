"""migraseg-eval on a time-lapse set: frames tracked per model, tracking scores and report section.

The set is the shipped ``synthetic_timelapse`` recipe made tiny (2 stacks × 5 frames of 128 px,
with its stage drift). Two perfect segmenters: the true masks as a label folder, and the oracle
network of test_predict_files on images that encode the masks; with perfect segmentation the
tracker (drift correction and linking) must give every migrasome its own track.
"""

import io
import json

import numpy as np
import pytest
from rich.console import Console

from migraseg.cli.evaluate import sets_from_config
from migraseg.data.contract import load_dataset
from migraseg.evaluation.pipeline import run_evaluation
from migraseg.evaluation.render import print_metrics
from migraseg.evaluation.sets import ensure_synthesized
from migraseg.export import export_torchscript
from migraseg.io import read_image, write_tiff

from .conftest import compose_config
from .test_predict_files import ORACLE_META, ClassBands, as_image

SMALL = [
    "timelapse.n_frames=5",
    "confocal.image_size_px=[128,128]",
    "confocal.pixel_size_um=[0.2,0.2]",
]


@pytest.fixture(scope="module")
def lapse_set(tmp_path_factory):
    """The shipped set's recipe at 2 stacks × 5 frames, simulated, with images the oracle reads."""
    root = tmp_path_factory.mktemp("lapse") / "synthetic_timelapse"
    cfg = compose_config(
        "eval",
        [
            "eval/sets=[synthetic_timelapse]",
            f"eval.sets.synthetic_timelapse.root={root}",
            "eval.sets.synthetic_timelapse.synthesize.n=2",
            "eval.sets.synthetic_timelapse.synthesize.workers=1",
            f"eval.sets.synthetic_timelapse.synthesize.overrides=[{','.join(map(repr, SMALL))}]",
        ],
    )
    (eval_set,) = sets_from_config(cfg)
    ensure_synthesized(eval_set)
    for record in load_dataset(root).samples.values():
        image = as_image(read_image(record.mask_path)[0])
        image[0, 0] = 3100  # every frame spans all four classes' intensities
        write_tiff(record.image_path, image[None], record.pixel_size_um, axes="CYX")
    return eval_set


def test_a_time_lapse_set_is_tracked_scored_and_reported(lapse_set, tmp_path):
    oracle = export_torchscript(ClassBands(), ORACLE_META, tmp_path / "oracle.pt")
    models = {"true_masks": str(lapse_set.root / "masks"), "oracle": str(oracle)}
    run = run_evaluation(models, [lapse_set], tmp_path / "out")
    metrics = json.loads(run.metrics_path.read_text())
    result = metrics["sets"]["synthetic_timelapse"]
    assert result["n_images"] == 10
    assert result["time_lapse"]["n_stacks"] == 2 and result["time_lapse"]["n_frames"] == [5, 5]
    for name in models:
        tracking = result["models"][name]["tracking"]
        assert tracking["idf1"] > 0.95, (name, tracking)
        assert tracking["id_switches"] == 0 and tracking["true_links"] > 10
        assert tracking["nucleation_error_frames_median"] in (0.0, None)
        assert tracking["growth_rate_rel_error_median"] < 0.15
    report = (tmp_path / "out" / "report.md").read_text()
    section = report.split("### Tracking", 1)[1].split("###", 1)[0]
    assert "| IDF1 |" in section and "identity switches" in section
    assert "figures/synthetic_timelapse_growth.png" in section
    assert (tmp_path / "out" / "figures" / "synthetic_timelapse_growth.png").stat().st_size > 0
    assert "Tracking" in (tmp_path / "out" / "report.html").read_text()
    console = Console(file=io.StringIO(), width=300)
    print_metrics(run.results, console)
    assert (
        "synthetic_timelapse tracking, oracle: IDF1 1.000, 0 ID switches" in console.file.getvalue()
    )


def test_still_image_sets_are_not_tracked(tiny_dataset, tmp_path):
    set_ = sets_from_config(compose_config("eval", [f"data_root={tiny_dataset}", "split=test"]))
    run = run_evaluation({"truth": str(tiny_dataset / "masks")}, set_, tmp_path, report=False)
    (result,) = run.metrics["sets"].values()
    assert "time_lapse" not in result and "tracking" not in result["models"]["truth"]
    assert np.isfinite(result["models"]["truth"]["headline"]["migrasome.f1@0.5"])
