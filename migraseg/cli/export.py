"""migraseg-export: publish a checkpoint as TorchScript, a torch.export program, ONNX and a
bioimage.io package.

Heavy imports happen after argument parsing, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="migraseg-export",
        description="Export a migraseg checkpoint to TorchScript (traced, metadata embedded as "
        "meta.json, verified against the eager model), a torch.export program <stem>.pt2 "
        "(the same, TorchScript's successor) and a model card <stem>_card.md; optionally ONNX "
        "and a bioimage.io model package for deepImageJ/Fiji, ilastik, napari.",
    )
    parser.add_argument(
        "checkpoint",
        help="Lightning checkpoint (.ckpt) written by migraseg-train, or a shipped model's name "
        "(confocal, tem)",
    )
    parser.add_argument(
        "output",
        nargs="?",
        help="output TorchScript file (.pt); may be left out with --bioimageio to write only the "
        "package",
    )
    parser.add_argument(
        "--no-pt2", action="store_true", help="do not write the torch.export program <stem>.pt2"
    )
    parser.add_argument(
        "--onnx", action="store_true", help="also write <stem>.onnx (checked in ONNX Runtime)"
    )
    parser.add_argument(
        "--bioimageio",
        metavar="DIR_OR_ZIP",
        help="also write a bioimage.io package (folder, or .zip) and test it with bioimageio.core",
    )
    parser.add_argument(
        "--info", help="publish info YAML: name, authors, licence, citations (configs/export.yaml)"
    )
    parser.add_argument(
        "--metrics",
        help="metrics.json for the model card, used only if it scored this checkpoint "
        "(default: the checkpoint's run folder, if any)",
    )
    parser.add_argument(
        "--sample-image",
        help="TIFF at the model's pixel size for the package's test tensors and cover "
        "(default: a simulated image)",
    )
    parser.add_argument(
        "--skip-test", action="store_true", help="do not run bioimageio.core's test"
    )
    return parser.parse_args(argv)


def default_metrics(checkpoint: Path) -> Path | None:
    """``<run>/metrics.json`` for ``<run>/checkpoints/<name>.ckpt``, if it exists."""
    candidate = checkpoint.resolve().parent.parent / "metrics.json"
    return candidate if candidate.is_file() else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from migraseg.export import ExportError, export_onnx, export_program, export_torchscript
    from migraseg.inference.loading import ModelLoadError, load_model, model_path
    from migraseg.publish.info import PublishInfo
    from migraseg.publish.model_card import checkpoint_metrics, model_card
    from migraseg.utils.files import write_text_atomic

    if args.output is None and (not args.bioimageio or args.onnx):
        print(
            "migraseg-export: give OUTPUT (.pt)"
            + ("" if args.onnx else ", or --bioimageio to write only the package"),
            file=sys.stderr,
        )
        return 2
    output = Path(args.output) if args.output else None
    if output is not None and output.suffix.lower() in (".onnx", ".ckpt"):
        print(
            f"migraseg-export: {output}: OUTPUT is the TorchScript file; give a .pt path "
            f"(--onnx writes {output.with_suffix('.onnx').name} beside {output.stem}.pt)",
            file=sys.stderr,
        )
        return 2
    try:
        checkpoint = model_path(args.checkpoint)
        if checkpoint.suffix != ".ckpt":
            raise ValueError(f"{checkpoint}: expected a Lightning checkpoint (.ckpt)")
        if args.metrics and not Path(args.metrics).is_file():
            raise ValueError(f"{args.metrics}: metrics file not found")
        info = PublishInfo.load(args.info)
        net, meta = load_model(checkpoint)
        weights = {}
        if output is not None:
            weights["torchscript"] = export_torchscript(net, meta, output)
            print(f"wrote {weights['torchscript']}")
        if output is not None and not args.no_pt2:
            weights["torch.export"] = export_program(net, meta, output.with_suffix(".pt2"))
            print(f"wrote {weights['torch.export']}")
        if args.onnx:
            weights["onnx"] = export_onnx(net, meta, output.with_suffix(".onnx"))
            print(f"wrote {weights['onnx']}")
        metrics_path = args.metrics or default_metrics(checkpoint)
        metrics, note = checkpoint_metrics(metrics_path, checkpoint)
        if metrics_path and metrics is None:
            print(f"migraseg-export: warning: {metrics_path}: {note}", file=sys.stderr)
        card = model_card(meta, info, weights, metrics, note)
        if output is not None:
            card_path = write_text_atomic(output.with_name(f"{output.stem}_card.md"), card)
            print(f"wrote {card_path}")
        if args.bioimageio:
            from migraseg.publish.bioimageio import PackageTestError, sample_image, write_package

            sample = sample_image(meta, args.sample_image)
            try:
                package = write_package(
                    net, meta, info, sample, card, args.bioimageio, test=not args.skip_test
                )
            except PackageTestError as err:
                print(err.report, file=sys.stderr)
                raise
            tested = "" if args.skip_test else " (passed bioimageio.core's test)"
            print(f"wrote {package}{tested}")
    except (ModelLoadError, ExportError, OSError, ValueError) as err:
        print(f"migraseg-export: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
