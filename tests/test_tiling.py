"""Sliding-window inference: exact coverage, positive weights, and tiled == whole image."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from migraseg.inference.predictor import ArraySource, Predictor
from migraseg.inference.tiling import gaussian_weights, padded_size, tile_starts
from migraseg.model_meta import ModelMeta
from migraseg.resample import LinearResampler


@pytest.mark.parametrize(
    "length,tile,overlap", [(100, 32, 0.25), (512, 512, 0.5), (33, 32, 0.0), (1000, 96, 0.5)]
)
def test_tiles_cover_the_axis_with_the_requested_overlap(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s : s + tile] = True
    assert covered.all() and starts[0] == 0 and starts[-1] + tile == length
    steps = np.diff(starts)
    assert (steps <= tile * (1 - overlap) + 1).all()


def test_tile_larger_than_axis_is_an_error():
    with pytest.raises(ValueError, match="larger than the axis"):
        tile_starts(10, 32, 0.25)


def test_weights_are_positive_and_peak_in_the_centre():
    w = gaussian_weights(64, 96)
    assert w.shape == (64, 96) and w.min() > 0 and w.max() == 1.0
    assert w[32, 48] > w[0, 0]


def test_padded_size():
    assert (padded_size(100, 32), padded_size(64, 32), padded_size(10, 32, 64)) == (128, 64, 64)


class Pointwise(nn.Module):
    """A 1×1 convolution: each output pixel depends on its input pixel alone, so any tiling
    must reproduce the whole-image output exactly (blending weights included)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 1)

    def forward(self, x):
        return self.conv(x)


def predictor(tile, tta=False):
    meta = ModelMeta(in_channels=1, pixel_size_um=0.1, patch_size=64, model={})
    return Predictor(Pointwise(), meta, device="cpu", tile_size=tile, overlap=0.25, tta=tta)


@pytest.mark.parametrize("shape", [(1, 200, 170), (1, 64, 64), (1, 20, 45)])
def test_tiled_equals_whole_image(shape):
    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    whole = predictor(256).sliding_window(image)
    tiled = predictor(64).sliding_window(image)
    assert whole.shape == (4, *shape[1:])
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    np.testing.assert_allclose(whole.sum(0), 1.0, atol=1e-5)


def test_flip_tta_is_exact_for_a_flip_equivariant_model():
    class Identity(nn.Module):
        def forward(self, x):
            return torch.cat([x, -x, x * 0, x * 0], dim=1)

    meta = ModelMeta(in_channels=1, pixel_size_um=0.1, patch_size=64, model={})
    image = np.random.default_rng(1).random((1, 70, 90), dtype=np.float32)
    plain = Predictor(Identity(), meta, device="cpu", tile_size=64).sliding_window(image)
    tta = Predictor(Identity(), meta, device="cpu", tile_size=64, tta=True).sliding_window(image)
    np.testing.assert_allclose(plain, tta, atol=1e-6)


def test_rescaling_puts_objects_where_they_belong():
    class Bright(nn.Module):  # "class 1" where the normalised image is bright
        def forward(self, x):
            return torch.cat([torch.zeros_like(x), 20 * (x - 0.5)], dim=1)

    meta = ModelMeta(
        in_channels=1,
        pixel_size_um=0.2,
        patch_size=64,
        model={},
        class_names=["background", "cell"],
    )
    image = np.zeros((1, 200, 200), np.float32)
    image[0, 120:160, 40:80] = 1000  # a square at 0.1 µm/px; the model works at 0.2 µm/px
    pred = Predictor(Bright(), meta, device="cpu", tile_size=64).predict(image, 0.1)
    assert pred.labels.shape == (200, 200)
    inside = pred.labels[125:155, 45:75]
    assert inside.all() and pred.labels[:100].sum() == 0 and pred.labels[:, 100:].sum() == 0


def test_missing_pixel_size_and_wrong_channels_are_errors():
    p = predictor(64)
    with pytest.raises(ValueError, match="pixel size unknown"):
        p.probabilities(np.zeros((1, 32, 32), np.float32), None)
    with pytest.raises(ValueError, match=r"expected an image \(C=1"):
        p.probabilities(np.zeros((2, 32, 32), np.float32), 0.1)


@pytest.mark.parametrize("n_in,n_out", [(100, 50), (37, 111), (64, 64), (200, 67)])
def test_resampling_a_strip_equals_resampling_the_whole_axis(n_in, n_out):
    data = np.random.default_rng(2).random((3, n_in, 5), dtype=np.float32)
    resampler = LinearResampler.create(n_in, n_out)
    whole = resampler.apply(data, 1, 0, n_out, 0)
    for out0, out1 in [(0, 7), (7, n_out // 2), (n_out // 2, n_out)]:
        in0, in1 = resampler.input_range(out0, out1)
        part = resampler.apply(data[:, in0:in1], 1, out0, out1, in0)
        np.testing.assert_allclose(part, whole[:, out0:out1], atol=1e-6)


def test_upsampling_matches_skimage_resize():
    from skimage.transform import resize

    data = np.random.default_rng(3).random((30, 20)).astype(np.float32)
    ours = LinearResampler.create(30, 75).apply(data, 0, 0, 75, 0)
    ours = LinearResampler.create(20, 50).apply(ours, 1, 0, 50, 0)
    theirs = resize(data, (75, 50), order=1, anti_aliasing=False, mode="edge")
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("pixel_size", [0.05, 0.1, 0.23])
def test_streamed_strips_equal_one_block_with_rescaling(pixel_size):
    """Small tiles force many row blocks through both resamplers; a tile covering the whole
    image gives one block. A pointwise model makes any tiling exact, so they must agree."""
    image = np.random.default_rng(4).integers(0, 4000, (1, 300, 130)).astype(np.uint16)
    whole = predictor(512).probabilities(image, pixel_size)
    blocks = list(predictor(64).stream(ArraySource(image), pixel_size))
    assert len(blocks) > 2 and blocks[0][0] == 0
    assert all(a[0] + a[1].shape[1] == b[0] for a, b in itertools.pairwise(blocks))
    np.testing.assert_allclose(np.concatenate([b for _, b in blocks], 1), whole, atol=1e-5)
    assert whole.shape == (4, 300, 130)


def test_count_tiles_matches_the_tiles_run():
    seen = []
    p = predictor(64)
    image = np.zeros((1, 300, 130), np.float32)
    list(p.stream(ArraySource(image), 0.05, on_tiles=seen.append))
    assert sum(seen) == p.count_tiles((300, 130), 0.05) == 3 * 2  # 150×65 px at 0.1 µm/px


@pytest.mark.slow
def test_a_trained_model_tiled_agrees_with_one_tile(trained):
    """A real CNN sees less context near tile seams, so tiled and whole-image outputs differ
    slightly; Gaussian blending keeps the difference small."""
    from migraseg.inference.predictor import Predictor

    image = np.random.default_rng(5).normal(300, 30, (1, 128, 128)).astype(np.float32)
    image[0, 40:80, 50:90] += 500
    one = Predictor.from_path(trained["model_path"], device="cpu", tile_size=128)
    tiled = Predictor.from_path(trained["model_path"], device="cpu", tile_size=64, overlap=0.5)
    a, b = one.probabilities(image, 0.2), tiled.probabilities(image, 0.2)
    assert np.abs(a - b).mean() < 0.02
    assert (a.argmax(0) == b.argmax(0)).mean() > 0.97
