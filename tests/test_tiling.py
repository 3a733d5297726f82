"""Sliding-window inference: exact coverage, positive weights, and tiled == whole image."""

import numpy as np
import pytest
import torch
from torch import nn

from migraseg.inference.predictor import Predictor
from migraseg.inference.tiling import gaussian_weights, padded_size, tile_starts
from migraseg.model_meta import ModelMeta


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
