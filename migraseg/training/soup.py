"""Average the weights of models fine-tuned from one model (a uniform "model soup").

Runs that start from the same weights and train on the same kind of data end in one basin of
the loss; the mean of their weights is one network, as fast as each, and often more robust on
images unlike the training images than any of them (Wortsman et al., ICML 2022). Both shipped
models, ``confocal`` and ``tem``, are such means (docs/results.md, "Weight averaging"). The soup
takes the first model's metadata; tune its decoding afterwards (scripts/tune_decoding.py), since
the mean network's probabilities are not those of any ingredient.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from migraseg.model_meta import ModelMeta
from migraseg.training.run import InitWeights, TrainingInputError, load_init_weights


def _check_same_network(first: InitWeights, other: InitWeights) -> None:
    if other.meta.model != first.meta.model:
        raise TrainingInputError(
            f"{other.path}: architecture {other.meta.model} differs from {first.path}'s "
            f"{first.meta.model}; only models of one architecture can be averaged"
        )
    for key, value in first.state_dict.items():
        theirs = other.state_dict.get(key)
        if theirs is None or theirs.shape != value.shape:
            raise TrainingInputError(f"{other.path}: weight {key} differs from {first.path}'s")
    for key in ("modality", "pixel_size_um", "normalization"):
        if getattr(other.meta, key) != getattr(first.meta, key):
            raise TrainingInputError(
                f"{other.path}: {key} {getattr(other.meta, key)!r} differs from {first.path}'s "
                f"{getattr(first.meta, key)!r}; models that read images differently cannot be mixed"
            )


def average_weights(models: Sequence[str | Path]) -> tuple[dict[str, torch.Tensor], ModelMeta]:
    """The mean of the models' floating-point weights (in fp32) and the first model's metadata.

    Integer buffers (batch-norm step counts) are the first model's.

    Raises:
        TrainingInputError: fewer than two models, one that cannot be loaded, or models whose
            architecture, weights' shapes, modality, pixel size or normalisation differ.
    """
    if len(models) < 2:
        raise TrainingInputError(f"give two or more models to average, got {len(models)}")
    loaded = [load_init_weights(path, role="average") for path in models]
    first = loaded[0]
    for other in loaded[1:]:
        _check_same_network(first, other)
    mean = {}
    for key, value in first.state_dict.items():
        if value.is_floating_point():
            mean[key] = sum(m.state_dict[key].float() for m in loaded) / len(loaded)
        else:
            mean[key] = value.clone()
    return mean, first.meta
