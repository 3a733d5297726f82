"""train(cfg): the one place where a Hydra config becomes objects and a training run."""

from __future__ import annotations

import functools
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

from migraseg.constants import CLASS_NAMES
from migraseg.data.datamodule import SegmentationDataModule
from migraseg.evaluation.curves import write_training_curves
from migraseg.evaluation.pipeline import BaselineOptions, run_evaluation
from migraseg.evaluation.render import print_metrics
from migraseg.evaluation.sets import EvalSet
from migraseg.evaluation.sources import CLASSICAL, name_models
from migraseg.export import export_program, export_torchscript
from migraseg.inference.loading import (
    TORCHSCRIPT_SUFFIXES,
    ModelLoadError,
    load_checkpoint_model,
    load_model,
    model_path,
)
from migraseg.inference.settings import PredictSettings
from migraseg.model_meta import ModelMeta, git_sha, sha256_text
from migraseg.training.callbacks import ValidationImagePanels
from migraseg.training.checkpointing import AtomicCheckpointIO, resolve_ckpt_path
from migraseg.training.decoding import tune_run_decoding
from migraseg.training.module import SegmentationModule
from migraseg.training.scaling import effective_batch_size, scale_learning_rate
from migraseg.utils.files import write_text_atomic

log = logging.getLogger(__name__)


class TrainingInputError(ValueError):
    """Training refused its input before starting; the message is one line for the CLI."""


@dataclass
class InitWeights:
    """What fine-tuning takes from a trained model: its weights and its metadata only."""

    path: Path
    state_dict: dict[str, torch.Tensor]
    meta: ModelMeta


def load_init_weights(path: str | Path, role: str = "init_from") -> InitWeights:
    """Weights and metadata of a ``.ckpt``, a TorchScript ``model.pt`` (traced modules keep
    the parameter names of the network they were traced from) or a shipped model (``confocal``,
    ``tem``). No optimizer state, no epoch. ``role`` names the setting in error messages.

    Raises:
        TrainingInputError: not a loadable migraseg model, or not one with migraseg's classes.
    """
    try:
        path = model_path(path)  # a shipped model's name too (init_from=confocal)
    except ModelLoadError as err:
        raise TrainingInputError(f"{role}: {err}") from err
    if path.suffix not in (".ckpt", *TORCHSCRIPT_SUFFIXES):
        raise TrainingInputError(
            f"{role}={path}: give a checkpoint (.ckpt) or a TorchScript model.pt "
            "(an ONNX file cannot be trained)"
        )
    try:
        net, meta = load_model(path)
    except ModelLoadError as err:
        raise TrainingInputError(f"{role}: {err}") from err
    if list(meta.class_names) != list(CLASS_NAMES):
        raise TrainingInputError(
            f"{role}={path}: the model predicts {len(meta.class_names)} classes "
            f"{list(meta.class_names)}; migraseg datasets have {len(CLASS_NAMES)} "
            f"{list(CLASS_NAMES)}"
        )
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return InitWeights(path, state, meta)


def simulator_preset_of(meta: ModelMeta) -> str:
    """The simulator preset a model was trained on when its dataset was a simulated one
    (``synthetic_<preset>``), else the preset named after its modality (``confocal``, ``tem``)."""
    from migraseg.synth.presets import preset_names

    preset = meta.dataset.removeprefix("synthetic_")
    if meta.dataset.startswith("synthetic_") and preset in preset_names():
        return preset
    return meta.modality


def apply_init_meta(cfg: DictConfig, meta: ModelMeta) -> None:
    """Set the architecture, normalisation, pixel size, post-processing and the simulator preset
    mixed in (``auto``: :func:`simulator_preset_of`) from a model's metadata, in place."""
    if meta.normalization.get("method", "percentile") != "percentile":
        raise TrainingInputError(
            f"init_from: normalisation {meta.normalization.get('method')!r} is not supported"
        )
    with open_dict(cfg):
        cfg.model = {
            "_target_": "migraseg.models.build_model",
            **{k: v for k, v in meta.model.items() if k != "in_channels"},
            "encoder_weights": None,
        }
        cfg.data.pixel_size_um = float(meta.pixel_size_um)
        cfg.data.percentiles = [
            float(meta.normalization.get("low", 1.0)),
            float(meta.normalization.get("high", 99.8)),
        ]
        cfg.postprocess = dict(meta.postprocess)
        source = cfg.data.get("synthetic_mix_source")
        if source is not None and source.get("preset", "auto") == "auto":
            source.preset = simulator_preset_of(meta)


