"""Ship a trained model in the package: ``migraseg/pretrained/<name>.ckpt`` and its card.

The shipped file is a weights-only checkpoint in fp16 (half the size of fp32, within the wheel's
30 MB per model), loaded back in fp32 by :func:`migraseg.inference.loading.load_checkpoint_model`.
The card records the recipe (the exact commands), the config hash and git commit the model was
trained from, the file's SHA-256 (tests/test_pretrained.py checks it) and how far the fp16
weights move the predictions on a simulated image. Scores go in with ``--scores`` (a markdown
table from scripts/generalisation_table.py). ``--decoding`` ships the migrasome decoding of a
``decoding.json`` instead of the model's own (one tuned after training).

    python scripts/ship_pretrained.py outputs/run/model.pt --name confocal \\
        --command "migraseg-train experiment=generalist_confocal" --scores scores.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

from migraseg.inference.loading import load_checkpoint_model, load_model, weights_checkpoint
from migraseg.inference.predictor import Predictor
from migraseg.model_meta import ModelMeta
from migraseg.pretrained import SHIPPED, SHIPPED_DIR
from migraseg.synth.generator import make_sample
from migraseg.synth.presets import load_preset
from migraseg.utils.files import atomic_path, write_text_atomic


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fp16_deviation(source: Path, shipped: Path, meta: ModelMeta) -> tuple[float, float]:
    """Largest probability change and fraction of pixels whose most probable class changes,
    fp16 against the original, on one simulated image of the model's modality (the network
    alone: ``--decoding`` may change what is decoded from it)."""
    sample = make_sample(load_preset(meta.modality), seed=1, index=0)
    image, pixel_size_um = sample.image, sample.pixel_size_um
    original = Predictor.from_path(source, backend="torch").probabilities(image, pixel_size_um)
    halved = Predictor.from_path(shipped, backend="torch").probabilities(image, pixel_size_um)
    change = float(np.abs(original - halved).max())
    return change, float((original.argmax(0) != halved.argmax(0)).mean())


def card(
    name: str,
    meta: ModelMeta,
    path: Path,
    commands: list[str],
    deviation: tuple[float, float],
    scores: str,
) -> str:
    change, flipped = deviation
    recipe = "\n".join(f"    {c}" for c in commands) or "    (not recorded)"
    return f"""# Shipped model `{name}`

`migraseg-predict {name} my_images/ --out pred/` runs it (no training, no download).

| | |
|---|---|
| file | `migraseg/pretrained/{path.name}` ({path.stat().st_size / 1e6:.1f} MB, fp16 weights) |
| sha256 | `{sha256(path)}` |
| modality | {meta.modality} |
| pixel size | {meta.pixel_size_um:.4g} µm/px (images at other sizes are rescaled to it) |
| architecture | {meta.model.get("arch", "Unet")} / {meta.model.get("encoder_name")} |
| trained on | `{meta.dataset}` (simulated) |
| config sha256 | `{meta.config_sha256}` |
| git commit | `{meta.git_sha}` |
| migraseg | {meta.migraseg_version} |
| fp16 vs fp32 | max probability change {change:.2e}; {flipped:.2e} of pixels change class |

## Recipe

Run in this order, seeded (the training seed is in the config):

{recipe}

## Scores on held-out appearance families

{scores or "(not measured)"}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model.pt or .ckpt of the trained model")
    parser.add_argument("--name", required=True, choices=sorted(SHIPPED))
    parser.add_argument("--command", action="append", default=[], help="recipe step (repeat)")
    parser.add_argument("--scores", help="markdown file with the held-out scores")
    parser.add_argument(
        "--decoding",
        help="decoding.json (training's, or scripts/tune_decoding.py's) whose postprocess to ship",
    )
    parser.add_argument("--out", default=str(SHIPPED_DIR), help="folder (default: the package)")
    args = parser.parse_args(argv)

    source = Path(args.model)
    net, meta = load_model(source)
    if args.decoding:
        meta.postprocess = json.loads(Path(args.decoding).read_text())["postprocess"]
    shipped = Path(args.out) / SHIPPED[args.name]
    with atomic_path(shipped) as tmp:
        torch.save(weights_checkpoint(net.state_dict(), meta, half=True), tmp)
    load_checkpoint_model(shipped)  # loads back
    scores = Path(args.scores).read_text() if args.scores else ""
    deviation = fp16_deviation(source, shipped, meta)
    text = card(args.name, meta, shipped, args.command, deviation, scores)
    write_text_atomic(shipped.with_suffix(".md"), text)
    print(f"wrote {shipped} ({shipped.stat().st_size / 1e6:.1f} MB) and its card", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
