"""The README's picture of the napari widget: a simulated image segmented in the viewer.

Opens napari with the plugin's widget docked, adds the plugin's simulated sample image,
segments it with ``--model`` (as a user would press "Segment"), centres the view on the first
migrasome of the table and saves ``viewer.screenshot(canvas_only=False)``, downscaled.

    xvfb-run -a python scripts/napari_screenshot.py --model outputs/<run>/model.pt \
        --out docs/images/napari_widget.png
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

WINDOW = (1400, 900)  # px of the viewer's window
MAX_WIDTH = 1000  # px of the saved PNG


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a migraseg model (.pt, .onnx, ...)")
    parser.add_argument("--out", default="docs/images/napari_widget.png", type=Path)
    parser.add_argument("--seed", type=int, default=2, help="simulated image's seed")
    args = parser.parse_args()

    import napari
    from PIL import Image
    from qtpy.QtWidgets import QApplication
    from skimage.transform import resize

    from migraseg.napari.sample import simulated_image
    from migraseg.napari.widget import SegmentWidget

    viewer = napari.Viewer()
    viewer.window.resize(*WINDOW)
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget, name="migraseg", area="right")
    ((data, kwargs, _),) = simulated_image(seed=args.seed)
    viewer.add_image(data, **kwargs)
    widget.model_edit.setText(str(args.model))
    widget.segment()
    while widget.worker is not None:
        QApplication.processEvents()
        time.sleep(0.05)
    print(widget.message.text())
    viewer.reset_view()
    QApplication.processEvents()
    shot = viewer.screenshot(canvas_only=False, flash=False)[..., :3]
    if shot.shape[1] > MAX_WIDTH:
        size = (round(shot.shape[0] * MAX_WIDTH / shot.shape[1]), MAX_WIDTH)
        shot = (resize(shot, size, anti_aliasing=True) * 255).astype(np.uint8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(shot).quantize(colors=128).save(args.out, optimize=True)  # ~100 kB
    print(f"{args.out}: {shot.shape[1]}×{shot.shape[0]} px")
    viewer.close()


if __name__ == "__main__":
    main()
