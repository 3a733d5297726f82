"""Every model file the widget accepts, loaded with migraseg's own loaders.

``.pt``/``.pth``/``.torchscript``, ``.pt2``, ``.onnx`` and ``.ckpt`` go through
:meth:`migraseg.inference.predictor.Predictor.from_path`. A bioimage.io package (``.zip``, as
``migraseg-export --bioimageio`` writes it) carries the network's state dict (network + softmax)
and migraseg's ``meta.json``: the network is rebuilt from the metadata and run without the
softmax, like every other model.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import torch

from migraseg.inference.loading import TORCHSCRIPT_SUFFIXES, ModelLoadError
from migraseg.inference.predictor import Predictor
from migraseg.model_meta import ModelMeta
from migraseg.models.factory import build_model

PACKAGE_WEIGHTS = "weights_state_dict.pt"
PACKAGE_META = "meta.json"
# what migraseg-train's init_from accepts, in the order looked for beside another model file
FINETUNE_SUFFIXES = (*TORCHSCRIPT_SUFFIXES, ".ckpt")


def load_package(path: Path) -> tuple[torch.nn.Module, ModelMeta]:
    """Network (logits) and metadata of a migraseg bioimage.io package (``.zip``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = {Path(n).name: n for n in archive.namelist()}
            if PACKAGE_META not in names or PACKAGE_WEIGHTS not in names:
                raise ModelLoadError(
                    f"{path}: not a migraseg bioimage.io package (no {PACKAGE_META} and "
                    f"{PACKAGE_WEIGHTS} in it)"
                )
            meta = ModelMeta.from_dict(json.loads(archive.read(names[PACKAGE_META])))
            weights = io.BytesIO(archive.read(names[PACKAGE_WEIGHTS]))
    except zipfile.BadZipFile as err:
        raise ModelLoadError(f"{path}: not a zip file ({err})") from err
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net = build_model(**{**meta.model, "encoder_weights": None})
    net.load_state_dict({k.removeprefix("net."): v for k, v in state.items()})
    return net.eval(), meta


def load_predictor(path: str | Path, device: str = "cpu", tile_size: int = 512) -> Predictor:
    """A :class:`Predictor` for any model file the widget accepts.

    Raises:
        ModelLoadError: a missing file, an unknown suffix or a file that is no migraseg model.
    """
    path = Path(path)
    if path.suffix.lower() != ".zip":
        return Predictor.from_path(path, device=device, tile_size=tile_size)
    if not path.is_file():
        raise ModelLoadError(f"{path}: model file not found")
    net, meta = load_package(path)
    predictor = Predictor(net, meta, device=device, tile_size=tile_size)
    predictor.model_file = predictor.source_file = path
    return predictor


def finetune_source(path: str | Path) -> Path:
    """The file ``migraseg-train init_from=`` can start from: the model itself (``.pt``,
    ``.ckpt``), or a ``.pt``/``.ckpt`` of the same name beside an ``.onnx`` or ``.pt2`` file.

    Raises:
        ModelLoadError: no such file (bioimage.io packages: fine-tune the model.pt they came from).
    """
    path = Path(path)
    if path.suffix in FINETUNE_SUFFIXES:
        return path
    for suffix in FINETUNE_SUFFIXES:
        if path.with_suffix(suffix).is_file():
            return path.with_suffix(suffix)
    raise ModelLoadError(
        f"{path.name}: fine-tuning starts from a .pt or .ckpt model; none beside it "
        f"({path.with_suffix('.pt').name})"
    )
