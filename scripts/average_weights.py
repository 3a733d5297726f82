"""Average the weights of models fine-tuned from one model into one checkpoint (a model soup).

    python scripts/average_weights.py soup.ckpt confocal runs/a/model.pt runs/b/last.ckpt
    python scripts/tune_decoding.py soup.ckpt data/synthetic_confocal_generalist --split val \\
        --out soup_tuned.ckpt

Each model is a ``.ckpt``, a TorchScript ``model.pt`` or a shipped model's name; all must share
the first one's architecture, modality, pixel size and normalisation. The result carries the
first model's metadata and decoding: tune the decoding afterwards, as above.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from migraseg.inference.loading import weights_checkpoint
from migraseg.training.run import TrainingInputError
from migraseg.training.soup import average_weights
from migraseg.utils.files import atomic_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the averaged checkpoint to write (.ckpt)")
    parser.add_argument("models", nargs="+", help="two or more models (.ckpt, model.pt, name)")
    args = parser.parse_args(argv)

    out = Path(args.out)
    if out.suffix != ".ckpt":
        parser.error(f"{out}: the output is a checkpoint; name it .ckpt")
    try:
        state, meta = average_weights(args.models)
    except TrainingInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with atomic_path(out) as tmp:
        torch.save(weights_checkpoint(state, meta), tmp)
    print(f"{out}: the mean of {len(args.models)} models' weights", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
