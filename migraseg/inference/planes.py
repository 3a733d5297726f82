"""From a microscope file's axes to the 2D planes a model predicts.

tifffile names axes with letters (``T`` time, ``Z`` depth, ``C`` channel, ``S`` RGB samples,
``Y``/``X`` space, ``Q``/``I`` unlabelled). :func:`normalize_axes` maps them onto ``TZCYX``
(refusing what it cannot place), :class:`FileLayout` lists the frames to predict — one per time
point and z-slice, or per time point with z max-projected — and :class:`PlaneSource` reads any
run of rows of one frame (a :class:`~migraseg.inference.predictor.RowSource`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from migraseg.io import LazyTiff

SQUEEZE = "1"  # an axis of length 1 that is read at index 0
Z_MODES = ("slices", "max")


def normalize_axes(axes: str, shape: tuple[int, ...], n_model_channels: int) -> str:
    """Rewrite tifffile axes with letters from ``TZCYX`` (and ``1`` for dropped axes).

    ``S`` (RGB samples) becomes a channel axis; an unlabelled ``Q``/``I`` axis becomes the channel
    axis when its length equals the model's channel count (> 1); any other length-1 axis is
    dropped.

    Raises:
        ValueError: an axis that cannot be placed (pass ``--axes``), or no Y/X.
    """
    out = []
    for letter, size in zip(axes, shape, strict=True):
        if letter in "TZCYX":
            out.append(letter)
        elif ("C" not in axes + "".join(out)) and (
            letter == "S" or (letter in "QI" and size == n_model_channels > 1)
        ):
            out.append("C")
        elif size == 1:
            out.append(SQUEEZE)
        else:
            raise ValueError(
                f"unknown axes {axes!r} (shape {shape}): cannot tell what axis {letter!r} of "
                f"length {size} is; pass --axes, e.g. --axes {'TYX' if len(axes) == 3 else 'TCYX'}"
            )
    result = "".join(out)
    check_axes(result, shape)
    return result


def check_axes(axes: str, shape: tuple[int, ...]) -> None:
    """Raise ValueError unless ``axes`` fits ``shape`` and names Y and X once each."""
    if len(axes) != len(shape):
        raise ValueError(f"axes {axes!r} do not fit shape {shape} ({len(shape)} dimensions)")
    letters = axes.replace(SQUEEZE, "")
    if set(letters) - set("TZCYX") or len(set(letters)) != len(letters):
        raise ValueError(f"axes {axes!r}: use each of T, Z, C, Y, X at most once")
    if "Y" not in axes or "X" not in axes or axes.index("Y") > axes.index("X"):
        raise ValueError(f"axes {axes!r} (shape {shape}): need Y then X")


def select_channels(
    spec: list[str] | None,
    names: list[str] | None,
    n_file: int,
    n_model: int,
    model_names: list[str],
) -> list[int]:
    """Indices of the file's channels to feed the model, in the model's order.

    ``spec`` items are 0-based indices or channel names (case-insensitive). Without ``spec``:
    all channels if the counts match, else the model's channel names if the file has them.

    Raises:
        ValueError: an unknown channel, a count the model does not take, or an ambiguous file.
    """
    lowered = [n.lower() for n in names or []]
    described = ", ".join(f"{i}={n}" for i, n in enumerate(names or [])) or f"{n_file} unnamed"
    if spec:
        chosen = []
        for item in spec:
            if item.isdigit() and int(item) < n_file:
                chosen.append(int(item))
            elif item.lower() in lowered:
                chosen.append(lowered.index(item.lower()))
            else:
                raise ValueError(f"no channel {item!r} in the file (channels: {described})")
        if len(chosen) != n_model:
            raise ValueError(f"--channel gave {len(chosen)} channel(s); the model takes {n_model}")
        return chosen
    if n_file == n_model:
        return list(range(n_file))
    if model_names and all(m.lower() in lowered for m in model_names):
        return [lowered.index(m.lower()) for m in model_names]
    wanted = f" ({', '.join(model_names)})" if model_names else ""
    raise ValueError(
        f"the file has {n_file} channels ({described}); the model takes {n_model}{wanted}: "
        "choose with --channel INDEX_OR_NAME"
    )


@dataclass(frozen=True)
class Frame:
    """One 2D plane to predict: time index and z-slice (None: no such axis, or projected)."""

    t: int | None
    z: int | None


class PlaneSource:
    """Rows of one frame of a file, some channels, z max-projected when ``project_z``.

    Shape: :meth:`rows` returns (len(channels), h, X) in the file's dtype.
    """

    def __init__(
        self,
        tiff: LazyTiff,
        axes: str,
        frame: Frame,
        channels: list[int],
        project_z: bool = False,
    ):
        self.tiff, self.axes, self.frame, self.channels = tiff, axes, frame, channels
        self.project_z = project_z and "Z" in axes
        self.shape = (tiff.shape[axes.index("Y")], tiff.shape[axes.index("X")])

    def _read(self, channel: int, y: slice, x: slice) -> np.ndarray:
        depth = range(self.tiff.shape[self.axes.index("Z")]) if self.project_z else [None]
        plane = None
        for z in depth:
            index = {"T": self.frame.t, "Z": self.frame.z if z is None else z, "C": channel}
            index.update({"Y": y, "X": x, SQUEEZE: 0})
            part = self.tiff.read(tuple(index[a] for a in self.axes))
            plane = part if plane is None else np.maximum(plane, part)
        if plane.dtype.kind == "f" and not np.isfinite(plane).all():
            raise ValueError("contains NaN or infinite values")
        return plane

    def rows(self, y0: int, y1: int) -> np.ndarray:
        return np.stack([self._read(c, slice(y0, y1), slice(None)) for c in self.channels])

    def subsample(self, step: int) -> np.ndarray:
        every = slice(None, None, step)
        return np.stack([self._read(c, every, every) for c in self.channels])


class FileLayout:
    """How a file's axes map onto frames and outputs.

    Args:
        tiff: the open file.
        axes: its axes in ``TZCYX1`` letters (:func:`normalize_axes` or ``--axes``).
        z_mode: "slices" predicts every z-slice, "max" their maximum projection.
    """

    def __init__(self, tiff: LazyTiff, axes: str, z_mode: Literal["slices", "max"] = "slices"):
        if z_mode not in Z_MODES:
            raise ValueError(f"z mode must be one of {Z_MODES}, got {z_mode!r}")
        check_axes(axes, tiff.shape)
        if tiff.dtype.kind not in "uif":
            raise ValueError(f"unsupported pixel type {tiff.dtype} (use integer or float images)")
        self.tiff, self.axes, self.project_z = tiff, axes, z_mode == "max"
        self.size = {a: n for a, n in zip(axes, tiff.shape, strict=True) if a != SQUEEZE}
        self.n_channels = self.size.get("C", 1)
        if min(self.size["Y"], self.size["X"]) < 2:
            raise ValueError(f"image of {self.size['Y']}×{self.size['X']} px is too small")

    @property
    def frames(self) -> list[Frame]:
        times = range(self.size["T"]) if "T" in self.size else [None]
        depths = range(self.size["Z"]) if "Z" in self.size and not self.project_z else [None]
        return [Frame(t, z) for t in times for z in depths]

    @property
    def output_axes(self) -> str:
        """Axes of the label output: T and Z (unless projected) kept, then Y, X."""
        kept = "T" + ("" if self.project_z else "Z")
        return "".join(a for a in kept if a in self.size) + "YX"

    @property
    def output_shape(self) -> tuple[int, ...]:
        return tuple(self.size[a] for a in self.output_axes)

    def source(self, frame: Frame, channels: list[int]) -> PlaneSource:
        return PlaneSource(self.tiff, self.axes, frame, channels, self.project_z)
