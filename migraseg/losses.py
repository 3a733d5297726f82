"""Training losses. Shapes: logits (N, C, H, W) float, target (N, H, W) int64 class ids."""

from __future__ import annotations

import torch
from segmentation_models_pytorch.losses import DiceLoss, FocalLoss
from torch import nn

from migraseg.constants import NUM_CLASSES


class CompoundLoss(nn.Module):
    """Weighted sum of soft Dice (per class, averaged) and cross-entropy or focal loss.

    Dice counters the class imbalance (fibers and migrasomes cover < 2 % of pixels); the pixel
    term keeps gradients well-behaved early on. ``class_weights`` weight the cross-entropy.
    """

    def __init__(
        self,
        dice_weight: float = 1.0,
        ce_weight: float = 1.0,
        class_weights: list[float] | None = None,
        focal: bool = False,
        ignore_index: int | None = None,
    ):
        super().__init__()
        if class_weights is not None and len(class_weights) != NUM_CLASSES:
            raise ValueError(f"class_weights needs {NUM_CLASSES} entries, got {class_weights}")
        if focal and class_weights is not None:
            raise ValueError("focal loss takes no class_weights (smp's FocalLoss has none)")
        self.dice_weight, self.ce_weight = dice_weight, ce_weight
        self.dice = DiceLoss("multiclass", from_logits=True, ignore_index=ignore_index)
        weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        ce_ignore = -100 if ignore_index is None else ignore_index
        self.pixel = (
            FocalLoss("multiclass", ignore_index=ignore_index)
            if focal
            else nn.CrossEntropyLoss(weight=weight, ignore_index=ce_ignore)
        )

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()  # stable under bf16 autocast
        return self.dice_weight * self.dice(logits, target) + self.ce_weight * self.pixel(
            logits, target
        )
