#!/usr/bin/env bash
# Every GPU check in one go, for a GPU that is only briefly available: the GPU tests, the
# quickstart trained end to end with trainer=gpu (wall time, metrics, export), training-step
# throughput (benchmark_train.py) and inference throughput beside MONAI (benchmark_inference.py,
# also issue 12's goal rows).
# Run from the repository root with migraseg importable; logs and results go to $OUT
# (default gpu_results/), each step bounded by its own time limit so one slow step cannot eat
# the others. TRAIN_ARGS narrows the training-step matrix (e.g. "--encoders resnet34"):
#   bash scripts/benchmark_gpu.sh
set -uo pipefail
out=${OUT:-gpu_results}
run_dir=${RUN_DIR:-/tmp/migraseg_gpu_quickstart}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 WANDB_MODE=offline NO_ALBUMENTATIONS_UPDATE=1
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

step() { # name, time limit (s), command...
    local name=$1 limit=$2 start=$SECONDS
    shift 2
    echo "== $name: $*"
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    echo "== $name: exit $? after $((SECONDS - start)) s"
    tail -n 30 "$out/$name.log"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
"$py" -c 'import torch, lightning; print("torch", torch.__version__, "lightning", lightning.__version__)' |
    tee -a "$out/gpu.txt"

step tests 60 "$py" -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py
step quickstart 200 "$py" -m migraseg.cli.train experiment=quickstart trainer=gpu logger=csv \
    data.synthesize.workers=8 "hydra.run.dir=$run_dir"
cp "$run_dir/metrics.json" "$out/quickstart_metrics.json" 2>/dev/null
checkpoint=$(find "$run_dir/checkpoints" -name 'epoch*.ckpt' 2>/dev/null | sort -t- -k2 | tail -n 1)
# shellcheck disable=SC2086  # TRAIN_ARGS is a list of options
step train_throughput 150 "$py" scripts/benchmark_train.py ${TRAIN_ARGS:-}
step inference 120 "$py" scripts/benchmark_inference.py --gpu-only ${checkpoint:+--checkpoint "$checkpoint"}
# issue 12's goals: 2048² end to end, raw forward and MONAI in bf16, and a folder of 40 files of
# 2048² through the pipeline (batched tiles, writer processes)
step inference_goals 240 "$py" scripts/benchmark_inference.py --goals --gpu-only --files 400 \
    ${checkpoint:+--checkpoint "$checkpoint"}
step train_throughput_batch64 90 "$py" scripts/benchmark_train.py --encoders resnet18 \
    --variants fp32 bf16+cl --batch-size 64
