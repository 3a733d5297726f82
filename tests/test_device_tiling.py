"""The device-resident sliding window equals plain NumPy blending of the whole image.

The reference below is the blending the Predictor did in NumPy before it moved to the device
(whole image at once, no strips): Gaussian-weighted tile probabilities over their weight sum.
On the CPU the device path must give identical labels and the same probabilities (1e-5).
"""

import numpy as np
import pytest
import torch

from migraseg.inference.device_tiling import class_argmax, resample_tensor
from migraseg.inference.predictor import ArraySource, Predictor
from migraseg.inference.tiling import gaussian_weights
from migraseg.model_meta import ModelMeta
from migraseg.models import build_model
from migraseg.resample import LinearResampler

TINY = {"encoder_name": "tu-test_resnet", "encoder_depth": 3, "decoder_channels": [16, 8, 8]}


@pytest.fixture(scope="module")
def confident_net():
    """A random tiny U-Net whose logits are scaled up, so that its labels vary across the image
    (a near-uniform output would make every comparison of labels trivial)."""
    torch.manual_seed(0)
    net = build_model(**TINY, in_channels=1).eval()
    with torch.no_grad():
        for p in net.segmentation_head.parameters():
            p.mul_(30)
    return net


META = ModelMeta(in_channels=1, pixel_size_um=0.1, patch_size=64, model={**TINY, "in_channels": 1})


def numpy_blend(predictor: Predictor, image: np.ndarray) -> np.ndarray:
    """Whole-image Gaussian blending in NumPy (the former CPU path), probabilities (K, Y, X)."""
    height, width = image.shape[1:]
    tile, ys, xs = predictor._tile_grid((height, width))
    ph, pw = max(height, tile[0]) - height, max(width, tile[1]) - width
    mode = "reflect" if min(height, width) > max(ph, pw) else "edge"
    padded = np.pad(image, ((0, 0), (0, ph), (0, pw)), mode)
    weights = gaussian_weights(*tile)
    acc = np.zeros((4, *padded.shape[1:]), np.float32)
    norm = np.zeros(padded.shape[1:], np.float32)
    for y in ys:
        for j in range(0, len(xs), predictor.batch_size):  # batches as the Predictor's
            chunk = xs[j : j + predictor.batch_size]
            tiles = np.stack([padded[:, y : y + tile[0], x : x + tile[1]] for x in chunk])
            for x, probs in zip(
                chunk, predictor.runner(torch.from_numpy(tiles)).numpy(), strict=True
            ):
                acc[:, y : y + tile[0], x : x + tile[1]] += probs * weights
                norm[y : y + tile[0], x : x + tile[1]] += weights
    return acc[:, :height, :width] / norm[:height, :width]


@pytest.mark.parametrize(
    ("shape", "tile", "overlap", "tta"),
    [((97, 150), 64, 0.25, False), ((200, 131), 64, 0.5, True), ((40, 90), 64, 0.25, False)],
)
def test_device_blending_equals_numpy_blending(confident_net, shape, tile, overlap, tta):
    image = np.random.default_rng(1).normal(0, 1, (1, *shape)).astype(np.float32)
    image[:, shape[0] // 3 : shape[0] // 2] += 2
    predictor = Predictor(confident_net, META, "cpu", tile, overlap, batch_size=3, tta=tta)
    expected = numpy_blend(predictor, image)
    got = predictor.sliding_window(image)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    labels = expected.argmax(0)
    assert len(np.unique(labels)) > 1
    np.testing.assert_array_equal(got.argmax(0), labels)


def test_resample_tensor_equals_the_numpy_resampler():
    data = np.random.default_rng(0).random((4, 37, 23)).astype(np.float32)
    for n_out in (37, 80, 19):
        r = LinearResampler.create(37, n_out, anti_alias=False)
        lo, hi = r.input_range(3, n_out - 2)
        expected = r.apply(data[:, lo:hi], 1, 3, n_out - 2, lo)
        got = resample_tensor(r, torch.from_numpy(data[:, lo:hi]), 1, 3, n_out - 2, lo)
        np.testing.assert_array_equal(got.numpy(), expected)
    with pytest.raises(ValueError, match="does not smooth"):
        resample_tensor(LinearResampler.create(37, 10), torch.from_numpy(data), 1, 0, 10, 0)


def test_streamed_uint8_outputs_match_the_probabilities(confident_net):
    """What leaves the device (uint8 labels, probabilities × 255) equals the argmax and the
    rounding of the float probabilities, also across a rescale."""
    image = (np.random.default_rng(2).random((1, 150, 120)) * 1000).astype(np.uint16)
    image[:, 40:90] += 1500
    predictor = Predictor(confident_net, META, "cpu", 64, 0.25, batch_size=2)
    probs = predictor.probabilities(image, 0.137)
    blocks = list(predictor.stream_labels(ArraySource(image), 0.137, classes=range(4)))
    labels = np.concatenate([b[1] for b in blocks])
    scaled = np.concatenate([b[2] for b in blocks], axis=1)
    assert labels.dtype == scaled.dtype == np.uint8
    np.testing.assert_array_equal(labels, probs.argmax(0))
    np.testing.assert_array_equal(scaled, np.round(probs * 255).astype(np.uint8))


def test_tiles_of_several_images_batched_together_give_each_image_s_own_result(confident_net):
    """label_many (tiles of consecutive images in shared forward passes, whole images on the
    device) equals each image streamed alone: labels identical, probabilities × 255 identical,
    across sizes smaller than a tile, rescales and tile sizes that change between images."""
    rng = np.random.default_rng(3)
    shapes = [(40, 90), (64, 64), (150, 97), (64, 64), (200, 131), (30, 30)]
    images = []
    for shape in shapes:
        image = (rng.random((1, *shape)) * 1000).astype(np.uint16)
        image[:, shape[0] // 3 : shape[0] // 2] += 1500
        images.append(image)
    sizes = [0.1, 0.1, 0.137, 0.1, 0.08, 0.1]
    predictor = Predictor(confident_net, META, "cpu", 64, 0.25, batch_size=3)
    items = [(ArraySource(i), s) for i, s in zip(images, sizes, strict=True)]
    runner, batches = predictor.runner, []

    class Counting:  # the same runner, counting its batches
        name, device = runner.name, runner.device

        def __call__(self, batch):
            batches.append(len(batch))
            return runner(batch)

    predictor.runner = Counting()
    together = list(predictor.label_many(items, classes=range(4)))
    predictor.runner = runner
    alone = [predictor.count_tiles(i.shape[1:], s) for i, s in zip(images, sizes, strict=True)]
    assert sum(batches) == sum(alone) and max(batches) == 3
    assert len(batches) < sum(-(-n // 3) for n in alone)  # fewer passes than image by image
    for (source, size), (labels, scaled) in zip(items, together, strict=True):
        blocks = list(predictor.stream_labels(source, size, classes=range(4)))
        np.testing.assert_array_equal(labels, np.concatenate([b[1] for b in blocks]))
        np.testing.assert_array_equal(scaled, np.concatenate([b[2] for b in blocks], axis=1))
        assert len(np.unique(labels)) > 1


def test_class_argmax_equals_torch_argmax_ties_included():
    probs = torch.rand(4, 60, 70, generator=torch.Generator().manual_seed(0))
    probs[:, :10] = 0.25  # all tied: class 0
    probs[2, 10:20], probs[3, 10:20] = 2.0, 2.0  # tied at the top: the first of them
    expected = probs.argmax(0).to(torch.uint8)
    assert torch.equal(class_argmax(probs), expected)
    assert set(expected.unique().tolist()) == {0, 1, 2, 3}
