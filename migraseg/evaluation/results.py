"""What an evaluation run produces: per set, each model's per-image records, summary and best
and worst image (:class:`SetResult`), from which metrics.json, the report and the console table
are made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migraseg.data.contract import DatasetSpec, SampleRecord
from migraseg.evaluation.scoring import ImageRecord
from migraseg.evaluation.sets import EvalSet
from migraseg.evaluation.sources import Segmentation
from migraseg.evaluation.summary import SetSummary

if TYPE_CHECKING:
    from migraseg.evaluation.timelapse import Lapse, TrackingResult


@dataclass
class Extreme:
    """One image's prediction kept for the report's overlays."""

    stem: str
    quality: float
    segmentation: Segmentation


@dataclass
class Extremes:
    """The best and worst image of a model on a set, by :func:`image_quality`."""

    best: Extreme | None = None
    worst: Extreme | None = None

    def offer(self, stem: str, quality: float, segmentation: Segmentation) -> None:
        """Keep the prediction if it is the best or worst image so far."""
        if quality != quality:
            return
        if self.best is None or quality > self.best.quality:
            self.best = Extreme(stem, quality, segmentation)
        if self.worst is None or quality < self.worst.quality:
            self.worst = Extreme(stem, quality, segmentation)


@dataclass
class ModelResult:
    """One model on one set: per-image records, the summary, its best and worst image."""

    rows: list[ImageRecord]
    summary: SetSummary
    seconds: float
    extremes: Extremes = field(default_factory=Extremes)
    tracking: TrackingResult | None = None  # time-lapse sets only


@dataclass
class SetResult:
    """All models on one set."""

    eval_set: EvalSet
    spec: DatasetSpec
    records: list[SampleRecord]
    models: dict[str, ModelResult]
    reference: str | None = None
    comparison: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdict: str = ""
    simulated: bool = False  # the set was written by migraseg's simulator
    lapse: Lapse | None = None  # the stacks of a time-lapse set

    def to_dict(self) -> dict[str, Any]:
        lapse = {}
        if self.lapse is not None:
            lapse["time_lapse"] = {
                "n_stacks": len(self.lapse.stacks),
                "n_frames": self.lapse.n_frames,
                "frame_interval_min": [t["frame_interval_min"] for t in self.lapse.truths.values()],
            }
        return {
            "dataset": self.spec.name,
            "root": str(self.eval_set.root),
            "split": self.eval_set.split,
            "n_images": len(self.records),
            "pixel_size_um": sorted({r.pixel_size_um for r in self.records}),
            "simulated": self.simulated,
            **lapse,
            "verdict": self.verdict,
            "reference": self.reference,
            "comparison": self.comparison,
            "models": {
                name: {
                    **result.summary.to_dict(),
                    "seconds": round(result.seconds, 2),
                    **({"tracking": result.tracking.scores} if result.tracking else {}),
                    "per_image": [row.to_dict() for row in result.rows],
                }
                for name, result in self.models.items()
            },
        }
