"""migraseg-export: write a checkpoint as TorchScript that runs with torch alone."""

from __future__ import annotations

import argparse
import sys

from migraseg.export import ExportError, export_torchscript
from migraseg.inference.loading import ModelLoadError, load_checkpoint_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="migraseg-export",
        description="Export a migraseg checkpoint to TorchScript (traced, metadata embedded as "
        "meta.json; verified against the eager model).",
    )
    parser.add_argument("checkpoint", help="Lightning checkpoint (.ckpt) written by migraseg-train")
    parser.add_argument("output", help="output TorchScript file (.pt)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        net, meta = load_checkpoint_model(args.checkpoint)
        path = export_torchscript(net, meta, args.output)
    except (ModelLoadError, ExportError, FileNotFoundError) as err:
        print(f"migraseg-export: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
