"""Sliding-window blending on the runner's device, in row blocks.

Tiles are cut from a normalised strip once it is on the device, predicted, weighted with a
Gaussian and accumulated there; blended probabilities are mapped back to the input's grid and
turned into labels there too, so only uint8 labels (and uint8 probabilities when asked) cross
back to the host. On the CPU these are the same float32 operations, in the same order, as the
NumPy blending they replaced, so labels are identical (tests/test_device_tiling.py).

Memory stays bounded by the image's *width*: the accumulator holds at most two tile heights of
K class maps (see :mod:`migraseg.inference.predictor`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from migraseg.inference.backends import Runner
from migraseg.inference.tiling import gaussian_weights
from migraseg.resample import LinearResampler

Blocks = Iterator[tuple[int, torch.Tensor]]


def stream_blended(
    runner: Runner,
    model_rows: Callable[[int, int], np.ndarray],
    shape: tuple[int, int],
    tile: tuple[int, int],
    starts: tuple[list[int], list[int]],
    n_classes: int,
    batch_size: int,
    on_tiles: Callable[[int], None] | None = None,
) -> Blocks:
    """Gaussian-blended probabilities of a normalised image, one row of tiles at a time.

    Args:
        runner: maps (N, C, h, w) tiles to (N, K, h, w) probabilities on ``runner.device``.
        model_rows: ``(y0, y1) -> (C, y1 - y0, X)`` float32 normalised rows (host memory).
        shape: (Y, X) of the image on the model's grid; smaller axes are padded to ``tile``.
        tile: (h, w) of a tile; ``starts``: the tiles' row and column offsets.
        on_tiles: called with the number of tiles after each row of tiles.

    Yields:
        ``(y0, probs)``: probs (K, h, X) float32 on the device for rows ``[y0, y0 + h)``.
    """
    height, width = shape
    ys, xs = starts
    device = runner.device
    ph, pw, pad_mode = padding(shape, tile)
    weights = torch.from_numpy(gaussian_weights(*tile)).to(device)
    acc = torch.zeros((n_classes, 0, width + pw), device=device)
    norm = torch.zeros((0, width + pw), device=device)
    base = 0
    for i, y in enumerate(ys):
        grow = y + tile[0] - base - acc.shape[1]
        if grow > 0:
            acc = torch.cat([acc, acc.new_zeros((n_classes, grow, acc.shape[2]))], dim=1)
            norm = torch.cat([norm, norm.new_zeros((grow, norm.shape[1]))], dim=0)
        strip = torch.from_numpy(model_rows(y, min(y + tile[0], height))).to(device)
        if ph or pw:
            pad = (0, pw, 0, tile[0] - strip.shape[1])
            strip = F.pad(strip[None], pad, mode=pad_mode)[0]
        for j in range(0, len(xs), batch_size):
            chunk = xs[j : j + batch_size]
            batch = torch.stack([strip[:, :, x : x + tile[1]] for x in chunk])
            for x, probs in zip(chunk, runner(batch), strict=True):
                acc[:, y - base : y - base + tile[0], x : x + tile[1]] += probs * weights
                norm[y - base : y - base + tile[0], x : x + tile[1]] += weights
        if on_tiles:
            on_tiles(len(xs))
        done = (ys[i + 1] if i + 1 < len(ys) else height + ph) - base
        rows = min(done, height - base)
        if rows > 0:
            yield base, acc[:, :rows, :width] / norm[:rows, :width]
        acc, norm, base = acc[:, done:].clone(), norm[done:].clone(), base + done


def resample_tensor(
    resampler: LinearResampler, data: torch.Tensor, axis: int, out0: int, out1: int, in0: int
) -> torch.Tensor:
    """:meth:`LinearResampler.apply` on a tensor (any device), for resamplers without
    smoothing (enlarging, or ``anti_alias=False``): the same float32 operations."""
    if resampler.identity:
        return data.narrow(axis, out0 - in0, out1 - out0)
    if resampler.sigma:
        raise ValueError("resample_tensor does not smooth; create the resampler without it")
    lo = torch.from_numpy(resampler.lo[out0:out1] - in0).to(data.device)
    hi = torch.from_numpy(resampler.hi[out0:out1] - in0).to(data.device)
    low, high = data.index_select(axis, lo), data.index_select(axis, hi)
    shape = [1] * data.ndim
    shape[axis] = out1 - out0
    weight = torch.from_numpy(resampler.weight[out0:out1]).to(data.device).reshape(shape)
    return low + (high - low) * weight


def to_input_grid(blocks: Blocks, grid: tuple[int, int], shape: tuple[int, int]) -> Blocks:
    """Row blocks on the model's ``grid`` (Y, X) → row blocks on the input's ``shape``, each
    yielded as soon as the rows it needs have arrived (linear, pixel centres aligned)."""
    height, width = shape
    if grid == shape:
        yield from blocks
        return
    rows_back, cols_back = (
        LinearResampler.create(m, n, anti_alias=False) for n, m in zip(shape, grid, strict=True)
    )
    buffer, buffer_y0, next_row = None, 0, 0
    for y0, block in blocks:
        buffer, buffer_y0 = (
            (block, y0) if buffer is None else (torch.cat([buffer, block], dim=1), buffer_y0)
        )
        end = y0 + block.shape[1]
        ready = height if end == grid[0] else rows_back.outputs_ready(end)
        if ready > next_row:
            rows = resample_tensor(rows_back, buffer, 1, next_row, ready, buffer_y0)
            yield next_row, resample_tensor(cols_back, rows, 2, 0, width, 0)
            next_row = ready
            if next_row < height:
                keep = min(int(rows_back.lo[next_row]) - buffer_y0, buffer.shape[1])
                buffer, buffer_y0 = buffer[:, keep:], buffer_y0 + keep


def class_argmax(probs: torch.Tensor) -> torch.Tensor:
    """``probs.argmax(0)`` as uint8 (the first class wins ties), class by class: ~9× faster
    than torch's argmax across the leading axis of a (K, h, X) tensor on the CPU."""
    best = probs[0]
    labels = torch.zeros(probs.shape[1:], dtype=torch.uint8, device=probs.device)
    for k in range(1, probs.shape[0]):
        labels.masked_fill_(probs[k] > best, k)
        best = torch.maximum(best, probs[k])
    return labels


