"""bioimage.io model packages (spec 0.5) that deepImageJ/Fiji, ilastik and napari can run.

The package holds the network *with a softmax appended* (spec 0.5 has no portable softmax
post-processing) twice: as TorchScript weights, and as ``pytorch_state_dict`` weights whose
architecture is source (:mod:`migraseg.publish.package_network`, copied in) plus keyword
arguments, the format that survives PyTorch upgrades. It also holds the percentile
normalisation as a ``scale_range`` pre-processing step (the formula and ε of
:mod:`migraseg.normalization`, exactly), a test input and the output migraseg itself computes
for it, a cover image, the model card as README (with its ``# Validation`` section), licence,
citations with a DOI only and authors from the publish info. URLs are avoided on purpose:
bioimageio.core would resolve them over the network while testing (../shared/STACK.md), and
the test must run offline.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from migraseg.export import trace_checked
from migraseg.io import write_tiff
from migraseg.model_meta import ModelMeta
from migraseg.models.factory import OUTPUT_STRIDE
from migraseg.normalization import EPS, percentile_normalize
from migraseg.publish import package_network
from migraseg.publish.info import PublishInfo
from migraseg.utils.files import atomic_dir, atomic_path, sha256_file
from migraseg.utils.torchscript import quiet_torchscript
from migraseg.visualize import colorize, to_gray

HALO_PX = 16  # border of each output tile that tilers should discard


class WithSoftmax(nn.Module):
    """The network followed by a softmax over classes: (N, C, H, W) → (N, K, H, W) in [0, 1]."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)


def write_cover(path: Path, image: np.ndarray, probs: np.ndarray) -> Path:
    """A 2:1 PNG: the input (first channel) beside the predicted classes in colour."""
    from skimage.io import imsave

    imsave(path, np.concatenate([to_gray(image[0]), colorize(probs.argmax(0))], axis=1))
    return path


def _trace_with_softmax(net: nn.Module, meta: ModelMeta, path: Path) -> nn.Module:
    traced = trace_checked(WithSoftmax(net), meta, "traced TorchScript (softmax)")
    with quiet_torchscript():
        torch.jit.save(traced, str(path))
    return traced


def network_kwargs(meta: ModelMeta) -> dict:
    """Keyword arguments of :class:`~migraseg.publish.package_network.MigrasegNetwork`."""
    kwargs = {k: v for k, v in meta.model.items() if k != "encoder_weights"}
    kwargs["decoder_channels"] = list(kwargs.get("decoder_channels", ()))
    return {**kwargs, "in_channels": meta.in_channels, "classes": len(meta.class_names)}


def _state_dict_weights(net: nn.Module, meta: ModelMeta, work: Path, v: object) -> object:
    """``pytorch_state_dict`` weights: the state dict of network + softmax, and its source."""
    source = work / "migraseg_network.py"
    shutil.copyfile(package_network.__file__, source)
    torch.save(WithSoftmax(net).state_dict(), work / "weights_state_dict.pt")
    return v.PytorchStateDictWeightsDescr(
        source=work / "weights_state_dict.pt",
        architecture=v.ArchitectureFromFileDescr(
            source=source,
            callable=v.Identifier(package_network.MigrasegNetwork.__name__),
            kwargs=network_kwargs(meta),
        ),
        pytorch_version=v.Version(torch.__version__.split("+")[0]),
    )


def _axes(meta: ModelMeta, v: object) -> tuple[list, list]:
    """Input and output axes: batch, channel, y, x (sizes: min 64 px, steps of 32 px)."""
    space = {"scale": meta.pixel_size_um, "unit": "micrometer"}
    size = v.ParameterizedSize(min=2 * OUTPUT_STRIDE, step=OUTPUT_STRIDE)
    names = meta.channel_names or [f"channel{i}" for i in range(meta.in_channels)]
    inputs = [
        v.BatchAxis(),
        v.ChannelAxis(channel_names=[v.Identifier(n) for n in names]),
        v.SpaceInputAxis(id=v.AxisId("y"), size=size, **space),
        v.SpaceInputAxis(id=v.AxisId("x"), size=size, **space),
    ]
    outputs = [
        v.BatchAxis(),
        v.ChannelAxis(channel_names=[v.Identifier(n) for n in meta.class_names]),
        *(
            v.SpaceOutputAxisWithHalo(
                id=v.AxisId(a),
                halo=HALO_PX,
                size=v.SizeReference(tensor_id=v.TensorId("raw"), axis_id=v.AxisId(a)),
                **space,
            )
            for a in ("y", "x")
        ),
    ]
    return inputs, outputs


