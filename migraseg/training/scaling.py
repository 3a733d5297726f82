"""Effective batch size and the learning-rate scaling rule for multi-GPU training.

One optimizer step sees ``batch_size × devices × num_nodes × accumulate_grad_batches`` patches
(the effective batch size). When that grows, the step should grow too: for SGD the linear rule
(lr ∝ batch, Goyal et al. 2017), for Adam-type optimizers the square-root rule (lr ∝ √batch) is the
safer default. The configured ``optimizer.lr`` is the rate for ``reference_batch_size``.
"""

from __future__ import annotations

LR_SCALING_EXPONENTS = {"none": 0.0, "sqrt": 0.5, "linear": 1.0}


def effective_batch_size(batch_size: int, world_size: int, accumulate_grad_batches: int) -> int:
    """Patches per optimizer step over all devices and nodes."""
    return int(batch_size) * int(world_size) * int(accumulate_grad_batches)


def scale_learning_rate(lr: float, effective: int, reference: int, rule: str = "none") -> float:
    """``lr × (effective / reference) ** exponent`` with exponent 0 (none), ½ (sqrt) or 1 (linear).

    Raises:
        ValueError: an unknown rule or a non-positive batch size.
    """
    if rule not in LR_SCALING_EXPONENTS:
        rules = list(LR_SCALING_EXPONENTS)
        raise ValueError(f"lr_scaling.rule must be one of {rules}, got {rule!r}")
    if effective <= 0 or reference <= 0:
        raise ValueError(f"batch sizes must be positive, got {effective} and {reference}")
    return float(lr) * (effective / reference) ** LR_SCALING_EXPONENTS[rule]
