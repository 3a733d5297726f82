"""Where predictions come from: a trained network, a folder of label TIFFs, or the baseline.

Every source turns one dataset sample into a :class:`Segmentation` (class ids and migrasome
instances on the sample's pixel grid), so the harness scores them all the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from migraseg.baseline import ClassicalParams, tune_on_dataset
from migraseg.baseline import segment as classical_segment
from migraseg.constants import MIGRASOME_POSTPROCESS
from migraseg.data.contract import SampleRecord
from migraseg.evaluation.runs import run_info
from migraseg.inference.settings import PredictSettings
from migraseg.io import read_image
from migraseg.postprocess import migrasome_instances
from migraseg.pretrained import SHIPPED
from migraseg.utils.files import write_text_atomic

CLASSICAL = "classical"
NETWORK_SUFFIXES = (".ckpt", ".pt", ".pth", ".torchscript", ".pt2", ".onnx")
# any other network file: TorchScript
FILE_KINDS = {".ckpt": "checkpoint", ".onnx": "onnx", ".pt2": "torch.export"}


@dataclass
class Segmentation:
    """A prediction on the sample's grid."""

    labels: np.ndarray  # (Y, X) uint8 class ids
    migrasome_ids: np.ndarray  # (Y, X) int32 instance ids, 0 = none


