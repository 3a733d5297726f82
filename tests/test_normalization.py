"""One normalisation for training, inference and bioimage.io packages."""

import numpy as np
import pytest
from torch import nn

from migraseg.data.contract import image_to_cyx, load_dataset
from migraseg.data.dataset import load_sample
from migraseg.inference.predictor import ArraySource, Predictor
from migraseg.io import read_image
from migraseg.model_meta import ModelMeta
from migraseg.normalization import EPS, percentile_normalize, subsample_step


def test_percentile_normalize_maps_percentiles_to_zero_and_one():
    rng = np.random.default_rng(0)
    image = np.stack([rng.integers(100, 4000, (60, 70)), rng.integers(0, 9, (60, 70))])
    out = percentile_normalize(image.astype(np.uint16), 1.0, 99.8)
    assert out.dtype == np.float32 and out.shape == image.shape
    for channel in out:
        lo, hi = np.percentile(channel, (1.0, 99.8))
        assert lo == pytest.approx(0, abs=1e-5) and hi == pytest.approx(1, abs=1e-5)
    assert np.all(percentile_normalize(np.full((1, 8, 8), 7.0)) == 0)  # flat: no NaN


def test_huge_images_take_percentiles_from_a_regular_subsample():
    assert subsample_step(2000, 2000) == 1
    assert subsample_step(8000, 8000) == 4  # 64 MP → 4 MP


@pytest.mark.parametrize("model_pixel_size_um", [0.3, 0.15])  # shrink and enlarge
def test_training_and_inference_feed_the_network_the_same_input(tiny_dataset, model_pixel_size_um):
    """An image at 0.2 µm/px for a model at another pixel size: load_sample (training) and the
    predictor's streamed, strip-wise input agree pixel for pixel."""
    record = load_dataset(tiny_dataset).split("all")[0]
    trained_on = load_sample(record, pixel_size_um=model_pixel_size_um, percentiles=(2, 99))

    meta = ModelMeta(
        in_channels=trained_on.image.shape[0],
        pixel_size_um=model_pixel_size_um,
        patch_size=64,
        model={},
        normalization={"method": "percentile", "low": 2.0, "high": 99.0},
    )
    predictor = Predictor(nn.Identity(), meta, device="cpu", tile_size=64)
    raw, info = read_image(record.image_path)
    raw = image_to_cyx(raw, info["axes"])
    rows, grid = predictor.model_input(ArraySource(raw), record.pixel_size_um)
    assert grid == trained_on.image.shape[1:] != raw.shape[1:]
    strips = [rows(y, min(y + 16, grid[0])) for y in range(0, grid[0], 16)]
    np.testing.assert_allclose(np.concatenate(strips, axis=1), trained_on.image, atol=1e-6)


def test_bioimageio_scale_range_normalises_as_migraseg():
    v = pytest.importorskip("bioimageio.spec.model.v0_5")
    from bioimageio.core import Sample, Tensor
    from bioimageio.core.proc_ops import ScaleRange
    from bioimageio.core.stat_calculators import compute_sample_measures

    kwargs = v.ScaleRangeKwargs(
        axes=[v.AxisId("y"), v.AxisId("x")], min_percentile=1.0, max_percentile=99.8, eps=EPS
    )
    op = ScaleRange.from_proc_descr(v.ScaleRangeDescr(kwargs=kwargs), v.TensorId("raw"))
    rng = np.random.default_rng(1)
    image = (rng.gamma(2.0, 1.0, (2, 64, 96)) * np.array([300.0, 0.02])[:, None, None]).astype(
        np.float32
    )
    sample = Sample(
        members={"raw": Tensor.from_numpy(image[None], dims=("batch", "channel", "y", "x"))},
        stat={},
        id=0,
    )
    sample.stat.update(compute_sample_measures(op.required_measures, sample))
    op(sample)
    theirs = sample.members["raw"].data.values[0]
    np.testing.assert_allclose(percentile_normalize(image), theirs, rtol=1e-5, atol=1e-5)