def build_package(
    net: nn.Module,
    meta: ModelMeta,
    info: PublishInfo,
    sample: np.ndarray,
    readme: str,
    output: str | Path,
) -> Path:
    """Write a bioimage.io package: a folder (``output`` without suffix) or a ``.zip``.

    Args:
        net: the eager network (logits).
        meta: its metadata.
        info: descriptive fields.
        sample: a raw test image (C, Y, X) at the model's pixel size, Y and X multiples of 32.
        readme: markdown documentation (the model card).
        output: destination folder or ``.zip`` file.

    Returns:
        The folder's ``rdf.yaml`` or the zip file.
    """
    import bioimageio.spec.model.v0_5 as v
    from bioimageio.spec import save_bioimageio_package, save_bioimageio_package_as_folder

    if sample.shape[1] % OUTPUT_STRIDE or sample.shape[2] % OUTPUT_STRIDE:
        raise ValueError(f"test image sides must be multiples of {OUTPUT_STRIDE}: {sample.shape}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        traced = _trace_with_softmax(net, meta, work / "weights_torchscript.pt")
        test_input = sample[None].astype(np.float32)
        norm = meta.normalization
        with torch.no_grad():
            x = percentile_normalize(test_input[0], norm["low"], norm["high"])
            test_output = traced(torch.from_numpy(x[None])).numpy()
        np.save(work / "test_input.npy", test_input)
        np.save(work / "test_output.npy", test_output)
        write_tiff(work / "sample_input.tif", test_input[0], meta.pixel_size_um, axes="CYX")
        write_tiff(work / "sample_output.tif", test_output[0], meta.pixel_size_um, axes="CYX")
        write_cover(work / "cover.png", sample, test_output[0])
        digest = sha256_file(work / "weights_torchscript.pt")
        readme += "\nPackage weights `weights_torchscript.pt` (network + softmax): SHA-256 "
        readme += f"`{digest}`.\n"
        (work / "README.md").write_text(readme, encoding="utf-8")
        (work / "meta.json").write_text(meta.to_json(), encoding="utf-8")
        input_axes, output_axes = _axes(meta, v)
        scale = v.ScaleRangeDescr(
            kwargs=v.ScaleRangeKwargs(
                axes=[v.AxisId("y"), v.AxisId("x")],
                min_percentile=norm["low"],
                max_percentile=norm["high"],
                eps=EPS,  # migraseg's normalisation, exactly
            )
        )
        description = v.ModelDescr(
            name=info.name,
            description=" ".join(info.description.split()),
            authors=[v.Author(**a) for a in info.authors],
            cite=[v.CiteEntry(text=c["text"], doi=v.Doi(str(c["doi"]))) for c in info.cite],
            license=v.LicenseId(info.license),
            version=v.Version(info.version),
            tags=list(info.tags),
            documentation=v.FileDescr(source=work / "README.md"),
            covers=[v.FileDescr(source=work / "cover.png")],
            attachments=[v.FileDescr(source=work / "meta.json")],
            inputs=[
                v.InputTensorDescr(
                    id=v.TensorId("raw"),
                    axes=input_axes,
                    test_tensor=v.FileDescr(source=work / "test_input.npy"),
                    sample_tensor=v.FileDescr(source=work / "sample_input.tif"),
                    preprocessing=[scale],
                )
            ],
            outputs=[
                v.OutputTensorDescr(
                    id=v.TensorId("probabilities"),
                    axes=output_axes,
                    test_tensor=v.FileDescr(source=work / "test_output.npy"),
                    sample_tensor=v.FileDescr(source=work / "sample_output.tif"),
                    data=v.IntervalOrRatioDataDescr(type="float32", range=(0.0, 1.0)),
                )
            ],
            weights=v.WeightsDescr(
                torchscript=v.TorchscriptWeightsDescr(
                    source=work / "weights_torchscript.pt",
                    pytorch_version=v.Version(torch.__version__.split("+")[0]),
                ),
                pytorch_state_dict=_state_dict_weights(net, meta, work, v),
            ),
        )
        output = Path(output)
        if output.suffix == ".zip":
            return Path(save_bioimageio_package(description, output_path=output))
        folder = save_bioimageio_package_as_folder(description, output_path=output)
        return Path(folder) / "rdf.yaml"


class PackageTestError(ValueError):
    """A package failed bioimageio.core's test; ``report`` holds the validation summary."""

    def __init__(self, output: Path, report: str):
        super().__init__(f"{output}: the bioimage.io package failed its test; nothing written")
        self.report = report


def write_package(
    net: nn.Module,
    meta: ModelMeta,
    info: PublishInfo,
    sample: np.ndarray,
    readme: str,
    output: str | Path,
    test: bool = True,
) -> Path:
    """Build a package (see :func:`build_package`) beside ``output``, test it with
    bioimageio.core (if ``test``), and only then move it into place: a package that fails is
    never left at ``output``.

    Returns:
        The folder's ``rdf.yaml`` or the zip file, at ``output``.

    Raises:
        PackageTestError: the package failed the test (nothing is written).
    """
    output = Path(output)
    staging = atomic_path(output) if output.suffix == ".zip" else atomic_dir(output)
    with staging as tmp:
        built = build_package(net, meta, info, sample, readme, tmp)
        if test:
            passed, report = validate_package(built)
            if not passed:
                raise PackageTestError(output, report)
    return output if output.suffix == ".zip" else output / "rdf.yaml"


def validate_package(source: str | Path) -> tuple[bool, str]:
    """Run bioimageio.core's model test (format + inference on the test tensors) offline.

    Returns:
        ``(passed, report)`` where ``report`` is the validation summary as text.
    """
    from bioimageio.core import test_model

    with quiet_torchscript():  # bioimageio.core loads the TorchScript weights
        summary = test_model(str(source))
    return summary.status == "passed", summary.format()


def sample_image(meta: ModelMeta, path: str | Path | None = None, size: int = 256) -> np.ndarray:
    """A test image (C, size, size) for the package: the centre of ``path`` (a TIFF at the
    model's pixel size), or else a simulated image at the model's pixel size.

    Raises:
        ValueError: the TIFF is smaller than 64 px or has the wrong channel count, or there is no
            simulator for the model's modality (pass ``path``).
    """
    if path is not None:
        from migraseg.data.contract import image_to_cyx
        from migraseg.io import read_image

        image, info = read_image(path)
        image = image_to_cyx(image, info["axes"])
        side = min(size, *(s // OUTPUT_STRIDE * OUTPUT_STRIDE for s in image.shape[1:]))
        if side < 2 * OUTPUT_STRIDE or image.shape[0] != meta.in_channels:
            raise ValueError(f"{path}: need ≥ 64×64 px and {meta.in_channels} channel(s)")
        top, left = ((s - side) // 2 for s in image.shape[1:])
        return image[:, top : top + side, left : left + side]

    from migraseg.synth.generator import make_sample
    from migraseg.synth.params import MODALITIES, SynthConfig

    if meta.modality not in MODALITIES:
        raise ValueError(
            f"no simulator for the model's modality {meta.modality!r} (simulated: "
            f"{', '.join(MODALITIES)}); pass a TIFF at the model's pixel size (--sample-image)"
        )
    config = SynthConfig(modality=meta.modality).with_acquisition(
        image_size_px=(size, size), pixel_size_um=(meta.pixel_size_um, meta.pixel_size_um)
    )
    image = make_sample(config, seed=0, index=0).image
    return np.repeat(image, meta.in_channels, axis=0) if image.shape[0] == 1 else image
