"""Predictor: rescale to the model's pixel size, normalise, tile, blend, map back — in strips.

The image is never held as one float array. Rows are read from a :class:`RowSource` as the
sliding window reaches them, rescaled to the model's grid, normalised with percentiles of the
whole raw image (as in training, :mod:`migraseg.normalization`), and predicted one row of
tiles at a time; rows no later tile can touch are finished, mapped back to the input grid and
handed on. Memory therefore grows with the image
*width* (≈ (K + C + 1) × 2 tile heights × width × 4 bytes), not its area, and the result equals
whole-image processing: the strip logic only decides *when* a row is computed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from migraseg.constants import MIGRASOME
from migraseg.inference.backends import OnnxModel, make_runner
from migraseg.inference.device_tiling import (
    blend_whole,
    label_blocks,
    pad_to_tiles,
    stream_blended,
    to_input_grid,
)
from migraseg.inference.loading import choose_model_file, load_model
from migraseg.inference.settings import PredictSettings
from migraseg.inference.tiling import padded_size, tile_starts
from migraseg.model_meta import ModelMeta
from migraseg.models.factory import OUTPUT_STRIDE
from migraseg.normalization import percentile_scaling, subsample_step
from migraseg.postprocess import settle_migrasomes
from migraseg.resample import LinearResampler, model_grid_shape


class RowSource(Protocol):
    """A 2D image of C channels that can be read a run of rows at a time."""

    shape: tuple[int, int]  # (Y, X) in px

    def rows(self, y0: int, y1: int) -> np.ndarray:
        """Rows ``[y0, y1)``: (C, y1 - y0, X), any real dtype."""
        ...

    def subsample(self, step: int) -> np.ndarray:
        """Every ``step``-th row and column: (C, ⌈Y/step⌉, ⌈X/step⌉)."""
        ...


class ArraySource:
    """A :class:`RowSource` over an image (C, Y, X) in memory."""

    def __init__(self, image: np.ndarray):
        if image.ndim != 3:
            raise ValueError(f"expected an image (C, Y, X), got shape {image.shape}")
        if image.dtype.kind == "f" and not np.isfinite(image).all():
            raise ValueError("image contains NaN or infinite values")
        self.image, self.shape = image, image.shape[1:]

    def rows(self, y0: int, y1: int) -> np.ndarray:
        return self.image[:, y0:y1]

    def subsample(self, step: int) -> np.ndarray:
        return self.image[:, ::step, ::step]


@dataclass
class WholeImage:
    """A normalised image on the model's grid, held whole on the device (see label_many)."""

    image: torch.Tensor  # (C, H, W), padded up to one tile
    grid: tuple[int, int]  # (Y, X) on the model's grid, before padding
    shape: tuple[int, int]  # (Y, X) of the input
    tile: tuple[int, int]
    starts: tuple[list[int], list[int]]  # the tiles' row and column offsets

    @property
    def tiles(self) -> int:
        return len(self.starts[0]) * len(self.starts[1])


@dataclass
class Prediction:
    """Outputs on the input's pixel grid: class ids, migrasome instances and probabilities."""

    labels: np.ndarray  # (Y, X) uint8
    migrasome_ids: np.ndarray  # (Y, X) int32
    probabilities: np.ndarray  # (K, Y, X) float32


