"""visualize: class colours, overlays, panels and error maps, pixel by pixel."""

import numpy as np

from migraseg.visualize import CLASS_COLOURS, ERROR_COLOURS, colorize, error_map, overlay, panel


def test_colorize_maps_class_ids_and_shows_unannotated_in_gray():
    labels = np.array([[0, 1], [2, 3]])
    assert (colorize(labels) == CLASS_COLOURS[labels]).all()
    gray = colorize(np.array([[255]]))[0, 0]
    assert gray[0] == gray[1] == gray[2] and not (gray == CLASS_COLOURS).all(axis=1).any()


def test_overlay_tints_only_foreground():
    image = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    labels = np.zeros((8, 8), np.uint8)
    labels[2:4, 2:4] = 3
    out = overlay(image, labels, alpha=1.0)
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    assert (out[2:4, 2:4] == CLASS_COLOURS[3]).all()
    background = out[labels == 0]
    assert (background[:, 0] == background[:, 1]).all()  # gray: R = G = B


def test_panel_puts_input_truth_and_prediction_side_by_side():
    image, truth, pred = np.random.rand(16, 20), np.ones((16, 20), int), np.zeros((16, 20), int)
    out = panel(image, truth, pred)
    assert out.shape == (16, 3 * 20 + 8, 3)
    assert (out[:, 24:44] == CLASS_COLOURS[1]).all() and (out[:, 48:] == 0).all()
    assert (out[:, 20:24] == 255).all()  # white gaps


def test_error_map_colours_each_outcome():
    truth = np.array([[1, 2, 0, 3, 0]])
    pred = np.array([[1, 0, 2, 1, 0]])
    out = error_map(np.zeros((1, 5), np.float32), truth, pred, alpha=1.0)
    names = ["correct", "missed", "false", "confused"]
    for x, name in enumerate(names):
        assert tuple(out[0, x]) == ERROR_COLOURS[name], name
    assert tuple(out[0, 4]) == (0, 0, 0)  # background of a dark image stays dark
