"""Reading the next file during inference of the current one changes nothing that is written."""

import numpy as np

from migraseg.inference.predict_files import BatchPredictor, PredictOptions, expand_inputs
from migraseg.inference.predictor import Predictor
from migraseg.inference.prefetch import Prefetcher
from tests.test_predict_files import as_image, oracle, truth, write_imagej  # noqa: F401


def test_outputs_are_identical_with_and_without_prefetching(oracle, truth, tmp_path, monkeypatch):  # noqa: F811
    folder = tmp_path / "in"
    folder.mkdir()
    for i, (stem, mask, _) in enumerate(truth):  # compressed and plain files, and a time-lapse
        write_imagej(folder / f"{stem}.tif", as_image(mask, i), "YX", compression="zlib" * (i % 2))
    stack = np.stack([as_image(mask, 5) for _, mask, _ in truth[:2]])
    write_imagej(folder / "timelapse.tif", stack, "TYX")
    (folder / "broken.tif").write_bytes(b"II*\x00 not a tiff")
    served = []
    take = Prefetcher.take
    monkeypatch.setattr(Prefetcher, "take", lambda *a: served.append(take(*a)) or served[-1])

    runs = {}
    for prefetch in (False, True):
        out = tmp_path / f"prefetch_{prefetch}"
        predictor = Predictor.from_path(oracle, device="cpu", tile_size=128)
        paths, _ = expand_inputs([str(folder)], out)
        reports = BatchPredictor(predictor, out, PredictOptions(prefetch=prefetch)).run(paths)
        runs[prefetch] = (out, [(r.path.name, r.status, r.message) for r in reports])

    # read ahead: every readable file but the first (broken.tif, sorted first, is not)
    assert sum(image is not None for image in served) == len(truth) + 1
    assert runs[True][1] == runs[False][1]
    assert [status for _, status, _ in runs[True][1]].count("done") == len(truth) + 1
    names = sorted(p.name for p in runs[False][0].iterdir() if not p.name.startswith("."))
    assert names == sorted(p.name for p in runs[True][0].iterdir() if not p.name.startswith("."))
    for name in names:
        assert (runs[True][0] / name).read_bytes() == (runs[False][0] / name).read_bytes(), name
