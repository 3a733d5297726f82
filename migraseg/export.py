"""Export trained networks: TorchScript (traced) and ONNX, with metadata, that run without
migraseg.

smp models do not script reliably across versions, so the network is traced; the traced file
is then checked against the eager network on an input of another size than the trace input,
which also proves the trace did not bake in the example's shape. ONNX files are checked the same
way in ONNX Runtime, the engine that runs them (on CPU 1.6–3.2× faster than eager PyTorch).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import torch
from torch import nn

from migraseg.inference.fingerprints import WEIGHTS_KEY, onnx_weights_sha256
from migraseg.model_meta import ModelMeta
from migraseg.models.factory import OUTPUT_STRIDE
from migraseg.utils.files import atomic_path
from migraseg.utils.torchscript import quiet_torchscript


class ExportError(RuntimeError):
    """The exported model does not reproduce the eager one."""


def check_outputs(
    reference: torch.Tensor,
    candidate: torch.Tensor,
    what: str,
    rtol: float = 1e-4,
    atol: float = 1e-4,
) -> float:
    """Raise :class:`ExportError` unless ``candidate`` matches ``reference``; return max |diff|."""
    diff = float((reference - candidate).abs().max())
    scale = float(reference.abs().max())
    if diff > atol + rtol * scale:
        raise ExportError(
            f"{what} differs from the eager model: max |diff| {diff:.3g} "
            f"(logit scale {scale:.3g}, tolerance {atol + rtol * scale:.3g})"
        )
    return diff


def example_input(meta: ModelMeta, size: int, seed: int = 0) -> torch.Tensor:
    """A seeded random image (1, C, size, size) in the normalised intensity range."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((1, meta.in_channels, size, size), generator=generator)


def trace_checked(net: nn.Module, meta: ModelMeta, what: str) -> torch.jit.ScriptModule:
    """Trace ``net`` on CPU at the patch size and check it on a larger input.

    Raises:
        ExportError: the traced network differs from the eager one beyond tolerance.
    """
    net = net.eval().cpu()
    size = max(meta.patch_size, 2 * OUTPUT_STRIDE)
    with torch.no_grad(), quiet_torchscript():
        traced = torch.jit.trace(net, example_input(meta, size))
        check = example_input(meta, size + OUTPUT_STRIDE, seed=1)
        check_outputs(net(check), traced(check), what)
    return traced


def weights_sha256(net: nn.Module) -> str:
    """SHA-256 of a network's state (names, dtypes, shapes and bytes of every tensor): the same
    for the TorchScript and ONNX exports of one network, different after any retraining."""
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def export_torchscript(net: nn.Module, meta: ModelMeta, path: str | Path) -> Path:
    """Trace and verify ``net`` (:func:`trace_checked`) and save it with ``meta.json`` and the
    weights' hash embedded (atomically).

    An ONNX file beside it (``model.onnx`` for ``model.pt``) exported from other weights is
    removed, with a warning: predict would otherwise be tempted by a stale network.

    Returns:
        The written path. Load it with ``torch.jit.load(path, _extra_files={"meta.json": ""})``.

    Raises:
        ExportError: the traced network differs from the eager one beyond tolerance.
    """
    traced = trace_checked(net, meta, "traced TorchScript")
    weights = weights_sha256(net)
    extra = {"meta.json": meta.to_json(), WEIGHTS_KEY: weights}
    with atomic_path(path) as tmp, quiet_torchscript():
        torch.jit.save(traced, str(tmp), _extra_files=extra)
    remove_stale_onnx(Path(path), weights)
    return Path(path)


