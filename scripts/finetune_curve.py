"""How many annotated images does a lab need? Zero-shot against fine-tuned on 1, 3, 5, 10 images.

The model starts on an appearance family it has never seen (for an honest curve, a
leave-one-family-out model: scripts/leave_one_family_out.py). The "lab's" annotated images are
simulated from that family's eval-set recipe with another seed (so never the images scored), all
of them used for training, as a lab with five images would; each fine-tune is timed. Then every
model is scored on the family's held-out set in one migraseg-eval run, with paired bootstrap
intervals against the zero-shot model:

    python scripts/finetune_curve.py --model outputs/lofo/without_family_widefield/model.pt \
        --family family_widefield --sizes 1 3 5 10 --out outputs/finetune_curve
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from generalisation_table import table

BIN = Path(sys.executable).parent
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def run(command: list[str]) -> float:
    """Run a command (echoed), fail on error, return its wall time in seconds."""
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def lab_images(family: str, n: int, seed: int, folder: Path) -> Path:
    """``n`` images of the family's recipe with another seed, all in the train split."""
    recipe = yaml.safe_load((CONFIGS / "eval" / "sets" / f"{family}.yaml").read_text())[family]
    synth = recipe["synthesize"]
    if not (folder / "dataset.yaml").exists():
        run(
            [
                str(BIN / "migraseg-synth"),
                str(folder),
                *synth.get("overrides", []),
                "--preset",
                synth["preset"],
                "--n",
                str(n),
                "--seed",
                str(seed),
            ]
        )
    info = yaml.safe_load((folder / "dataset.yaml").read_text())
    stems = sorted(s for split in info["splits"].values() for s in split)
    info["splits"] = {"train": stems, "val": [], "test": []}
    (folder / "dataset.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the zero-shot model (model.pt)")
    parser.add_argument("--family", required=True, help="eval set of the held-out family")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 5, 10])
    parser.add_argument("--seed", type=int, default=11, help="seed of the lab's images")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train-args", nargs="*", default=[], help="extra fine-tune overrides")
    args = parser.parse_args(argv)
    models, seconds = {"zero_shot": args.model}, {}
    for n in args.sizes:
        data = lab_images(args.family, n, args.seed, args.out / f"lab_{n}")
        run_dir = args.out / f"finetuned_{n}"
        if not (run_dir / "model.pt").exists():
            seconds[n] = run(
                [
                    str(BIN / "migraseg-train"),
                    "experiment=finetune",
                    f"init_from={args.model}",
                    "data=tiff_folder",
                    f"data.root={data}",
                    "evaluate=false",
                    "logger=csv",
                    f"hydra.run.dir={run_dir}",
                    *args.train_args,
                ]
            )
        models[f"finetuned_{n}"] = str(run_dir / "model.pt")
    spec = ",".join(f"{name}:{path}" for name, path in models.items())
    eval_dir = args.out / "eval"
    run(
        [
            str(BIN / "migraseg-eval"),
            f"models={{{spec}}}",
            f"eval/sets=[{args.family}]",
            "reference=zero_shot",
            f"hydra.run.dir={eval_dir}",
        ]
    )
    (args.out / "seconds.json").write_text(json.dumps(seconds, indent=1))
    text = table([eval_dir / "metrics.json"])
    text += "\n\nfine-tune wall time (s): " + json.dumps(seconds)
    (args.out / "table.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
