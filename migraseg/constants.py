"""Class ids shared by masks, models, metrics and exports. Fixed everywhere."""

BACKGROUND, CELL, FIBER, MIGRASOME = 0, 1, 2, 3
CLASS_NAMES: tuple[str, ...] = ("background", "cell", "retraction_fiber", "migrasome")
NUM_CLASSES = len(CLASS_NAMES)
FOREGROUND_CLASSES = (CELL, FIBER, MIGRASOME)
