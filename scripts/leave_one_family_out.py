"""Leave-one-family-out: how well does a model do on an appearance family it has never seen?

For each family: train the experiment with that family switched off in the simulator (one
override, e.g. ``data.synthesize.simulator.confocal.optics.widefield=0``), then score it beside
the reference model (trained with every family) on the family's held-out eval set
(``configs/eval/sets/<set>.yaml``: simulated with another seed, that family only). The gap
between the two is what the family teaches; the "without" score is the zero-shot number.

    python scripts/leave_one_family_out.py --reference outputs/generalist/model.pt \
        --experiment generalist_confocal --out outputs/lofo \
        family_widefield:data.synthesize.simulator.confocal.optics.widefield=0

Each "without" model trains into ``<out>/without_<set>`` on its own simulated dataset
(``data/synthetic_<set>_heldout``), and the evaluation goes to ``<out>/eval_<set>``; the
combined table is printed and written to ``<out>/table.md`` (scripts/generalisation_table.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from generalisation_table import table

BIN = Path(sys.executable).parent


def run(command: list[str]) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="+", help="<eval set>:<override switching it off>")
    parser.add_argument("--reference", required=True, help="model trained with every family")
    parser.add_argument("--experiment", default="generalist_confocal")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train-args", nargs="*", default=[], help="extra training overrides")
    args = parser.parse_args(argv)
    results = []
    for spec in args.families:
        name, _, override = spec.partition(":")
        run_dir = args.out / f"without_{name}"
        if not (run_dir / "model.pt").exists():
            run(
                [
                    str(BIN / "migraseg-train"),
                    f"experiment={args.experiment}",
                    "init_from=null",  # from scratch: a shipped model has seen every family
                    override,
                    f"data.root=${{paths.data_dir}}/synthetic_{name}_heldout",
                    "evaluate=false",
                    "logger=csv",
                    f"hydra.run.dir={run_dir}",
                    *args.train_args,
                ]
            )
        eval_dir = args.out / f"eval_{name}"
        run(
            [
                str(BIN / "migraseg-eval"),
                f"models={{with_family:{args.reference},without_family:{run_dir / 'model.pt'}}}",
                f"eval/sets=[{name}]",
                "reference=with_family",
                f"hydra.run.dir={eval_dir}",
            ]
        )
        results.append(eval_dir / "metrics.json")
    text = table(results)
    (args.out / "table.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
