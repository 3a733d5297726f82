"""What an image layer's axes are, which channels feed the model, and its pixel size.

napari layers carry no axis names. A 2D layer is one plane and an RGB layer has its channels
last; any other layer is ambiguous (is the first of three axes channels, time or z?) and is
segmented only once the user has said what its axes are. Problems come back as
:class:`LayoutQuestion` with a sentence the widget shows as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

AXES_CHOICES = ("auto", "YX", "CYX", "TYX", "ZYX", "TCYX", "TZYX", "YXS", "TYXS")
FRAME_AXES = "TZ"  # segmented plane by plane
CHANNEL_AXES = "CS"  # S: RGB samples, last


class LayoutQuestion(ValueError):
    """The layer cannot be segmented as it is; the message says what to choose."""


def resolve_axes(shape: Sequence[int], rgb: bool, choice: str = "auto") -> str:
    """The layer's axes as letters (Y, X, C channels, S RGB samples, T time, Z depth).

    Raises:
        LayoutQuestion: ``auto`` on a layer of more than two axes that is not RGB, or a choice
            that does not fit the layer.
    """
    if choice == "auto":
        if (rgb and len(shape) == 3) or len(shape) == 2:
            return "YXS" if rgb else "YX"
        return _ask(shape)
    fits = choice.endswith("YXS") if rgb else choice.endswith("YX")
    if len(choice) != len(shape) or set(choice) - set("TZCYXS") or not fits:
        raise LayoutQuestion(
            f"axes {choice} do not fit a layer of shape {tuple(shape)}: choose axes with one "
            f"letter per dimension ({len(shape)}), ending in {'YXS (RGB)' if rgb else 'YX'}"
        )
    return choice


def _ask(shape: Sequence[int]) -> str:
    sizes = "×".join(str(s) for s in shape)
    raise LayoutQuestion(
        f"the layer has {len(shape)} dimensions ({sizes}): what are they? Choose its axes "
        f"(e.g. {'CYX or TYX or ZYX' if len(shape) == 3 else 'TCYX'}) in 'Axes'"
    )


def spatial_axes(axes: str) -> str:
    """Axes of the label layer: the image's without its channels."""
    return "".join(a for a in axes if a not in CHANNEL_AXES)


def to_frames(data: np.ndarray, axes: str) -> np.ndarray:
    """The layer's data as (frames, C, Y, X), frames being every T and Z plane in order (a
    view where NumPy can)."""
    present = [a for a in "TZ" if a in axes]
    channel = next((a for a in axes if a in CHANNEL_AXES), None)
    order = [axes.index(a) for a in present]
    order += [axes.index(channel)] if channel else []
    order += [axes.index("Y"), axes.index("X")]
    array = np.transpose(np.asarray(data), order)
    if channel is None:
        array = array[..., None, :, :]
    return array.reshape(-1, *array.shape[-3:])


def pick_channels(
    n_channels: int, model_channels: int, chosen: int | None, model_names: Sequence[str] = ()
) -> list[int]:
    """The layer's channels fed to the model, in the model's order.

    Raises:
        LayoutQuestion: the model reads one channel of several and none is chosen, a chosen
            channel the layer does not have, or channel counts that do not fit.
    """
    if chosen is not None and chosen >= 0:
        if chosen >= n_channels:
            raise LayoutQuestion(f"channel {chosen} chosen; the layer has {n_channels} (0–…)")
        if model_channels != 1:
            raise LayoutQuestion(
                f"the model reads {model_channels} channels ({', '.join(model_names)}): leave "
                "'Channel' at 'all'"
            )
        return [chosen]
    if n_channels == model_channels:
        return list(range(n_channels))
    if model_channels == 1:
        raise LayoutQuestion(
            f"the layer has {n_channels} channels and the model reads one: which? Choose it in "
            "'Channel'"
        )
    names = f" ({', '.join(model_names)})" if model_names else ""
    raise LayoutQuestion(
        f"the model reads {model_channels} channels{names}; the layer has {n_channels}: open "
        "an image with those channels or choose another model"
    )


def layer_pixel_size(scale: Sequence[float], typed: float | None) -> float:
    """µm per pixel: the layer's X scale when it is set (napari's default is 1), else the
    value typed in the widget.

    Raises:
        LayoutQuestion: neither is known.
    """
    if scale is not None and len(scale) and float(scale[-1]) not in (0.0, 1.0):
        return float(scale[-1])
    if typed and typed > 0:
        return float(typed)
    raise LayoutQuestion(
        "the layer has no pixel size (its scale is 1): type the pixel size in µm in 'Pixel size'"
    )
