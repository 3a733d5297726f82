"""The network of a migraseg bioimage.io package as plain source: torch and smp, no migraseg.

bioimage.io's ``pytorch_state_dict`` weights pair a state dict with the source of the module
that loads it, so they survive PyTorch upgrades that traced files may not. This file is copied
into every package as that source: it must stay self-contained (``tests/test_imports.py``
checks that it imports nothing of migraseg), and it must build exactly what
:func:`migraseg.models.build_model` builds, followed by the softmax the package's TorchScript
weights also end with (``tests/test_publish.py`` compares the two).
"""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
from torch import nn

ARCHITECTURES = {
    "unet": smp.Unet,
    "unetplusplus": smp.UnetPlusPlus,
    "fpn": smp.FPN,
    "deeplabv3plus": smp.DeepLabV3Plus,
}


class MigrasegNetwork(nn.Module):
    """An smp network and a softmax: (N, in_channels, H, W) → (N, classes, H, W) probabilities;
    H and W multiples of 32. Arguments as ``migraseg.models.build_model`` (no pretrained
    weights: the state dict holds them all)."""

    def __init__(
        self,
        arch: str = "unet",
        encoder_name: str = "resnet34",
        encoder_depth: int = 5,
        decoder_channels: tuple[int, ...] | list[int] = (256, 128, 64, 32, 16),
        in_channels: int = 1,
        classes: int = 4,
    ):
        super().__init__()
        kwargs: dict = {
            "encoder_name": encoder_name,
            "encoder_depth": encoder_depth,
            "encoder_weights": None,
            "in_channels": in_channels,
            "classes": classes,
        }
        if arch in ("unet", "unetplusplus"):
            kwargs["decoder_channels"] = list(decoder_channels)
        self.net = ARCHITECTURES[arch](**kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)
