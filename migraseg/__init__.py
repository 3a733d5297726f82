"""migraseg: segment cells, retraction fibers and migrasomes in microscopy images.

Importing the package makes every later import offline-safe: albumentations' PyPI update check
is switched off and the Hugging Face hub is put offline unless the user asked otherwise
(set ``HF_HUB_OFFLINE=0`` to download ImageNet encoder weights).
"""

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

__version__ = "0.1.0"
