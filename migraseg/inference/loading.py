"""Load a trained model from a Lightning checkpoint or an exported TorchScript file."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from migraseg.model_meta import ModelMeta
from migraseg.models.factory import build_model

TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".torchscript")


class ModelLoadError(ValueError):
    """A model file could not be loaded; the message names the file and the cause."""


def load_checkpoint_model(path: Path) -> tuple[nn.Module, ModelMeta]:
    """Network and metadata from a checkpoint written by ``migraseg-train``."""
    # A Lightning checkpoint holds optimizer state and hyper-parameters besides tensors;
    # only load checkpoints you trust (as with any pickle).
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    meta_dict = checkpoint.get("hyper_parameters", {}).get("meta")
    if not meta_dict:
        raise ModelLoadError(f"{path}: checkpoint has no migraseg metadata (hyper_parameters.meta)")
    meta = ModelMeta.from_dict(meta_dict)
    net = build_model(**meta.model)
    state = {
        k.removeprefix("net."): v
        for k, v in checkpoint["state_dict"].items()
        if k.startswith("net.")
    }
    net.load_state_dict(state)
    return net.eval(), meta


def load_torchscript_model(path: Path) -> tuple[torch.jit.ScriptModule, ModelMeta]:
    """Traced network and the metadata embedded as ``meta.json``."""
    extra = {"meta.json": ""}
    module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    if not extra["meta.json"]:
        raise ModelLoadError(f"{path}: TorchScript file has no embedded meta.json")
    return module.eval(), ModelMeta.from_dict(json.loads(extra["meta.json"]))


def load_model(path: str | Path) -> tuple[nn.Module, ModelMeta]:
    """Load by suffix: ``.ckpt`` (Lightning) or ``.pt``/``.pth``/``.torchscript`` (TorchScript).

    Raises:
        ModelLoadError: missing file, unknown suffix, or a file that is not a migraseg model.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: model file not found")
    try:
        if path.suffix == ".ckpt":
            return load_checkpoint_model(path)
        if path.suffix in TORCHSCRIPT_SUFFIXES:
            return load_torchscript_model(path)
    except ModelLoadError:
        raise
    except Exception as err:
        raise ModelLoadError(f"{path}: cannot load model ({type(err).__name__}: {err})") from err
    raise ModelLoadError(
        f"{path}: unknown model suffix (use .ckpt or {', '.join(TORCHSCRIPT_SUFFIXES)})"
    )
