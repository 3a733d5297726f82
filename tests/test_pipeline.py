"""The folder loop as a pipeline: small files predicted together (tiles of several files in one
forward pass) and measured and written by writer processes write exactly what the plain loop
writes (one file at a time, strip by strip, in this process), keep the input order, and an
interruption keeps what was finished and loses nothing else."""

import os
from pathlib import Path

import numpy as np
import pytest

from migraseg.inference import pipeline, predict_files
from migraseg.inference.file_writer import FileReport, OutputWriter
from migraseg.inference.predict_files import BatchPredictor, PredictOptions, expand_inputs
from migraseg.inference.predictor import Predictor
from migraseg.measure.tables import read_csv
from tests.test_predict_files import as_image, oracle, truth, write_imagej  # noqa: F401
from tests.test_reliability import hidden, predict_cli
from tests.test_sharding import outputs


@pytest.fixture
def folder(truth, tmp_path):  # noqa: F811
    """Plain and compressed images, one at another pixel size, a time-lapse and a broken file."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i, (stem, mask, _) in enumerate(truth * 2):
        kwargs = {"compression": "zlib"} if i % 2 else {}
        write_imagej(folder / f"img{i}_{stem}.tif", as_image(mask, i), "YX", **kwargs)
    write_imagej(folder / "img_finer.tif", as_image(truth[0][1], 9), "YX", pixel_size=0.15)
    stack = np.stack([as_image(mask, 5) for _, mask, _ in truth])
    write_imagej(folder / "img_timelapse.tif", stack, "TYX")
    (folder / "img_broken.tif").write_bytes(b"II*\x00 not a tiff")
    return folder


def predict(oracle, folder, out, batch_size, **options):  # noqa: F811
    predictor = Predictor.from_path(oracle, device="cpu", tile_size=64, batch_size=batch_size)
    paths, _ = expand_inputs([str(folder)], out)
    reports = BatchPredictor(predictor, out, PredictOptions(**options)).run(paths)
    return [(r.path.name, r.status, r.message) for r in reports]


@pytest.mark.parametrize("probs", [False, True])
def test_batched_files_and_writer_processes_write_what_the_plain_loop_writes(
    oracle,  # noqa: F811
    folder,
    tmp_path,
    monkeypatch,
    probs,
):
    with monkeypatch.context() as plain:  # nothing held for writers: every file streamed
        plain.setattr(predict_files, "MAX_HELD_BYTES", 0)
        expected = predict(oracle, folder, tmp_path / "plain", 1, workers=0, save_probs=probs)
    got = predict(oracle, folder, tmp_path / "piped", 5, workers=2, save_probs=probs)
    assert got == expected  # same order, statuses and messages
    assert [s for _, s, _ in got].count("done") == 8 and dict((n, s) for n, s, _ in got)[
        "img_broken.tif"
    ] == "failed"
    assert len(read_csv(tmp_path / "piped" / "summary.csv")) == 7 + 3  # the time-lapse: 3 rows
    assert outputs(tmp_path / "piped") == outputs(tmp_path / "plain")
    assert hidden(tmp_path / "piped") == []


def test_an_interrupted_pipeline_keeps_what_writers_finished_and_a_rerun_does_the_rest(
    oracle,  # noqa: F811
    folder,
    tmp_path,
    monkeypatch,
):
    reference = tmp_path / "reference"
    predict(oracle, folder, reference, 1, workers=0)
    calls = []
    label_many = Predictor.label_many

    def interrupted_on_the_fifth_file(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # four files are with the writer, or written
            raise KeyboardInterrupt
        yield from label_many(self, *args, **kwargs)

    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        patch.setattr(Predictor, "label_many", interrupted_on_the_fifth_file)
        with pytest.raises(KeyboardInterrupt):
            predict(oracle, folder, out, 1, workers=1)
    assert hidden(out) == []  # no temporary file left
    finished = {p.name.removesuffix("_summary.csv") for p in out.glob("img*_summary.csv")}
    rows = read_csv(out / "summary.csv")
    assert {r["image"].removesuffix(".tif") for r in rows} == finished  # recorded as written
    submitted = sorted(p.stem for p in folder.glob("img*.tif"))[:4]  # before the interruption
    assert finished == set(submitted[: len(finished)])  # written in order
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("img*")}

    report = predict(oracle, folder, out, 1, workers=1)
    skipped = {name.removesuffix(".tif") for name, status, _ in report if status == "skipped"}
    assert skipped == finished
    assert all(out.joinpath(n).stat().st_mtime_ns == t for n, t in stamps.items())
    assert outputs(out) == outputs(reference)


def test_writers_default_to_the_spare_cores_and_none_for_one_file(monkeypatch):
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 16)
    assert pipeline.default_workers(1) == 0
    assert pipeline.default_workers(100) == pipeline.MAX_WORKERS
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    assert pipeline.default_workers(100) == 1


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_bad_worker_counts_are_usage_errors(oracle, folder, tmp_path, capsys, value):  # noqa: F811
    assert predict_cli(oracle, folder, "--out", tmp_path / "o", "--workers", value) == 2
    assert "--workers must be auto or a number" in capsys.readouterr().err


def dies_on_crash(writer, job):
    """A writer's work that kills its process on a job named crash (a writer OOM-killed)."""
    if job.path.name == "crash":
        os._exit(1)
    return FileReport(job.path, "done")


def test_a_writer_that_dies_fails_its_file_and_new_writers_take_the_next(tmp_path):
    outcomes = []
    writer = OutputWriter(n_classes=4, postprocess={})
    with pipeline.WriterPool(writer, workers=1, work=dies_on_crash) as pool:
        for name in ("first", "crash", "after"):
            job = pipeline.WriteJob(Path(name), None, {}, [], [])
            pool.submit(pool.slot(outcomes.append), job)
            pool.finish()  # one at a time: only the crashing job is with the dying writer
    assert [type(o).__name__ for o in outcomes] == ["FileReport", "RuntimeError", "FileReport"]
    assert "writer process died" in str(outcomes[1]) and "rerun" in str(outcomes[1])
    assert outcomes[2].path == Path("after")


def test_only_files_of_few_tiles_are_held_whole(oracle, truth, tmp_path):  # noqa: F811
    """A small file is held whole on the device; the same file upscaled 4× onto the model's
    grid (121 tiles of 64²) is streamed strip by strip, as large files are."""
    mask = truth[0][1]
    native = write_imagej(tmp_path / "native.tif", as_image(mask), "YX")
    coarse = write_imagej(tmp_path / "coarse.tif", as_image(mask), "YX", pixel_size=0.8)
    predictor = Predictor.from_path(oracle, device="cpu", tile_size=64)
    batch = BatchPredictor(predictor, tmp_path / "out", PredictOptions(force=True))
    held = {p.name: batch.prepare(p, None, {}) for p in (native, coarse)}
    assert held["native.tif"].tiles == 9 and held["native.tif"].in_memory
    assert held["coarse.tif"].tiles == 121 and not held["coarse.tif"].in_memory
