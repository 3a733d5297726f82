"""GPU checks (skipped without CUDA): a bf16 mixed-precision step, and CPU/GPU parity."""

import numpy as np
import pytest
import torch

from migraseg.inference.predictor import Predictor
from migraseg.losses import CompoundLoss
from migraseg.model_meta import ModelMeta
from migraseg.models import build_model

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
TINY = {"encoder_name": "tu-test_resnet", "encoder_depth": 3, "decoder_channels": [16, 8, 8]}


def test_bf16_mixed_precision_step_is_finite_and_learns():
    torch.manual_seed(0)
    net = build_model(**TINY).cuda().to(memory_format=torch.channels_last)
    loss_fn, optimizer = CompoundLoss(), torch.optim.AdamW(net.parameters(), lr=1e-2)
    x = torch.rand(4, 1, 64, 64, device="cuda").contiguous(memory_format=torch.channels_last)
    y = (x[:, 0] > 0.5).long() * 3  # a learnable target: bright pixels are class 3
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = loss_fn(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_gpu_prediction_matches_cpu():
    torch.manual_seed(0)
    net = build_model(**TINY).eval()
    meta = ModelMeta(in_channels=1, pixel_size_um=0.1, patch_size=64, model=TINY)
    image = np.random.default_rng(0).random((1, 200, 150), dtype=np.float32) * 1000
    cpu = Predictor(net, meta, device="cpu", tile_size=128).probabilities(image, 0.1)
    gpu = Predictor(net, meta, device="cuda", tile_size=128).probabilities(image, 0.1)
    np.testing.assert_allclose(gpu, cpu, atol=3e-2)  # bf16 autocast on the GPU
    assert (gpu.argmax(0) == cpu.argmax(0)).mean() > 0.98


def test_gpu_tiles_of_several_images_match_cpu():
    """The folder loop's batched path (tiles of several images per pass) on the GPU."""
    from migraseg.inference.predictor import ArraySource

    torch.manual_seed(0)
    net = build_model(**TINY).eval()
    meta = ModelMeta(in_channels=1, pixel_size_um=0.1, patch_size=64, model=TINY)
    rng = np.random.default_rng(1)
    items = [(ArraySource(rng.random((1, s, s), dtype=np.float32) * 1000), 0.1) for s in (90, 160)]
    results = {}
    for device in ("cpu", "cuda"):
        predictor = Predictor(net, meta, device=device, tile_size=64, batch_size=8)
        results[device] = list(predictor.label_many(items, classes=[3]))
    for (cpu_labels, cpu_scaled), (gpu_labels, gpu_scaled) in zip(*results.values(), strict=True):
        assert (gpu_labels == cpu_labels).mean() > 0.98
        assert np.abs(gpu_scaled.astype(int) - cpu_scaled).max() <= 8  # bf16 on the GPU
