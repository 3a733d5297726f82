"""From semantic labels to migrasome instances: the object decoding the counts depend on."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import label
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from migraseg.constants import MIGRASOME


def split_touching(binary: np.ndarray, split_h_px: float) -> np.ndarray:
    """Label a binary mask, splitting blobs whose distance map has several distinct maxima.

    Two touching discs meet at a neck where the distance to the background dips; maxima deeper
    than ``split_h_px`` pixels seed separate objects (watershed), shallower ones are noise.
    """
    distance = ndi.distance_transform_edt(binary)
    markers = label(h_maxima(distance, split_h_px) & binary) if split_h_px > 0 else label(binary)
    return watershed(-distance, markers, mask=binary).astype(np.int32)


def migrasome_instances(
    labels: np.ndarray,
    pixel_size_um: float,
    min_diameter_um: float = 0.3,
    split_h_um: float = 0.1,
) -> np.ndarray:
    """Instances of the migrasome class in a semantic label image.

    Holes are filled (large migrasomes image as rings), objects smaller than a disc of
    ``min_diameter_um`` are dropped, and touching migrasomes are split (:func:`split_touching`).

    Shape: labels (Y, X) class ids → (Y, X) int32 instance ids, 0 = none.
    """
    binary = ndi.binary_fill_holes(labels == MIGRASOME)
    min_area = np.pi * (min_diameter_um / pixel_size_um / 2) ** 2
    components = label(binary)
    binary &= (np.bincount(components.ravel()) >= min_area)[components]
    return split_touching(binary, split_h_um / pixel_size_um)
