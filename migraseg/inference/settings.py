"""How a :class:`~migraseg.inference.predictor.Predictor` runs, as one typed value.

Configs carry it as their ``predict:`` section (configs/train.yaml, configs/eval.yaml); training
and migraseg-eval hand it to the evaluation, which builds each model's Predictor from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class PredictSettings:
    """Sliding-window settings (the Predictor's arguments, and the file loader's backend).

    Attributes:
        device: "auto", "cpu", "cuda", "cuda:1", ...
        tile_size: side of a tile in pixels at the model's pixel size (a multiple of 32).
        overlap: fraction of a tile that neighbouring tiles share.
        batch_size: tiles per forward pass.
        tta: average the network over the four flips (on by default: steadier on unfamiliar
            images; 4× the network time).
        backend: "auto" (ONNX Runtime on CPU when a ``.onnx`` lies beside the model), "torch"
            or "onnx".
    """

    device: str = "auto"
    tile_size: int = 512
    overlap: float = 0.25
    batch_size: int = 4
    tta: bool = True
    backend: str = "auto"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> PredictSettings:
        """From a config's ``predict:`` section; missing keys keep their defaults.

        Raises:
            ValueError: an unknown key (a typo must not fall back to a default silently).
        """
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown predict setting(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    def predictor_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``Predictor.from_path``."""
        return asdict(self)
