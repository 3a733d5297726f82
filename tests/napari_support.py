"""What the napari plugin's tests share: a tiny exported model and a simulated image."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from migraseg.export import export_torchscript
from migraseg.model_meta import ModelMeta
from migraseg.models import build_model
from migraseg.synth.generator import make_sample

from .conftest import TINY_SYNTH
from .test_export import TINY

PIXEL_UM = 0.2  # TINY_SYNTH's pixel size: the model runs the images at their own grid


def require_gui() -> None:
    """Skip the module when napari (Qt) or a display is missing, except where CI asks for the
    GUI tests (``MIGRASEG_REQUIRE_GUI=1``: then a missing piece fails them)."""
    if os.environ.get("MIGRASEG_REQUIRE_GUI"):
        return
    pytest.importorskip("napari", reason="napari not installed (pip install 'migraseg[napari]')")
    if not (os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM")):
        pytest.skip("no display: run the GUI tests under xvfb-run -a", allow_module_level=True)


def tiny_net(in_channels: int = 1) -> tuple[torch.nn.Module, ModelMeta]:
    """An untrained U-Net of 0.08 M parameters (seeded: the same weights every call)."""
    torch.manual_seed(0)
    model = {**TINY, "in_channels": in_channels}
    names = [f"ch{i}" for i in range(in_channels)]
    meta = ModelMeta(
        in_channels=in_channels, pixel_size_um=PIXEL_UM, patch_size=64, model=model,
        channel_names=names,
    )  # fmt: skip
    return build_model(**model).eval(), meta


def tiny_model(folder: Path, in_channels: int = 1) -> Path:
    """:func:`tiny_net` exported as ``model.pt`` with migraseg's own export."""
    folder.mkdir(parents=True, exist_ok=True)
    return export_torchscript(*tiny_net(in_channels), folder / "model.pt")


def simulated(seed: int = 0, frames: int = 1) -> np.ndarray:
    """A simulated 128² confocal image (Y, X) float32, or a (T, Y, X) stack of ``frames``."""
    config = TINY_SYNTH
    if frames > 1:
        config = replace(config, timelapse=replace(config.timelapse, n_frames=frames))
    image = make_sample(config, seed, 0).image
    return image[:, 0] if frames > 1 else image[0]