def check_init_fits(init: InitWeights, datamodule: SegmentationDataModule) -> None:
    """Raise :class:`TrainingInputError` if the model cannot read the dataset's images."""
    channels = datamodule.validated_spec().channels
    if init.meta.in_channels != len(channels):
        names = f" {init.meta.channel_names}" if init.meta.channel_names else ""
        raise TrainingInputError(
            f"init_from={init.path}: the model takes {init.meta.in_channels} channel(s){names}; "
            f"{datamodule.root} has {len(channels)} {channels}"
        )


def load_init_state(net: nn.Module, init: InitWeights) -> None:
    """Copy the init weights into ``net`` (built from the same metadata), strictly."""
    try:
        net.load_state_dict(init.state_dict)
    except RuntimeError as err:
        cause = " ".join(str(err).split())[:300]
        raise TrainingInputError(f"init_from={init.path}: weights do not fit ({cause})") from err


def instantiate_dict(section: DictConfig | None) -> list[Any]:
    """Instantiate every entry with a ``_target_`` in a config mapping (callbacks, loggers)."""
    if not section:
        return []
    return [instantiate(c) for c in section.values() if c is not None and "_target_" in c]


def experiment_choice() -> str:
    """This Hydra run's ``experiment=`` option ("" without one, or outside a Hydra app)."""
    if not HydraConfig.initialized():
        return ""
    return str(HydraConfig.get().runtime.choices.get("experiment") or "")


def build_meta(cfg: DictConfig, datamodule: SegmentationDataModule) -> ModelMeta:
    """Everything an exported model must know, from the config and dataset.yaml."""
    info = datamodule.dataset_info()
    model_kwargs = {
        k: v
        for k, v in OmegaConf.to_container(cfg.model, resolve=True).items()
        if not k.startswith("_") and k != "encoder_weights"  # the checkpoint holds the weights
    }
    model_kwargs["in_channels"] = datamodule.in_channels
    return ModelMeta(
        in_channels=datamodule.in_channels,
        pixel_size_um=datamodule.model_pixel_size_um,
        patch_size=int(cfg.data.patch_size),
        model=model_kwargs,
        channel_names=list(info.get("channels") or []),
        normalization={
            "method": "percentile",
            "low": float(cfg.data.percentiles[0]),
            "high": float(cfg.data.percentiles[1]),
        },
        postprocess=dict(OmegaConf.to_container(cfg.postprocess, resolve=True)),
        modality=str(info.get("modality", "confocal")),
        dataset=str(info.get("name", "")),
        experiment=experiment_choice(),
        created=datetime.now().isoformat(timespec="seconds"),
        config_sha256=sha256_text(OmegaConf.to_yaml(cfg, resolve=True)),
        git_sha=git_sha(),
    )


def predict_settings(cfg: DictConfig) -> PredictSettings:
    """The run's ``predict:`` section: how validation and test images are segmented."""
    return PredictSettings.from_mapping(OmegaConf.to_container(cfg.predict, resolve=True))


def best_checkpoint(trainer: L.Trainer) -> Path | None:
    """Best checkpoint of the first ModelCheckpoint (the monitored one), else the newest one
    any ModelCheckpoint wrote; None when none was written (``fast_dev_run`` writes none)."""
    for callback in trainer.checkpoint_callbacks:
        path = getattr(callback, "best_model_path", "") or getattr(callback, "last_model_path", "")
        if path:
            return Path(path)
    if trainer.fast_dev_run:
        return None
    raise RuntimeError("training wrote no checkpoint (is callbacks.model_checkpoint set?)")


