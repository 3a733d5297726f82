"""Predictor: rescale to the model's pixel size, normalise, tile, blend, map back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from skimage.transform import resize
from torch import nn

from migraseg.inference.loading import load_model
from migraseg.inference.tiling import gaussian_weights, padded_size, tile_starts
from migraseg.model_meta import ModelMeta
from migraseg.models.factory import OUTPUT_STRIDE
from migraseg.normalization import percentile_normalize
from migraseg.postprocess import migrasome_instances


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class Prediction:
    """Outputs on the input's pixel grid: class ids, migrasome instances and probabilities."""

    labels: np.ndarray  # (Y, X) uint8
    migrasome_ids: np.ndarray  # (Y, X) int32
    probabilities: np.ndarray  # (K, Y, X) float32


class Predictor:
    """Runs a segmentation network on whole images of any size.

    Args:
        net: network (eager or TorchScript) mapping (N, C, H, W) to logits (N, K, H, W).
        meta: the model's metadata (pixel size, normalisation, channels, post-processing).
        device: "auto", "cpu", "cuda", "cuda:1", ...
        tile_size: side of the sliding window in pixels at the model's pixel size (multiple of 32).
        overlap: fraction of a tile that neighbouring tiles share.
        batch_size: tiles per forward pass.
        tta: average over the four flips (4× slower, smoother).
    """

    def __init__(
        self,
        net: nn.Module,
        meta: ModelMeta,
        device: str = "auto",
        tile_size: int = 512,
        overlap: float = 0.25,
        batch_size: int = 4,
        tta: bool = False,
    ):
        if tile_size % OUTPUT_STRIDE:
            raise ValueError(f"tile_size must be a multiple of {OUTPUT_STRIDE}, got {tile_size}")
        self.device = resolve_device(device)
        self.net = net.to(self.device).eval()
        self.meta = meta
        self.tile_size, self.overlap, self.batch_size, self.tta = (
            tile_size,
            overlap,
            batch_size,
            tta,
        )

    @classmethod
    def from_path(cls, path: str | Path, **kwargs) -> Predictor:
        """Load a ``.ckpt`` or TorchScript file (see :func:`load_model`)."""
        net, meta = load_model(path)
        return cls(net, meta, **kwargs)

    # --- model-grid inference -------------------------------------------------------------
    @torch.inference_mode()
    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Softmax probabilities of a batch (N, C, H, W), flip-averaged when ``tta``."""
        with torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"
        ):
            flips = ((), (-1,), (-2,), (-2, -1)) if self.tta else ((),)
            total = None
            for dims in flips:
                x = batch.flip(dims) if dims else batch
                probs = torch.softmax(self.net(x).float(), dim=1)
                probs = probs.flip(dims) if dims else probs
                total = probs if total is None else total + probs
        return total / len(flips)

    def _tiles(self, shape: tuple[int, int], tile: tuple[int, int]) -> Iterator[tuple[int, int]]:
        for y in tile_starts(shape[0], tile[0], self.overlap):
            for x in tile_starts(shape[1], tile[1], self.overlap):
                yield y, x

    def sliding_window(self, image: np.ndarray) -> np.ndarray:
        """Probabilities (K, Y, X) float32 of a normalised image (C, Y, X) at the model's grid."""
        _, height, width = image.shape
        tile = (
            min(self.tile_size, padded_size(height, OUTPUT_STRIDE)),
            min(self.tile_size, padded_size(width, OUTPUT_STRIDE)),
        )
        ph, pw = max(height, tile[0]) - height, max(width, tile[1]) - width
        if ph or pw:
            mode = "reflect" if min(height, width) > max(ph, pw) else "edge"
            image = np.pad(image, ((0, 0), (0, ph), (0, pw)), mode=mode)
        shape = image.shape[1:]
        weights = torch.from_numpy(gaussian_weights(*tile))
        n_classes = len(self.meta.class_names)
        acc = torch.zeros((n_classes, *shape), dtype=torch.float32)
        norm = torch.zeros(shape, dtype=torch.float32)
        starts = list(self._tiles(shape, tile))
        for i in range(0, len(starts), self.batch_size):
            chunk = starts[i : i + self.batch_size]
            batch = np.stack([image[:, y : y + tile[0], x : x + tile[1]] for y, x in chunk])
            probs = self._forward(torch.from_numpy(batch).to(self.device)).cpu()
            for (y, x), p in zip(chunk, probs, strict=True):
                acc[:, y : y + tile[0], x : x + tile[1]] += p * weights
                norm[y : y + tile[0], x : x + tile[1]] += weights
        return (acc / norm)[:, :height, :width].numpy()

    # --- input-grid inference -------------------------------------------------------------
    def probabilities(self, image: np.ndarray, pixel_size_um: float) -> np.ndarray:
        """Class probabilities (K, Y, X) on the input's grid for a raw image (C, Y, X).

        The image is rescaled to the model's pixel size, normalised as in training, predicted
        tile by tile, and the probabilities are resized back to the input's shape.
        """
        if image.ndim != 3 or image.shape[0] != self.meta.in_channels:
            raise ValueError(
                f"expected an image (C={self.meta.in_channels}, Y, X), got shape {image.shape}"
            )
        if not pixel_size_um or pixel_size_um <= 0:
            raise ValueError("pixel size unknown: pass pixel_size_um (µm per pixel)")
        shape = image.shape[1:]
        factor = pixel_size_um / self.meta.pixel_size_um
        work = image.astype(np.float32)
        if abs(factor - 1) > 0.01:
            size = tuple(max(1, round(s * factor)) for s in shape)
            work = resize(
                work, (work.shape[0], *size), order=1, preserve_range=True, anti_aliasing=factor < 1
            )
        norm = self.meta.normalization
        work = percentile_normalize(work, norm["low"], norm["high"])
        probs = self.sliding_window(work)
        if probs.shape[1:] != shape:
            probs = resize(
                probs, (probs.shape[0], *shape), order=1, preserve_range=True, anti_aliasing=False
            ).astype(np.float32)
        return probs

    def predict(self, image: np.ndarray, pixel_size_um: float) -> Prediction:
        """Labels, migrasome instances and probabilities of a raw image (C, Y, X)."""
        probs = self.probabilities(image, pixel_size_um)
        labels = probs.argmax(0).astype(np.uint8)
        post = self.meta.postprocess
        ids = migrasome_instances(
            labels, pixel_size_um, post["min_diameter_um"], post["split_h_um"]
        )
        return Prediction(labels, ids, probs)