class PredictionSource(Protocol):
    """Anything that segments dataset samples."""

    needs_image: bool

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for metrics.json and the report (kind, path, settings)."""
        ...

    def segment(self, record: SampleRecord, image: np.ndarray | None) -> Segmentation:
        """Segment one sample; ``image`` (C, Y, X) is given when ``needs_image``."""
        ...


class NetworkSource:
    """A Lightning checkpoint or an exported model file, run through :class:`Predictor`."""

    needs_image = True

    def __init__(self, path: str | Path, predict: PredictSettings | None = None):
        from migraseg.inference.predictor import Predictor  # torch: only when a model is used

        self.path = Path(path)
        settings = predict or PredictSettings()
        self.predictor = Predictor.from_path(self.path, **settings.predictor_kwargs())

    def describe(self) -> dict[str, Any]:
        """What actually ran: ``kind`` is the format of the file loaded (an ONNX export beside a
        TorchScript ``path`` runs on CPU), ``runner`` the backend and device, ``tta`` whether the
        four flips were averaged."""
        meta = self.predictor.meta
        model_file = self.predictor.model_file or self.path
        return {
            "kind": FILE_KINDS.get(model_file.suffix, "torchscript"),
            "path": str(self.path),
            "model_file": str(model_file),
            "runner": self.predictor.runner.name,
            "tta": self.predictor.runner.tta,
            "model_pixel_size_um": meta.pixel_size_um,
            "trained_on": meta.dataset,
            "postprocess": dict(meta.postprocess),
        }

    def segment(self, record: SampleRecord, image: np.ndarray | None) -> Segmentation:
        pred = self.predictor.predict(image, record.pixel_size_um)
        return Segmentation(pred.labels, pred.migrasome_ids)


class LabelFolderSource:
    """Predictions already on disk: ``<stem>_labels.tif`` (as migraseg-predict writes) or
    ``<stem>.tif`` with class ids 0–3; migrasome instances are decoded as for a model."""

    needs_image = False

    def __init__(self, folder: str | Path, postprocess: dict[str, float] | None = None):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"{self.folder}: prediction folder not found")
        self.postprocess = dict(postprocess or MIGRASOME_POSTPROCESS)

    def describe(self) -> dict[str, Any]:
        return {"kind": "label_folder", "path": str(self.folder), "postprocess": self.postprocess}

    def path_for(self, stem: str) -> Path:
        for name in (f"{stem}_labels.tif", f"{stem}.tif", f"{stem}_labels.tiff", f"{stem}.tiff"):
            if (self.folder / name).is_file():
                return self.folder / name
        raise FileNotFoundError(
            f"{self.folder}: no prediction for {stem} (expected {stem}_labels.tif or {stem}.tif)"
        )

    def segment(self, record: SampleRecord, image: np.ndarray | None) -> Segmentation:
        path = self.path_for(record.stem)
        labels = read_image(path)[0]
        if labels.ndim != 2 or labels.dtype.kind not in "ui" or labels.max(initial=0) > 3:
            raise ValueError(
                f"{path}: expected a Y×X label image with class ids 0–3, "
                f"got {labels.dtype} {labels.shape} with max {labels.max(initial=0)}"
            )
        ids = migrasome_instances(labels, record.pixel_size_um, **self.postprocess)
        return Segmentation(labels.astype(np.uint8), ids)


class ClassicalSource:
    """The classical baseline (:mod:`migraseg.baseline`) with fixed, tuned parameters."""

    needs_image = True

    def __init__(self, params: ClassicalParams, provenance: dict[str, Any] | None = None):
        self.params, self.provenance = params, provenance or {}

    @classmethod
    def from_file(cls, path: str | Path) -> ClassicalSource:
        """Parameters saved by an earlier run (``classical_params.json``) or a flat dict."""
        path = Path(path)
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            params = ClassicalParams.from_dict(saved.get("params", saved))
        except (OSError, ValueError, TypeError, AttributeError) as err:
            raise ValueError(f"{path}: not a classical parameter file ({err})") from err
        return cls(params, {**saved, "params_file": str(path)})

    @classmethod
    def tuned(
        cls, root: str | Path, split: str, max_images: int, save_to: Path | None = None
    ) -> ClassicalSource:
        """Tune on a dataset split; save the result as JSON (reusable with :meth:`from_file`)."""
        result = tune_on_dataset(root, split, max_images)
        record = result.to_dict()
        if save_to is not None:
            write_text_atomic(save_to, json.dumps(record, indent=1))
            record["params_file"] = str(save_to)
        return cls(result.params, record)

    def describe(self) -> dict[str, Any]:
        info = {k: v for k, v in self.provenance.items() if k != "params"}
        return {"kind": CLASSICAL, **info, "params": self.params.to_dict()}

    def segment(self, record: SampleRecord, image: np.ndarray | None) -> Segmentation:
        labels, ids = classical_segment(image, record.pixel_size_um, self.params)
        return Segmentation(labels, ids)


def model_kind(spec: str) -> str:
    """``classical``, ``folder`` or ``network`` for a model given on the command line.

    Raises:
        ValueError: a path that is neither a folder nor a model file, naming it.
    """
    if spec == CLASSICAL:
        return CLASSICAL
    path = Path(spec)
    if path.is_dir():
        return "folder"
    if path.suffix in NETWORK_SUFFIXES or spec in SHIPPED:
        return "network"
    raise ValueError(
        f"model {spec!r}: expected a .ckpt, an exported model ({', '.join(NETWORK_SUFFIXES[1:])}),"
        f" a folder of label TIFFs, a shipped model ({', '.join(SHIPPED)}) or {CLASSICAL!r}"
    )


def default_model_name(spec: str) -> str:
    """A short name for a model: ``classical``; the folder's name; for a model file, its
    training run's experiment and date (:func:`~migraseg.evaluation.runs.run_info`, e.g.
    ``quickstart 2026-11-29 14:01``) when known, else the file's stem (its run folder's name
    for the generic stems ``model``, ``last`` and ``best``)."""
    if spec == CLASSICAL:
        return CLASSICAL
    path = Path(spec)
    if path.is_dir():
        return path.name
    label = run_info(path).label() if path.is_file() else None
    if label:
        return label
    if path.stem not in ("model", "last", "best"):
        return path.stem
    parent = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    return parent.name or path.stem


def name_models(specs: list[str] | dict[str, str]) -> dict[str, str]:
    """Unique display names for model specs: a mapping is kept, a list is named automatically."""
    if isinstance(specs, dict):
        return {str(k): str(v) for k, v in specs.items()}
    names: dict[str, str] = {}
    for spec in map(str, specs):
        base = name = default_model_name(spec)
        i = 2
        while name in names:
            name, i = f"{base}_{i}", i + 1
        names[name] = spec
    return names


def build_source(
    spec: str,
    predict: PredictSettings | None,
    postprocess: dict[str, float],
    classical: Callable[[], PredictionSource],
) -> PredictionSource:
    """The source for a model spec; ``classical`` is called only when the baseline is asked for
    (it may tune parameters first)."""
    kind = model_kind(spec)
    if kind == CLASSICAL:
        return classical()
    if kind == "folder":
        return LabelFolderSource(spec, postprocess)
    return NetworkSource(spec, predict)
