"""Training losses. Shapes: logits (N, C, H, W) float, target (N, H, W) int64 class ids.

Target pixels equal to ``ignore_index`` (255: not annotated, data/README.md) add nothing to any
term, so partially annotated masks train only on what was painted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from segmentation_models_pytorch.losses import DiceLoss, FocalLoss
from torch import nn

from migraseg.constants import FIBER, IGNORE_LABEL, NUM_CLASSES


def soft_erode(x: torch.Tensor) -> torch.Tensor:
    """Soft morphological erosion of (N, 1, H, W) probabilities (min over a 3×3 cross)."""
    vertical = -F.max_pool2d(-x, (3, 1), (1, 1), (1, 0))
    horizontal = -F.max_pool2d(-x, (1, 3), (1, 1), (0, 1))
    return torch.minimum(vertical, horizontal)


def soft_dilate(x: torch.Tensor) -> torch.Tensor:
    """Soft dilation (max over 3×3)."""
    return F.max_pool2d(x, 3, 1, 1)


def soft_skeleton(x: torch.Tensor, iterations: int) -> torch.Tensor:
    """Differentiable skeleton of (N, 1, H, W) probabilities (Shit et al. 2021, Alg. 1).

    ``iterations`` must reach half the widest structure's width (in pixels).
    """
    skeleton = F.relu(x - soft_dilate(soft_erode(x)))
    for _ in range(iterations):
        x = soft_erode(x)
        delta = F.relu(x - soft_dilate(soft_erode(x)))
        skeleton = skeleton + F.relu(delta - skeleton * delta)
    return skeleton


def soft_cldice_loss(
    prob: torch.Tensor,
    truth: torch.Tensor,
    valid: torch.Tensor | None = None,
    iterations: int = 5,
    smooth: float = 1.0,
) -> torch.Tensor:
    """1 − soft clDice of one class, pooled over the batch.

    Topology precision: the predicted soft skeleton inside the true mask; topology sensitivity:
    the true skeleton inside the predicted mask. Pixels outside ``valid`` (unannotated) count
    as empty in both maps and in no sum.

    Shape: prob, truth, valid (N, 1, H, W) floats in [0, 1] → scalar.
    """
    if valid is not None:  # unannotated pixels read as empty: no gradient reaches them
        prob, truth = prob * valid, truth * valid
    skel_pred = soft_skeleton(prob, iterations)
    with torch.no_grad():  # the truth needs no gradient: half the backward work
        skel_true = soft_skeleton(truth, iterations)
    if valid is not None:
        skel_pred, skel_true = skel_pred * valid, skel_true * valid
    precision = ((skel_pred * truth).sum() + smooth) / (skel_pred.sum() + smooth)
    sensitivity = ((skel_true * prob).sum() + smooth) / (skel_true.sum() + smooth)
    return 1.0 - 2.0 * precision * sensitivity / (precision + sensitivity)


class CompoundLoss(nn.Module):
    """Weighted sum of soft Dice (per class, averaged), cross-entropy or focal loss, and
    optionally soft clDice of one class (the fibers).

    Dice counters the class imbalance (fibers and migrasomes cover < 2 % of pixels); the pixel
    term keeps gradients well-behaved early on. ``class_weights`` weight the cross-entropy.
    ``cldice_weight`` > 0 adds soft clDice (Shit et al., CVPR 2021) on ``cldice_class``, which
    rewards unbroken thin structures rather than pixel overlap. Pixels whose target is
    ``ignore_index`` count in no term; a batch with no annotated pixel gives a zero loss.
    """

    def __init__(
        self,
        dice_weight: float = 1.0,
        ce_weight: float = 1.0,
        class_weights: list[float] | None = None,
        focal: bool = False,
        ignore_index: int | None = IGNORE_LABEL,
        cldice_weight: float = 0.0,
        cldice_class: int = FIBER,
        cldice_iterations: int = 5,
    ):
        super().__init__()
        if class_weights is not None and len(class_weights) != NUM_CLASSES:
            raise ValueError(f"class_weights needs {NUM_CLASSES} entries, got {class_weights}")
        if focal and class_weights is not None:
            raise ValueError("focal loss takes no class_weights (smp's FocalLoss has none)")
        if not 0 <= cldice_class < NUM_CLASSES:
            raise ValueError(f"cldice_class must be a class id 0–{NUM_CLASSES - 1}")
        self.dice_weight, self.ce_weight = dice_weight, ce_weight
        self.cldice_weight, self.cldice_class = cldice_weight, cldice_class
        self.cldice_iterations, self.ignore_index = cldice_iterations, ignore_index
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
        valid = None if self.ignore_index is None else target != self.ignore_index
        if valid is not None and not valid.any():
            return logits.sum() * 0.0  # nothing annotated: no signal (mean CE would be NaN)
        loss = self.dice_weight * self.dice(logits, target)
        loss = loss + self.ce_weight * self.pixel(logits, target)
        if self.cldice_weight:
            prob = logits.softmax(1)[:, self.cldice_class : self.cldice_class + 1]
            truth = (target == self.cldice_class).unsqueeze(1).float()
            mask = None if valid is None else valid.unsqueeze(1).float()
            loss = loss + self.cldice_weight * soft_cldice_loss(
                prob, truth, mask, self.cldice_iterations
            )
        return loss
