"""Load a ``torch.export`` program (``.pt2``, written by :func:`migraseg.export.export_program`).

The program's graph module refuses ``.train()``/``.eval()`` (it was exported in eval mode, with
batch-norm statistics frozen), so it is wrapped in a module that accepts both and changes
nothing, and runs wherever an eager network runs (:class:`migraseg.inference.backends.TorchRunner`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from migraseg.model_meta import ModelMeta

PROGRAM_SUFFIX = ".pt2"


class ExportedNet(nn.Module):
    """A loaded program's module: (N, C, H, W) → logits (N, K, H, W); H, W multiples of 32."""

    def __init__(self, program: torch.export.ExportedProgram):
        super().__init__()
        self.program_module = program.module()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.program_module(x)

    def train(self, mode: bool = True) -> ExportedNet:
        """Record the mode only: the exported graph is always the eval-mode network."""
        self.training = mode
        return self


def load_exported_program(path: str | Path) -> tuple[ExportedNet, ModelMeta]:
    """Network and the metadata embedded as ``meta.json``.

    Raises:
        ValueError: the file has no embedded ``meta.json`` (not written by migraseg).
    """
    extra = {"meta.json": ""}
    program = torch.export.load(str(path), extra_files=extra)
    if not extra["meta.json"]:
        raise ValueError(f"{path}: torch.export program has no embedded meta.json")
    return ExportedNet(program), ModelMeta.from_dict(json.loads(extra["meta.json"]))
