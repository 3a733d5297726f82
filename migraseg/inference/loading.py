"""Load a trained model: a Lightning checkpoint, an exported TorchScript file, an ONNX file, or
a model shipped in the package, by name (``confocal``, ``tem``).

On CPU, a TorchScript file with an ONNX export beside it (``model.pt`` + ``model.onnx``) runs in
ONNX Runtime (faster there) when it is installed (the ``publish`` extra), else in PyTorch with a
warning; ``backend="torch"`` keeps PyTorch.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from migraseg.inference.backends import OnnxModel, resolve_device
from migraseg.inference.exported_program import PROGRAM_SUFFIX, load_exported_program
from migraseg.model_meta import ModelMeta
from migraseg.models.factory import build_model
from migraseg.pretrained import resolve_model_reference
from migraseg.utils.torchscript import quiet_torchscript

TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".torchscript")
BACKENDS = ("auto", "torch", "onnx")
MAX_CAUSE = 300  # characters of a loader's error message kept in ModelLoadError
ONNX_INSTALL = "pip install 'migraseg[publish]' or onnxruntime"


class ModelLoadError(ValueError):
    """A model file could not be loaded; the message names the file and the cause."""


def model_path(reference: str | Path) -> Path:
    """The file a model reference names: a path, or a shipped model's name."""
    try:
        return resolve_model_reference(reference)
    except FileNotFoundError as err:
        raise ModelLoadError(str(err)) from err


def load_checkpoint_model(path: Path) -> tuple[nn.Module, ModelMeta]:
    """Network and metadata from a checkpoint written by ``migraseg-train``.

    The network is built without pretrained encoder weights whatever the training config said
    (``encoder_weights: imagenet`` would reach for the network): the checkpoint holds them all.
    """
    # weights_only: tensors and plain containers only, so a crafted pickle runs no code (our
    # own checkpoints hold nothing else).
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    meta_dict = checkpoint.get("hyper_parameters", {}).get("meta")
    if not meta_dict:
        raise ModelLoadError(f"{path}: checkpoint has no migraseg metadata (hyper_parameters.meta)")
    meta = ModelMeta.from_dict(meta_dict)
    net = build_model(**{**meta.model, "encoder_weights": None})
    state = {
        k.removeprefix("net."): v
        for k, v in checkpoint["state_dict"].items()
        if k.startswith("net.")
    }
    net.load_state_dict(state)
    return net.eval(), meta


def weights_checkpoint(
    state: dict[str, torch.Tensor], meta: ModelMeta, half: bool = False
) -> dict[str, Any]:
    """The smallest checkpoint :func:`load_checkpoint_model` reads: metadata and the network's
    weights (``half``: floats in fp16, loaded back in fp32), no optimizer state."""
    weights = {
        f"net.{k}": (v.half() if half and v.is_floating_point() else v).contiguous()
        for k, v in state.items()
    }
    return {"hyper_parameters": {"meta": meta.to_dict()}, "state_dict": weights}


def load_torchscript_model(path: Path) -> tuple[torch.jit.ScriptModule, ModelMeta]:
    """Traced network and the metadata embedded as ``meta.json``."""
    extra = {"meta.json": ""}
    with quiet_torchscript():
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    if not extra["meta.json"]:
        raise ModelLoadError(f"{path}: TorchScript file has no embedded meta.json")
    return module.eval(), ModelMeta.from_dict(json.loads(extra["meta.json"]))


def load_onnx_model(path: Path) -> tuple[OnnxModel, ModelMeta]:
    """ONNX Runtime session and the metadata stored in the file's ``meta.json`` property."""
    model = OnnxModel(path)
    return model, ModelMeta.from_dict(model.meta())


