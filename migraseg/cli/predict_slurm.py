"""Submit migraseg-predict as N shards with submitit (SLURM, or locally), then merge.

For users who submit from Python or a shell without writing an sbatch file; the sbatch route
is scripts/slurm/predict.sbatch. Each job runs ``migraseg-predict ARGS --shard K/N``; when all
have finished, :func:`merge` (or ``--wait``) runs once more without ``--shard``, which skips
what they did and writes the merged summary.csv.

    python -m migraseg.cli.predict_slurm --shards 8 --partition gpu -- model.pt screen/ --out preds
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def predict_shard(argv: Sequence[str]) -> int:
    """One shard's migraseg-predict, as a submitit job (its exit status is the result)."""
    from migraseg.cli.predict import main

    return main(list(argv))


def submit_shards(
    argv: Sequence[str], shards: int, folder: str, cluster: str | None = None, **parameters: Any
) -> list:
    """Submit ``migraseg-predict argv --shard K/N`` for K = 1..N as one job array.

    Args:
        argv: migraseg-predict's arguments (model, inputs, ``--out``, options).
        shards: N.
        folder: where submitit keeps logs and pickles.
        cluster: None (SLURM if available, else local), "slurm", "local" or "debug".
        parameters: submitit executor parameters, e.g. ``slurm_partition="gpu"``,
            ``gpus_per_node=1``, ``timeout_min=720``.

    Returns:
        The submitit jobs; ``job.result()`` is each shard's exit status.
    """
    import submitit

    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    executor.update_parameters(**parameters)
    commands = [[*argv, "--shard", f"{k}/{shards}"] for k in range(1, shards + 1)]
    return executor.map_array(predict_shard, commands)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m migraseg.cli.predict_slurm", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--shards", type=int, required=True, help="N: jobs in the array")
    parser.add_argument("--partition", help="SLURM partition")
    parser.add_argument("--gpus", type=int, default=1, help="GPUs per job")
    parser.add_argument("--timeout-min", type=int, default=720)
    parser.add_argument("--folder", default="submitit_logs", help="submitit's log folder")
    parser.add_argument("--cluster", choices=("slurm", "local", "debug"), help="default: auto")
    parser.add_argument("--wait", action="store_true", help="wait, then merge here")
    parser.add_argument("predict_args", nargs=argparse.REMAINDER, help="-- migraseg-predict ARGS")
    args = parser.parse_args(argv)
    predict_args = [a for a in args.predict_args if a != "--"]
    if args.shards < 1:
        parser.error(f"--shards must be at least 1, got {args.shards}")
    if not predict_args:
        parser.error("give migraseg-predict's arguments after --")
    parameters: dict[str, Any] = {"timeout_min": args.timeout_min, "gpus_per_node": args.gpus}
    if args.partition:
        parameters["slurm_partition"] = args.partition
    jobs = submit_shards(predict_args, args.shards, args.folder, args.cluster, **parameters)
    print(f"submitted {len(jobs)} shard(s): {', '.join(job.job_id for job in jobs)}")
    if not args.wait:
        print(f"when they are done: migraseg-predict {' '.join(predict_args)}")
        return 0
    failed = [job.job_id for job in jobs if job.result() not in (0, 1)]
    if failed:
        print(f"shard job(s) {', '.join(failed)} did not finish; resubmit", file=sys.stderr)
    return predict_shard(predict_args)


if __name__ == "__main__":
    sys.exit(main())