def remove_stale_onnx(torchscript: Path, weights: str) -> Path | None:
    """Remove ``<stem>.onnx`` (and ``.onnx.data``) beside ``torchscript`` unless it holds the
    same weights; return the removed path."""
    sibling = torchscript.with_suffix(".onnx")
    if not sibling.is_file():
        return None
    try:
        same = onnx_weights_sha256(sibling) == weights
    except Exception:  # unreadable: stale all the same
        same = False
    if same:
        return None
    sibling.unlink()
    Path(f"{sibling}.data").unlink(missing_ok=True)
    warnings.warn(
        f"removed {sibling}: it held other weights than the new {torchscript.name} "
        "(migraseg-export writes a fresh ONNX file only with --onnx)",
        stacklevel=2,
    )
    return sibling


def export_onnx(net: nn.Module, meta: ModelMeta, path: str | Path, opset: int = 18) -> Path:
    """Export ``net`` to ONNX with dynamic batch, height and width (multiples of 32), embed
    ``meta.json`` as a metadata property, and verify it in ONNX Runtime (atomically).

    Raises:
        ExportError: ONNX Runtime's logits differ from the eager ones beyond tolerance.
    """
    import onnx  # optional dependencies (the ``publish`` extra)
    from torch.export import Dim

    from migraseg.inference.backends import OnnxModel

    net = net.eval().cpu()
    size = max(meta.patch_size, 2 * OUTPUT_STRIDE)
    dims = {
        0: Dim("batch", min=1, max=1024),
        2: OUTPUT_STRIDE * Dim("h", min=1, max=1024),
        3: OUTPUT_STRIDE * Dim("w", min=1, max=1024),
    }
    with atomic_path(path) as tmp:
        with warnings.catch_warnings():  # the exporter is chatty about its own internals
            warnings.simplefilter("ignore")
            torch.onnx.export(
                net,
                (example_input(meta, size),),
                str(tmp),
                dynamo=True,
                external_data=False,
                opset_version=opset,
                input_names=["input"],
                output_names=["logits"],
                dynamic_shapes=(dims,),
                verbose=False,
            )
        model = onnx.load(str(tmp))
        props = {"meta.json": meta.to_json(), WEIGHTS_KEY: weights_sha256(net)}
        onnx.helper.set_model_props(model, props)
        onnx.save(model, str(tmp))
        check = example_input(meta, size + OUTPUT_STRIDE, seed=1).repeat(2, 1, 1, 1)
        with torch.no_grad():
            reference = net(check)
        logits = torch.from_numpy(OnnxModel(tmp)(check.numpy()))
        check_outputs(reference, logits, "ONNX Runtime", rtol=1e-4, atol=1e-3)
    return Path(path)


def export_program(net: nn.Module, meta: ModelMeta, path: str | Path) -> Path:
    """Export ``net`` as a ``torch.export`` program (``.pt2``) with dynamic batch, height and
    width (multiples of 32), ``meta.json`` embedded, verified against the eager network
    (atomically). TorchScript's successor: it loads with ``torch.export.load`` in any Python with
    torch, no migraseg, smp or timm needed.

    Returns:
        The written path. Load it with
        ``torch.export.load(path, extra_files={"meta.json": ""}).module()``.

    Raises:
        ExportError: the exported program differs from the eager network beyond tolerance.
    """
    from torch.export import Dim

    net = net.eval().cpu()
    size = max(meta.patch_size, 2 * OUTPUT_STRIDE)
    dims = {  # an example batch of 2: torch.export specialises dimensions of size 1
        0: Dim("batch", min=1, max=1024),
        2: OUTPUT_STRIDE * Dim("h", min=1, max=1024),
        3: OUTPUT_STRIDE * Dim("w", min=1, max=1024),
    }
    example = example_input(meta, size).repeat(2, 1, 1, 1)
    with torch.no_grad():
        program = torch.export.export(net, (example,), dynamic_shapes=(dims,))
        check = example_input(meta, size + OUTPUT_STRIDE, seed=1)  # another batch and size
        check_outputs(net(check), program.module()(check), "torch.export program")
    with atomic_path(path) as tmp:
        torch.export.save(program, str(tmp), extra_files={"meta.json": meta.to_json()})
    return Path(path)
