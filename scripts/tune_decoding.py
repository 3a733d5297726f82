"""Tune a trained model's migrasome decoding (``min_probability``, ``split_h_um``, ``min_score``)
on annotated images and write a copy of its checkpoint that decodes so.

Training does this itself on its held-out validation images (``tune_decoding: true``); this is
for a model trained before that, or for tuning on other annotated images than its own:

    python scripts/tune_decoding.py confocal data/synthetic_confocal_generalist --split val \\
        --out tuned/confocal.ckpt

The choice and the F1 of every combination go to ``<out>.decoding.json``. Tune on images the
model was not trained on: a validation split, or a set simulated with another seed (``--split
all``). The network's probabilities are averaged over the four flips, as migraseg-predict and
migraseg-eval run it by default (``--no-tta`` tunes for runs without them).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from migraseg.data.contract import load_dataset
from migraseg.inference.loading import choose_model_file, model_path
from migraseg.inference.predictor import Predictor
from migraseg.inference.settings import PredictSettings
from migraseg.training.decoding import (
    MIN_TRUE_OBJECTS,
    set_checkpoint_postprocess,
    tune_decoding,
)
from migraseg.utils.files import write_text_atomic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a .ckpt, or a shipped model's name")
    parser.add_argument("dataset", help="annotated dataset folder (the dataset contract)")
    parser.add_argument("--split", default="val", help="split(s) to tune on: val, val+test, all")
    parser.add_argument("--out", required=True, help="the tuned checkpoint to write (.ckpt)")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=PredictSettings.tta,
        help="average the 4 flips, as migraseg-predict does by default",
    )
    args = parser.parse_args(argv)

    source = choose_model_file(model_path(args.model), backend="torch", device=args.device)
    if source.suffix != ".ckpt":
        parser.error(f"{source}: a .ckpt is needed (TorchScript metadata is written at export)")
    spec = load_dataset(args.dataset)
    records = [r for split in args.split.split("+") for r in spec.split(split)]
    predictor = Predictor.from_path(source, backend="torch", device=args.device, tta=args.tta)
    choice = tune_decoding(predictor, records, min_true_objects=MIN_TRUE_OBJECTS)
    if choice is None:
        print(f"{args.dataset}: under {MIN_TRUE_OBJECTS} migrasomes to tune on", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    set_checkpoint_postprocess(source, choice.postprocess, out)
    report = out.with_name(out.name + ".decoding.json")
    write_text_atomic(report, json.dumps(asdict(choice), indent=1) + "\n")
    print(
        f"{out}: min_probability {choice.postprocess['min_probability']}, split_h_um "
        f"{choice.postprocess['split_h_um']}, min_score {choice.postprocess['min_score']}; "
        f"migrasome F1@0.5 on {choice.n_images} images "
        f"({choice.n_true} migrasomes) {choice.f1_before:.3f} -> {choice.f1:.3f}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
