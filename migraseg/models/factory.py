"""Build segmentation networks with named parameters (smp silently ignores unknown kwargs)."""

from __future__ import annotations

import segmentation_models_pytorch as smp
from torch import nn

from migraseg.constants import NUM_CLASSES

OUTPUT_STRIDE = 32  # inputs must be multiples of this (five 2× downsamplings)

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "unet": smp.Unet,
    "unetplusplus": smp.UnetPlusPlus,
    "fpn": smp.FPN,
    "deeplabv3plus": smp.DeepLabV3Plus,
}


def build_model(
    arch: str = "unet",
    encoder_name: str = "resnet34",
    encoder_depth: int = 5,
    decoder_channels: tuple[int, ...] | list[int] = (256, 128, 64, 32, 16),
    encoder_weights: str | None = None,
    in_channels: int = 1,
    classes: int = NUM_CLASSES,
) -> nn.Module:
    """An smp network returning logits (N, classes, H, W) for input (N, in_channels, H, W).

    ``encoder_weights=None`` by default: ImageNet weights are downloaded from the Hugging Face
    hub, so they are an explicit opt-in (``encoder_weights: imagenet`` and ``HF_HUB_OFFLINE=0``).
    ``decoder_channels`` applies to U-Net-style decoders only and must have ``encoder_depth``
    entries.

    Raises:
        KeyError: unknown ``arch`` (the message lists the valid ones).
    """
    if arch not in ARCHITECTURES:
        raise KeyError(f"unknown arch {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    kwargs: dict = {
        "encoder_name": encoder_name,
        "encoder_depth": encoder_depth,
        "encoder_weights": encoder_weights,
        "in_channels": in_channels,
        "classes": classes,
    }
    if arch in ("unet", "unetplusplus"):
        if len(decoder_channels) != encoder_depth:
            raise ValueError(
                f"decoder_channels has {len(decoder_channels)} entries; encoder_depth is "
                f"{encoder_depth} and needs one per stage"
            )
        kwargs["decoder_channels"] = list(decoder_channels)
    return ARCHITECTURES[arch](**kwargs)
