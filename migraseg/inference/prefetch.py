"""Read the next input while the current one is predicted: one background thread, one file ahead.

The folder loop of :class:`~migraseg.inference.predict_files.BatchPredictor` hands
:class:`Prefetcher` the file it will predict next; a thread opens it and reads all its pixels
into memory (decoding compressed TIFF tiles, OME-Zarr chunks) while the device works on the
current file. Memory stays bounded: at most one file is held ahead, and only files of at most
``max_bytes`` of pixels (larger ones are read lazily, strip by strip, as without prefetching).
Any problem in the thread is dropped: the file is then opened the usual way, which raises the
usual error, so outputs and messages are the same with and without prefetching.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

MAX_PREFETCH_BYTES = 512 * 2**20  # pixels of one file held ahead at most


class LoadedImage:
    """An image read whole into memory, with the interface of :class:`migraseg.io.LazyTiff`."""

    def __init__(self, source: Any, array: np.ndarray):
        self.path, self.axes, self.shape, self.dtype = (
            source.path,
            source.axes,
            source.shape,
            array.dtype,
        )
        self.pixel_size_um = source.pixel_size_um
        self.channel_names = source.channel_names
        self.frame_interval_min = source.frame_interval_min
        self.array = array

    def read(self, selection: tuple[int | slice, ...]) -> np.ndarray:
        return np.array(self.array[selection])

    def close(self) -> None:
        pass

    def __enter__(self) -> LoadedImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_whole(image: Any, max_bytes: int) -> LoadedImage | None:
    """An open image's pixels read into memory, or None when they exceed ``max_bytes``."""
    if math.prod(image.shape) * image.dtype.itemsize > max_bytes:
        return None
    return LoadedImage(image, image.read(tuple(slice(None) for _ in image.shape)))


def load(path: Path, open_image: Callable[[Path], Any], max_bytes: int) -> LoadedImage | None:
    """``path`` read whole, or None when it is larger than ``max_bytes`` (or unreadable)."""
    try:
        with open_image(path) as image:
            return read_whole(image, max_bytes)
    except Exception:  # the main thread opens it again and reports the error
        return None


class Prefetcher:
    """Reads one file ahead in a background thread (use as a context manager)."""

    def __init__(self, open_image: Callable[[Path], Any], max_bytes: int = MAX_PREFETCH_BYTES):
        self.open_image, self.max_bytes = open_image, max_bytes
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="migraseg-prefetch")
        self.pending: tuple[Path, Future] | None = None

    def start(self, path: Path) -> None:
        """Begin reading ``path`` (dropping a file read ahead and never taken)."""
        self.pending = (path, self.executor.submit(load, path, self.open_image, self.max_bytes))

    def take(self, path: Path) -> LoadedImage | None:
        """``path`` read whole if it was read ahead and fits, else None (open it lazily)."""
        pending, self.pending = self.pending, None
        if pending is None or pending[0] != path:
            return None
        return pending[1].result()

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pending = None
        self.executor.shutdown(wait=True, cancel_futures=True)
