"""Export trained networks: TorchScript (traced) with metadata that runs without migraseg.

smp models do not script reliably across versions, so the network is traced; the traced file
is then checked against the eager network on an input of another size than the trace input,
which also proves the trace did not bake in the example's shape.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from migraseg.model_meta import ModelMeta
from migraseg.models.factory import OUTPUT_STRIDE
from migraseg.utils.files import atomic_path


class ExportError(RuntimeError):
    """The exported model does not reproduce the eager one."""


def check_outputs(
    reference: torch.Tensor,
    candidate: torch.Tensor,
    what: str,
    rtol: float = 1e-4,
    atol: float = 1e-4,
) -> float:
    """Raise :class:`ExportError` unless ``candidate`` matches ``reference``; return max |diff|."""
    diff = float((reference - candidate).abs().max())
    scale = float(reference.abs().max())
    if diff > atol + rtol * scale:
        raise ExportError(
            f"{what} differs from the eager model: max |diff| {diff:.3g} "
            f"(logit scale {scale:.3g}, tolerance {atol + rtol * scale:.3g})"
        )
    return diff


def example_input(meta: ModelMeta, size: int, seed: int = 0) -> torch.Tensor:
    """A seeded random image (1, C, size, size) in the normalised intensity range."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((1, meta.in_channels, size, size), generator=generator)


def export_torchscript(net: nn.Module, meta: ModelMeta, path: str | Path) -> Path:
    """Trace ``net`` on CPU, verify it, and save it with ``meta.json`` embedded (atomically).

    Returns:
        The written path. Load it with ``torch.jit.load(path, _extra_files={"meta.json": ""})``.

    Raises:
        ExportError: the traced network differs from the eager one beyond tolerance.
    """
    net = net.eval().cpu()
    size = max(meta.patch_size, 2 * OUTPUT_STRIDE)
    with torch.no_grad():
        traced = torch.jit.trace(net, example_input(meta, size))
        check = example_input(meta, size + OUTPUT_STRIDE, seed=1)
        check_outputs(net(check), traced(check), "traced TorchScript")
    with atomic_path(path) as tmp:
        torch.jit.save(traced, str(tmp), _extra_files={"meta.json": meta.to_json()})
    return Path(path)