class Predictor:
    """Runs a segmentation network on whole images of any size.

    Args:
        net: eager or TorchScript network mapping (N, C, H, W) to logits (N, K, H, W), or an
            :class:`~migraseg.inference.backends.OnnxModel`.
        meta: the model's metadata (pixel size, normalisation, channels, post-processing).
        device: "auto", "cpu", "cuda", "cuda:1", ... (ONNX models: CPU only).
        tile_size: side of the sliding window in pixels at the model's pixel size (multiple of 32).
        overlap: fraction of a tile that neighbouring tiles share.
        batch_size: tiles per forward pass.
        tta: average over the four flips (4× the network time; steadier on unfamiliar images).
    """

    def __init__(
        self,
        net: nn.Module | OnnxModel,
        meta: ModelMeta,
        device: str = PredictSettings.device,
        tile_size: int = PredictSettings.tile_size,
        overlap: float = PredictSettings.overlap,
        batch_size: int = PredictSettings.batch_size,
        tta: bool = PredictSettings.tta,
    ):
        if tile_size % OUTPUT_STRIDE:
            raise ValueError(f"tile_size must be a multiple of {OUTPUT_STRIDE}, got {tile_size}")
        self.runner = make_runner(net, device, tta)
        self.meta = meta
        self.model_file: Path | None = None  # the file loaded, when built by from_path
        self.source_file: Path | None = None  # the file the user named (model_file's .pt)
        self._seconds_per_tile: float | None = None
        self.tile_size, self.overlap, self.batch_size = tile_size, overlap, batch_size

    @classmethod
    def from_path(cls, path: str | Path, backend: str = "auto", **kwargs) -> Predictor:
        """Load a ``.ckpt``, TorchScript or ONNX file (see :func:`choose_model_file`)."""
        model_file = choose_model_file(path, backend, kwargs.get("device", "auto"))
        net, meta = load_model(model_file)
        predictor = cls(net, meta, **kwargs)
        predictor.model_file, predictor.source_file = model_file, Path(path)
        return predictor

    # --- the model's grid -----------------------------------------------------------------
    def _tile_grid(self, shape: tuple[int, int]) -> tuple[tuple[int, int], list[int], list[int]]:
        """Tile (h, w) and the tiles' row and column starts over an image of ``shape``, which
        is padded up to one tile where it is smaller."""
        tile = (
            min(self.tile_size, padded_size(shape[0], OUTPUT_STRIDE)),
            min(self.tile_size, padded_size(shape[1], OUTPUT_STRIDE)),
        )
        ys = tile_starts(max(shape[0], tile[0]), tile[0], self.overlap)
        xs = tile_starts(max(shape[1], tile[1]), tile[1], self.overlap)
        return tile, ys, xs

    def model_grid(self, shape: tuple[int, int], pixel_size_um: float) -> tuple[int, int]:
        """(Y, X) of an image of ``shape`` px at ``pixel_size_um`` once on the model's grid."""
        return model_grid_shape(shape, pixel_size_um / self.meta.pixel_size_um)

    def count_tiles(self, shape: tuple[int, int], pixel_size_um: float) -> int:
        """Tiles the sliding window runs over an image of ``shape`` (Y, X) px (progress bars)."""
        _, ys, xs = self._tile_grid(self.model_grid(shape, pixel_size_um))
        return len(ys) * len(xs)

    def seconds_per_tile(self) -> float:
        """Measured time of one full tile on this runner (one warm-up, then one timed batch;
        measured once): for time estimates before long runs."""
        if self._seconds_per_tile is None:
            import time

            n = max(1, self.batch_size)
            shape = (n, self.meta.in_channels, self.tile_size, self.tile_size)
            batch = torch.zeros(shape, device=self.runner.device)
            self.runner(batch[:1])
            start = time.perf_counter()
            self.runner(batch).cpu()  # waits for the device
            self._seconds_per_tile = (time.perf_counter() - start) / n
        return self._seconds_per_tile

    def stream_model_grid(
        self,
        model_rows: Callable[[int, int], np.ndarray],
        shape: tuple[int, int],
        on_tiles: Callable[[int], None] | None = None,
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """Blended probabilities of a normalised image on the model's grid, in row blocks, on
        the runner's device (:func:`~migraseg.inference.device_tiling.stream_blended`).

        Args:
            model_rows: ``(y0, y1) -> (C, y1 - y0, X)`` float32 normalised rows; ``y1`` may pass
                the image's end (the rows beyond are padded here).
            shape: (Y, X) of the image on the model's grid.
            on_tiles: called with the number of tiles after each row of tiles.

        Yields:
            ``(y0, probs)`` with probs (K, h, X) float32 tensors for rows ``[y0, y0 + h)``.
        """
        tile, ys, xs = self._tile_grid(shape)
        n_classes = len(self.meta.class_names)
        return stream_blended(
            self.runner, model_rows, shape, tile, (ys, xs), n_classes, self.batch_size, on_tiles
        )

    def sliding_window(self, image: np.ndarray) -> np.ndarray:
        """Probabilities (K, Y, X) float32 of a normalised image (C, Y, X) at the model's grid."""
        blocks = self.stream_model_grid(lambda y0, y1: image[:, y0:y1], image.shape[1:])
        return np.concatenate([probs.cpu().numpy() for _, probs in blocks], axis=1)

    # --- the input's grid -----------------------------------------------------------------
    def model_input(
        self, source: RowSource, pixel_size_um: float
    ) -> tuple[Callable[[int, int], np.ndarray], tuple[int, int]]:
        """What the network sees of a raw image: normalised rows on the model's grid.

        Percentiles are taken on the input's own grid (a regular subsample above 4 MP), then
        rows are rescaled to the model's pixel size and normalised — as
        :func:`migraseg.data.dataset.load_sample` does for training.

        Returns:
            ``(rows, grid)``: ``rows(y0, y1)`` gives float32 (C, y1 - y0, X) of the model grid's
            rows ``[y0, y1)``; ``grid`` is that grid's (Y, X).
        """
        if not pixel_size_um or pixel_size_um <= 0:
            raise ValueError("pixel size unknown: pass pixel_size_um (µm per pixel)")
        height, width = source.shape
        grid = model_grid_shape((height, width), pixel_size_um / self.meta.pixel_size_um)
        to_rows, to_cols = (
            LinearResampler.create(n, m) for n, m in zip(source.shape, grid, strict=True)
        )
        sample = source.subsample(subsample_step(height, width))
        if sample.shape[0] != self.meta.in_channels:
            raise ValueError(
                f"expected an image (C={self.meta.in_channels}, Y, X), got {sample.shape[0]} "
                "channel(s)"
            )
        norm = self.meta.normalization
        scaling = percentile_scaling(sample, norm["low"], norm["high"])

        def rows(y0: int, y1: int) -> np.ndarray:
            in0, in1 = to_rows.input_range(y0, y1)
            block = to_rows.apply(source.rows(in0, in1), 1, y0, y1, in0)
            return scaling.apply(to_cols.apply(block, 2, 0, grid[1], 0))

        return rows, grid

    def stream(
        self,
        source: RowSource,
        pixel_size_um: float,
        on_tiles: Callable[[int], None] | None = None,
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """Class probabilities of a raw image on its own grid, in row blocks.

        The image is normalised and rescaled to the model's pixel size (:meth:`model_input`),
        predicted tile by tile, and the probabilities are resized back to the input's grid on
        the runner's device.

        Yields:
            ``(y0, probs)`` with probs (K, h, X) float32 tensors (on the runner's device) for
            input rows ``[y0, y0 + h)``.
        """
        model_rows, grid = self.model_input(source, pixel_size_um)
        blocks = self.stream_model_grid(model_rows, grid, on_tiles)
        return to_input_grid(blocks, grid, source.shape)

    def stream_labels(
        self,
        source: RowSource,
        pixel_size_um: float,
        on_tiles: Callable[[int], None] | None = None,
        classes: Sequence[int] | None = None,
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
        """uint8 labels (h, X) of a raw image in row blocks and the uint8 probabilities × 255 of
        ``classes`` (len(classes), h, X): all that leaves the device.

        Yields:
            ``(y0, labels, probs)`` for input rows ``[y0, y0 + h)``.
        """
        return label_blocks(self.stream(source, pixel_size_um, on_tiles), classes)

    def label_many(
        self,
        images: Iterable[tuple[RowSource, float]],
        classes: Sequence[int],
        on_tiles: Callable[[int], None] | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """:meth:`stream_labels` of many small images, with tiles of consecutive images in the
        same forward passes (a GPU is only busy with large batches; a folder of 512² files has
        one tile each). Each image is held whole on the device, for images of a few tiles.

        Args:
            images: ``(source, pixel_size_um)`` of raw images.
            classes: classes whose probabilities × 255 come with the labels.

        Yields:
            Per image, in order: uint8 labels (Y, X) and uint8 probabilities (len(classes), Y, X).
        """
        group: list[WholeImage] = []
        for source, pixel_size_um in images:
            model_rows, grid = self.model_input(source, pixel_size_um)
            tile, ys, xs = self._tile_grid(grid)
            if group and (tile != group[0].tile or sum(g.tiles for g in group) >= self.batch_size):
                yield from self._label_group(group, classes, on_tiles)
                group = []
            image = torch.from_numpy(model_rows(0, grid[0])).to(self.runner.device)
            group.append(WholeImage(pad_to_tiles(image, tile), grid, source.shape, tile, (ys, xs)))
        if group:
            yield from self._label_group(group, classes, on_tiles)

    def _label_group(
        self, group: list[WholeImage], classes: Sequence[int], on_tiles
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Labels of images whose tiles share forward passes (see :meth:`label_many`)."""
        blended = blend_whole(
            self.runner,
            [g.image for g in group],
            [g.grid for g in group],
            group[0].tile,
            [g.starts for g in group],
            len(self.meta.class_names),
            self.batch_size,
            on_tiles,
        )
        for probs, g in zip(blended, group, strict=True):
            blocks = label_blocks(to_input_grid(iter([(0, probs)]), g.grid, g.shape), classes)
            _, labels, scaled = next(blocks)
            yield labels, scaled

    def probabilities(self, image: np.ndarray, pixel_size_um: float) -> np.ndarray:
        """Class probabilities (K, Y, X) float32 on the input's grid for a raw image (C, Y, X)."""
        blocks = self.stream(ArraySource(image), pixel_size_um)  # both check the shape
        return np.concatenate([probs.cpu().numpy() for _, probs in blocks], axis=1)

    def predict(self, image: np.ndarray, pixel_size_um: float) -> Prediction:
        """Labels, migrasome instances and probabilities of a raw image (C, Y, X)."""
        probs = self.probabilities(image, pixel_size_um)
        labels = probs.argmax(0).astype(np.uint8)
        migrasome = probs[MIGRASOME] if len(probs) > MIGRASOME else None  # None: no such class
        ids = settle_migrasomes(labels, migrasome, pixel_size_um, self.meta.postprocess)
        return Prediction(labels, ids, probs)