def check_launch(trainer: L.Trainer) -> None:
    """Refuse a local Hydra multirun whose DDP ranks Lightning would start by re-running argv.

    Lightning starts rank 1.. of ``strategy=ddp`` by re-executing the command line, which in a
    multirun (``-m``) re-runs the whole sweep in every child. Under SLURM the ranks come from
    SLURM instead (``hydra/launcher=slurm``), which is the supported way to sweep DDP runs.
    """
    strategy = trainer.strategy
    spawns_ranks = (
        isinstance(strategy, DDPStrategy)
        and trainer.world_size > 1
        and not strategy.cluster_environment.creates_processes_externally
    )
    if spawns_ranks and HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise RuntimeError(
            "a Hydra multirun (-m) with a multi-process DDP trainer would re-run the sweep in "
            "each rank: submit it with hydra/launcher=slurm, or run each config as a single run"
        )


def scaled_optimizer(cfg: DictConfig, trainer: L.Trainer) -> Callable[..., Any]:
    """The optimizer partial with ``optimizer.lr`` scaled to the effective batch size."""
    optimizer = instantiate(cfg.optimizer)
    effective = effective_batch_size(
        cfg.data.batch_size, trainer.world_size, trainer.accumulate_grad_batches
    )
    scaling = cfg.get("lr_scaling") or {}
    rule, reference = scaling.get("rule", "none"), scaling.get("reference_batch_size", effective)
    lr = scale_learning_rate(cfg.optimizer.lr, effective, reference, rule)
    log.info(
        "effective batch size %d (%d per device × %d devices × %d accumulated); lr %.3g (rule %s)",
        effective,
        cfg.data.batch_size,
        trainer.world_size,
        trainer.accumulate_grad_batches,
        lr,
        rule,
    )
    return functools.partial(optimizer, lr=lr)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train, then (if enabled) evaluate the best checkpoint and export it (TorchScript
    ``model.pt`` and ``torch.export`` ``model.pt2``).

    A run folder that already holds checkpoints (a requeued or restarted job) resumes from the
    newest readable one with ``ckpt_path=auto`` (the default); see
    :func:`~migraseg.training.checkpointing.resolve_ckpt_path`.

    Returns:
        ``{"checkpoint" (None after fast_dev_run), "metrics" (headline numbers or None),
        "metrics_path", "model_path" (TorchScript), "program_path" (torch.export), "output_dir",
        "trainer_metrics", "decoding" (the post-processing tuned on validation images, or None:
        see :mod:`migraseg.training.decoding`)}``.

    With ``init_from`` (a ``.ckpt`` or ``model.pt``) it fine-tunes: the network starts from that
    model's weights (not its optimizer state or epoch) and takes its architecture, normalisation,
    pixel size and post-processing from the model's metadata (:func:`apply_init_meta`).

    Raises:
        SystemExit: with status 143 when a stop signal ended training (a checkpoint was written
            by :class:`~migraseg.training.callbacks.PreemptionCheckpoint`).
        TrainingInputError: an init model that does not fit the data, no annotated pixel, or
            simulated images to mix in with other channels; nothing is written to the run folder
            then.
    """
    L.seed_everything(cfg.seed, workers=True)
    init = load_init_weights(cfg.init_from) if cfg.get("init_from") else None
    if init is not None:
        apply_init_meta(cfg, init.meta)
        log.info("fine-tuning from %s (%s)", init.path, init.meta.model)
    datamodule: SegmentationDataModule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.validated_spec()
    if init is not None:
        check_init_fits(init, datamodule)
    try:
        datamodule.check_trainable()
    except ValueError as err:
        raise TrainingInputError(str(err)) from err
    meta = build_meta(cfg, datamodule)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output_dir / "config_resolved.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    loggers = instantiate_dict(cfg.get("logger"))
    callbacks = [*instantiate_dict(cfg.get("callbacks")), ValidationImagePanels()]
    if not loggers:  # Lightning refuses a learning-rate monitor without a logger
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()]
    )
    check_launch(trainer)
    net = instantiate(cfg.model, in_channels=meta.in_channels)
    if init is not None:
        load_init_state(net, init)
    if cfg.get("compile"):
        net.compile()  # in place: state_dict keys stay those of the plain network
    module = SegmentationModule(
        net=net,
        loss=instantiate(cfg.loss),
        optimizer=scaled_optimizer(cfg, trainer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        meta=meta.to_dict(),
        **cfg.module,
    )
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), output_dir)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    except SIGTERMException as stop:
        raise SystemExit(128 + signal.SIGTERM) from stop

    checkpoint = best_checkpoint(trainer)
    result: dict[str, Any] = {
        "output_dir": str(output_dir),
        "checkpoint": str(checkpoint) if checkpoint else None,
        "trainer_metrics": {k: float(v) for k, v in trainer.callback_metrics.items()},
        "metrics": None,
        "metrics_path": None,
        "model_path": None,
        "program_path": None,
        "curves_path": None,
        "decoding": None,
    }
    if not trainer.is_global_zero or checkpoint is None:
        return result
    curves = write_training_curves(output_dir)  # from the CSV log: None without one
    result["curves_path"] = str(curves) if curves else None
    if cfg.get("tune_decoding"):  # first: the export and evaluation decode as tuned
        spec = datamodule.validated_spec()
        choice = tune_run_decoding(checkpoint, spec, predict_settings(cfg), output_dir)
        result["decoding"] = choice.postprocess if choice else None
    if cfg.get("export"):  # first: a failing evaluation must not cost the exported model
        net, meta = load_checkpoint_model(checkpoint)
        result["model_path"] = str(export_torchscript(net, meta, output_dir / "model.pt"))
        try:  # the successor format must not cost the run its evaluation (model.pt is written)
            result["program_path"] = str(export_program(net, meta, output_dir / "model.pt2"))
        except Exception as err:
            log.warning("model.pt2 not written (%s: %s); model.pt is", type(err).__name__, err)
    if cfg.get("evaluate"):
        result.update(evaluate_checkpoint(cfg, checkpoint, datamodule, output_dir))
    log.info("checkpoint: %s", result["checkpoint"])
    for key in ("metrics_path", "model_path", "program_path", "curves_path"):
        if result[key]:
            log.info("%s: %s", key.replace("_", " "), result[key])
    return result


def evaluate_checkpoint(
    cfg: DictConfig, checkpoint: Path, datamodule: SegmentationDataModule, output_dir: Path
) -> dict[str, Any]:
    """Score a checkpoint beside the classical baseline (tuned on the train split) on the
    configured split of the training dataset; write metrics.json and report.md/.html.

    When that split is empty (a dataset too small to hold images out, see
    :class:`SegmentationDataModule`'s ``min_images_to_hold_out``), the training images are
    scored instead, named so in the report."""
    spec = datamodule.validated_spec()
    split = str(cfg.get("eval_split", "test"))
    name = f"{spec.name}/{split}"
    if not spec.split(split):
        if not spec.split("train"):
            log.warning("no evaluation: split %r of %s is empty", split, spec.root)
            return {}
        log.warning(
            "split %r of %s is empty: scoring the training images (not held out)", split, spec.root
        )
        # the datamodule may train on all images where the file's own split holds some out
        split = "all" if spec.split("train") == spec.split(None) else "train"
        name = f"{spec.name}/train (seen in training)"
    eval_set = EvalSet(name, Path(spec.root), split)
    models = {**name_models([str(checkpoint)]), CLASSICAL: CLASSICAL}
    run = run_evaluation(
        models,
        [eval_set],
        output_dir,
        predict=predict_settings(cfg),
        baseline=BaselineOptions(tune_on=str(spec.root)),
    )
    print_metrics(run.results)
    name = next(iter(models))
    return {
        "metrics": run.metrics["sets"][eval_set.name]["models"][name]["headline"],
        "metrics_path": str(run.metrics_path),
    }
