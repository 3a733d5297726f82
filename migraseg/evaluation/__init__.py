"""Score models on annotated sets, side by side: metrics.json, a report and a verdict.

The face of the package; the modules below it, bottom up:

- :mod:`~migraseg.evaluation.sets`: which annotated images (a dataset folder and a split);
- :mod:`~migraseg.evaluation.sources`: where predictions come from (a model, a folder of
  label TIFFs, the classical baseline);
- :mod:`~migraseg.evaluation.scoring`: one image's record; :mod:`~migraseg.evaluation.summary`:
  set-level metrics and bootstrap intervals; :mod:`~migraseg.evaluation.verdict`: in words;
- :mod:`~migraseg.evaluation.results`: what a run produces; :mod:`~migraseg.evaluation.harness`:
  the scoring loop and metrics.json; :mod:`~migraseg.evaluation.pipeline`: one run, files
  included; :mod:`~migraseg.evaluation.report`, :mod:`~migraseg.evaluation.figures` and
  :mod:`~migraseg.evaluation.render`: the report and the console table;
  :mod:`~migraseg.evaluation.runs`: a model's training run (its name in reports);
  :mod:`~migraseg.evaluation.curves`: training curves from a run's CSV log.
"""

from migraseg.evaluation.harness import EvaluationSettings
from migraseg.evaluation.pipeline import BaselineOptions, EvaluationRun, run_evaluation
from migraseg.evaluation.render import print_metrics
from migraseg.evaluation.scoring import ScoringSettings
from migraseg.evaluation.sets import EvalSet
from migraseg.evaluation.verdict import VerdictThresholds

__all__ = [
    "BaselineOptions",
    "EvalSet",
    "EvaluationRun",
    "EvaluationSettings",
    "ScoringSettings",
    "VerdictThresholds",
    "print_metrics",
    "run_evaluation",
]