def onnx_mismatch(torchscript: Path, onnx: Path) -> str | None:
    """Why the ONNX file beside a TorchScript file is not its export, or None when it is: both
    must carry the same weights hash (written by migraseg-export since it recorded one)."""
    from migraseg.inference.fingerprints import embedded_weights_sha256, onnx_weights_sha256

    expected = embedded_weights_sha256(torchscript)
    if expected is None:
        return f"{torchscript.name} records no weights hash (re-export it)"
    try:
        found = onnx_weights_sha256(onnx)
    except Exception as err:
        return f"unreadable ({type(err).__name__}: {' '.join(str(err).split())[:MAX_CAUSE]})"
    if found != expected:
        return f"it holds other weights than {torchscript.name} (a stale export)"
    return None


def choose_model_file(path: str | Path, backend: str = "auto", device: str = "auto") -> Path:
    """The file to load: ``path``, or the ONNX export beside a TorchScript ``path`` on CPU.

    The ONNX file is used only when its embedded weights hash equals the TorchScript file's
    (else it is stale: a warning says so and the TorchScript file runs). With ``backend="auto"``
    and ONNX Runtime not installed, the TorchScript file is kept (with a warning).

    Raises:
        ModelLoadError: unknown backend, or ``backend="onnx"`` without a matching ONNX file or
            without ONNX Runtime.
    """
    path = model_path(path)
    if backend not in BACKENDS:
        raise ModelLoadError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if path.suffix == ".onnx" or backend == "torch":
        return path
    sibling = path.with_suffix(".onnx")
    on_cpu = resolve_device(device).type == "cpu"
    if path.suffix in TORCHSCRIPT_SUFFIXES and sibling.is_file() and (on_cpu or backend == "onnx"):
        if importlib.util.find_spec("onnxruntime") is None:
            if backend == "onnx":
                raise ModelLoadError(f"{sibling}: ONNX Runtime is not installed ({ONNX_INSTALL})")
            warnings.warn(
                f"{sibling.name} not used: ONNX Runtime is not installed ({ONNX_INSTALL}); "
                f"running {path.name} in PyTorch",
                stacklevel=2,
            )
            return path
        mismatch = onnx_mismatch(path, sibling)
        if mismatch is None:
            return sibling
        if backend == "onnx":
            raise ModelLoadError(f"{sibling}: not the export of {path.name}: {mismatch}")
        warnings.warn(
            f"{sibling} not used: {mismatch}; running {path.name} in PyTorch "
            f"(migraseg-export --onnx writes a fresh {sibling.name})",
            stacklevel=2,
        )
        return path
    if backend == "onnx":
        raise ModelLoadError(f"{path}: no {sibling.name} beside it; run migraseg-export --onnx")
    return path


def load_model(path: str | Path) -> tuple[nn.Module | OnnxModel, ModelMeta]:
    """Load by suffix: ``.ckpt`` (Lightning), ``.pt``/``.pth``/``.torchscript`` (TorchScript),
    ``.pt2`` (``torch.export`` program) or ``.onnx`` (ONNX Runtime, CPU); or a shipped model
    by name (``confocal``, ``tem``: :mod:`migraseg.pretrained`).

    Raises:
        ModelLoadError: missing file, unknown suffix, or a file that is not a migraseg model.
    """
    path = model_path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: model file not found")
    loaders = {
        ".ckpt": load_checkpoint_model,
        ".onnx": load_onnx_model,
        PROGRAM_SUFFIX: load_exported_program,
    }
    loaders.update(dict.fromkeys(TORCHSCRIPT_SUFFIXES, load_torchscript_model))
    if path.suffix not in loaders:
        raise ModelLoadError(
            f"{path}: unknown model suffix (use .ckpt, .onnx, {PROGRAM_SUFFIX} or "
            f"{', '.join(TORCHSCRIPT_SUFFIXES)})"
        )
    try:
        return loaders[path.suffix](path)
    except ModelLoadError:
        raise
    except Exception as err:
        cause = " ".join(str(err).split())  # one line (state-dict mismatches span many)
        cause = cause if len(cause) <= MAX_CAUSE else cause[: MAX_CAUSE - 1] + "…"
        raise ModelLoadError(f"{path}: cannot load model ({type(err).__name__}: {cause})") from err