def label_blocks(
    blocks: Blocks, classes: Sequence[int] | None = None
) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """Argmax labels (h, X) uint8 and, for ``classes``, their probabilities × 255 (len(classes),
    h, X) uint8, computed on the device; only these cross to the host."""
    for y0, probs in blocks:
        labels = class_argmax(probs).cpu().numpy()
        scaled = None
        if classes is not None:
            scaled = torch.round(probs[list(classes)] * 255).to(torch.uint8).cpu().numpy()
        yield y0, labels, scaled


def blend_whole(
    runner: Runner,
    images: list[torch.Tensor],
    shapes: list[tuple[int, int]],
    tile: tuple[int, int],
    starts: list[tuple[list[int], list[int]]],
    n_classes: int,
    batch_size: int,
    on_tiles: Callable[[int], None] | None = None,
) -> list[torch.Tensor]:
    """Gaussian-blended probabilities of several whole images, their tiles batched together.

    A GPU is busy only with large batches, and a folder of small images has few tiles each, so
    tiles of consecutive images share forward passes. Each image's tiles are added in the order
    :func:`stream_blended` adds them, so the sums are the same float32 operations.

    Args:
        images: normalised (C, H, W) images on the runner's device, padded as
            :func:`stream_blended` pads them (:func:`pad_to_tiles`).
        shapes: each image's (Y, X) before padding; ``starts``: each image's tile offsets.

    Returns:
        Per image, probabilities (K, Y, X) float32 on the device.
    """
    weights = torch.from_numpy(gaussian_weights(*tile)).to(runner.device)
    accs = [image.new_zeros((n_classes, *image.shape[1:])) for image in images]
    norms = [image.new_zeros(image.shape[1:]) for image in images]
    tiles = [(k, y, x) for k, (ys, xs) in enumerate(starts) for y in ys for x in xs]
    for j in range(0, len(tiles), batch_size):
        chunk = tiles[j : j + batch_size]
        batch = torch.stack([images[k][:, y : y + tile[0], x : x + tile[1]] for k, y, x in chunk])
        for (k, y, x), probs in zip(chunk, runner(batch), strict=True):
            accs[k][:, y : y + tile[0], x : x + tile[1]] += probs * weights
            norms[k][y : y + tile[0], x : x + tile[1]] += weights
        if on_tiles:
            on_tiles(len(chunk))
    return [
        acc[:, :h, :w] / norm[:h, :w] for acc, norm, (h, w) in zip(accs, norms, shapes, strict=True)
    ]


def padding(shape: tuple[int, int], tile: tuple[int, int]) -> tuple[int, int, str]:
    """Rows and columns an image of ``shape`` lacks to hold one ``tile``, and how to fill them
    (mirrored where the image is large enough to mirror, else its edge repeated)."""
    height, width = shape
    ph, pw = max(height, tile[0]) - height, max(width, tile[1]) - width
    return ph, pw, "reflect" if min(height, width) > max(ph, pw) else "replicate"


def pad_to_tiles(image: torch.Tensor, tile: tuple[int, int]) -> torch.Tensor:
    """A (C, Y, X) image padded up to one tile where smaller, as :func:`stream_blended` pads."""
    ph, pw, mode = padding(tuple(image.shape[1:]), tile)
    return F.pad(image[None], (0, pw, 0, ph), mode=mode)[0] if ph or pw else image
