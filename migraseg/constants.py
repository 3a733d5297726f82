"""Class ids shared by masks, models, metrics and exports. Fixed everywhere."""

BACKGROUND, CELL, FIBER, MIGRASOME = 0, 1, 2, 3
CLASS_NAMES: tuple[str, ...] = ("background", "cell", "retraction_fiber", "migrasome")
NUM_CLASSES = len(CLASS_NAMES)
FOREGROUND_CLASSES = (CELL, FIBER, MIGRASOME)
# Mask value of pixels nobody annotated (partial annotations): ignored by the loss and metrics.
IGNORE_LABEL = 255
# Migrasome decoding, unless a model or config says otherwise. Migrasomes are 0.5–3 µm across;
# extracellular vesicles and puncta image as ~0.25 µm dots, so objects under 0.4 µm are dropped.
# Touching migrasomes are split where their distance map has maxima 0.1 µm deep. A model's own
# values are tuned on its validation images after training (migraseg.training.decoding); a
# min_score of 0 keeps every object the network labels, however unsure, and a min_probability
# of 0.5 takes as migrasome only the pixels where it is the likeliest class.
MIGRASOME_POSTPROCESS: dict[str, float] = {
    "min_diameter_um": 0.4,
    "split_h_um": 0.1,
    "min_score": 0.0,
    "min_probability": 0.5,
}
# Where a migrasome sits on the retraction fibers: the one vocabulary of the simulator's truth,
# migraseg-predict's tables (column `site`, summary counts `n_<site>`) and evaluation.
SITES: tuple[str, ...] = ("tip", "branch", "along", "detached")
