"""Runners: turn a batch of normalised tiles into class probabilities on one backend.

A runner maps float32 (N, C, H, W) tiles to float32 (N, K, H, W) softmax probabilities, as
tensors on its ``device`` (where the sliding window blends them, :mod:`.device_tiling`),
optionally averaged over the four flips (test-time augmentation: each flip of the input is
predicted and flipped back). PyTorch runs eager or TorchScript networks on CPU or GPU (bf16
autocast on GPU); ONNX Runtime runs exported ``.onnx`` files on CPU, 1.6–3.2× faster than eager
PyTorch there (../shared/STACK.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from migraseg.utils.torchscript import quiet_torchscript

FLIPS: tuple[tuple[int, ...], ...] = ((), (-1,), (-2,), (-2, -1))


class Runner(Protocol):
    name: str
    device: torch.device
    tta: bool

    def __call__(self, batch: torch.Tensor) -> torch.Tensor: ...


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def freeze(module: torch.jit.ScriptModule) -> torch.jit.ScriptModule:
    """Fold weights and batch norms into the graph (CPU inference ~15–50 % faster here)."""
    with quiet_torchscript():
        return torch.jit.optimize_for_inference(torch.jit.freeze(module.eval()))


class TorchRunner:
    """An eager or TorchScript network on a torch device.

    Args:
        net: maps (N, C, H, W) to logits (N, K, H, W).
        device: torch device; CUDA runs under bf16 autocast when ``amp``.
        tta: average the four flips.
        channels_last: NHWC memory format (often faster on GPUs with tensor cores).
    """

    def __init__(
        self,
        net: nn.Module,
        device: torch.device,
        tta: bool = False,
        amp: bool = True,
        channels_last: bool = False,
    ):
        self.device, self.tta, self.channels_last = device, tta, channels_last
        self.amp = amp and device.type == "cuda"
        self.net = net.to(device).eval()
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        kind = "torchscript" if isinstance(net, torch.jit.ScriptModule) else "eager"
        if kind == "torchscript" and device.type == "cpu":
            self.net, kind = freeze(self.net), "torchscript-frozen"
        self.name = f"{kind}/{device.type}{'/bf16' if self.amp else ''}"

    @torch.inference_mode()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        total = None
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            for dims in FLIPS if self.tta else ((),):
                logits = self.net(x.flip(dims) if dims else x).float()
                probs = torch.softmax(logits, dim=1)
                probs = probs.flip(dims) if dims else probs
                total = probs if total is None else total + probs
        return total / (len(FLIPS) if self.tta else 1)


class OnnxModel:
    """An exported ``.onnx`` network in an ONNX Runtime CPU session, with its ``meta.json``.

    Args:
        path: file written by :func:`migraseg.export.export_onnx`.
        threads: intra-op threads (None: ONNX Runtime's default, all cores).
    """

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime as ort  # optional dependency: imported only when used

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        props = self.session.get_modelmeta().custom_metadata_map
        self.meta_json = props.get("meta.json")

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N, K, H, W) of float32 tiles (N, C, H, W)."""
        x = np.ascontiguousarray(batch, dtype=np.float32)
        return self.session.run(None, {self.input_name: x})[0]

    def meta(self) -> dict:
        if not self.meta_json:
            raise ValueError(f"{self.path}: ONNX file has no meta.json metadata")
        return json.loads(self.meta_json)


class OnnxRunner:
    """Probabilities from an :class:`OnnxModel` (CPU tensors), flip-averaged when ``tta``."""

    def __init__(self, model: OnnxModel, tta: bool = False):
        self.model, self.tta = model, tta
        self.name, self.device = "onnxruntime/cpu", torch.device("cpu")

    @torch.inference_mode()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        total = None
        for dims in FLIPS if self.tta else ((),):
            x = batch.flip(dims) if dims else batch
            logits = torch.from_numpy(self.model(x.cpu().numpy()).astype(np.float32))
            probs = torch.softmax(logits, dim=1)
            probs = probs.flip(dims) if dims else probs
            total = probs if total is None else total + probs
        return total / (len(FLIPS) if self.tta else 1)


def make_runner(model: nn.Module | OnnxModel, device: str = "auto", tta: bool = False) -> Runner:
    """The runner for ``model``: ONNX Runtime for an :class:`OnnxModel`, else PyTorch."""
    if isinstance(model, OnnxModel):
        if resolve_device(device).type != "cpu":
            raise ValueError(f"{model.path}: ONNX models run on the CPU here; use the .pt on GPU")
        return OnnxRunner(model, tta)
    return TorchRunner(model, resolve_device(device), tta)
