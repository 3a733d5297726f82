"""The classical (non-learned) baseline every evaluation report shows beside the learned model."""

from migraseg.baseline.classical import ClassicalParams, segment
from migraseg.baseline.tuning import TuningResult, tune_on_dataset

__all__ = ["ClassicalParams", "TuningResult", "segment", "tune_on_dataset"]
