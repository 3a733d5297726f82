"""Training-step throughput (images/s) and peak memory by encoder, precision and memory format.

One training step is what Lightning runs for ``migraseg-train``: forward (under bf16 autocast for
``bf16-mixed``), the configured loss, backward, AdamW step. Each configuration runs in its own
process so that peak memory (GPU: ``torch.cuda.max_memory_allocated``; CPU: peak RSS) and
``torch.compile`` caches do not leak between rows. Inputs are random: the step's cost does not
depend on pixel values. The default matrix runs in under 5 minutes on one GPU.

    python scripts/benchmark_train.py                           # GPU if present, else CPU
    python scripts/benchmark_train.py --device cpu --encoders resnet18 --steps 5
    python scripts/benchmark_train.py --variants fp32 bf16 bf16+cl bf16+cl+compile
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from migraseg.utils.config import CONFIG_DIR

VARIANTS = {  # name: (precision, channels_last, compile)
    "fp32": ("32-true", False, False),
    "fp32+cl": ("32-true", True, False),
    "bf16": ("bf16-mixed", False, False),
    "bf16+cl": ("bf16-mixed", True, False),
    "bf16+cl+compile": ("bf16-mixed", True, True),
}
DEFAULTS = {
    "cuda": (["resnet18", "resnet34"], ["fp32", "bf16", "bf16+cl", "bf16+cl+compile"]),
    "cpu": (["resnet18", "resnet34"], ["fp32", "fp32+cl", "bf16"]),
}


def run_one(spec: dict) -> dict:
    """Time ``spec["steps"]`` training steps after ``spec["warmup"]``; runs in a child process."""
    device = torch.device(spec["device"])
    precision, channels_last, compiled = VARIANTS[spec["variant"]]
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose("train", [f"model.encoder_name={spec['encoder']}"])
    torch.backends.cudnn.benchmark = True  # trainer.benchmark in trainer=gpu
    net = instantiate(cfg.model, in_channels=1).to(device)
    loss_fn = instantiate(cfg.loss)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=memory_format)
    if compiled:
        net.compile()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    size, batch = spec["patch_size"], spec["batch_size"]
    images = torch.randn(batch, 1, size, size, device=device).to(memory_format=memory_format)
    masks = torch.randint(0, 4, (batch, size, size), device=device)
    autocast = torch.autocast(device.type, torch.bfloat16, enabled=precision == "bf16-mixed")

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = loss_fn(net(images), masks)
        loss.backward()
        optimizer.step()

    start = time.perf_counter()
    for _ in range(spec["warmup"]):
        step()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    warmup_s = time.perf_counter() - start
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(spec["steps"]):
        step()
    sync()
    elapsed = time.perf_counter() - start
    if device.type == "cuda":
        peak_mib = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        **spec,
        "images_per_s": round(batch * spec["steps"] / elapsed, 2),
        "step_ms": round(1000 * elapsed / spec["steps"], 1),
        "warmup_s": round(warmup_s, 1),
        "peak_mib": round(peak_mib),
    }


def summarize(rows: list[dict]) -> dict:
    """Median throughput and step time, largest peak memory, over the rounds of one config."""
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return rows[-1]
    return {
        **ok[0],
        "rounds": len(ok),
        "images_per_s": statistics.median(r["images_per_s"] for r in ok),
        "step_ms": statistics.median(r["step_ms"] for r in ok),
        "warmup_s": statistics.median(r["warmup_s"] for r in ok),
        "peak_mib": max(r["peak_mib"] for r in ok),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--encoders", nargs="+", help="smp encoder names")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS))
    parser.add_argument("--batch-size", type=int, default=8, help="patches per step (data config)")
    parser.add_argument("--patch-size", type=int, default=192, help="pixels (data config)")
    parser.add_argument("--steps", type=int, help="timed steps (default: 50 GPU, 5 CPU)")
    parser.add_argument("--warmup", type=int, help="untimed steps (default: 10 GPU, 2 CPU)")
    parser.add_argument("--rounds", type=int, default=1, help="repeats of the matrix (median)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one spec (JSON)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))), flush=True)
        return

    gpu = args.device.startswith("cuda")
    encoders, variants = DEFAULTS["cuda" if gpu else "cpu"]
    configs = [(e, v) for e in args.encoders or encoders for v in args.variants or variants]
    runs: dict[tuple[str, str], list[dict]] = {c: [] for c in configs}
    for _ in range(args.rounds):  # rounds interleave configurations: load drift hits all alike
        for encoder, variant in configs:
            spec = {
                "device": args.device,
                "encoder": encoder,
                "variant": variant,
                "batch_size": args.batch_size,
                "patch_size": args.patch_size,
                "steps": args.steps or (50 if gpu else 5),
                "warmup": args.warmup or (10 if gpu else 2),
            }
            threads = ["--threads", str(args.threads)] if args.threads else []
            command = [sys.executable, __file__, "--one", json.dumps(spec), *threads]
            proc = subprocess.run(command, capture_output=True, text=True)
            if proc.returncode:
                row = {**spec, "error": proc.stderr.strip().splitlines()[-1]}
            else:
                row = json.loads(proc.stdout.strip().splitlines()[-1])
            runs[encoder, variant].append(row)
            print(json.dumps(row), flush=True)
    results = [summarize(rows) for rows in runs.values()]

    name = torch.cuda.get_device_name() if gpu else f"{platform.machine()} CPU"
    print(
        f"\n{name}, torch {torch.__version__}, {os.cpu_count()} cores; batch "
        f"{args.batch_size} × 1×{args.patch_size}², U-Net, Dice+CE, AdamW; median of "
        f"{args.rounds} round(s)\n"
    )
    print("| encoder | variant | images/s | step (ms) | peak memory (MiB) | warm-up (s) |")
    print("|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['encoder']} | {r['variant']} | failed: {r['error']} | | | |")
        else:
            print(
                f"| {r['encoder']} | {r['variant']} | {r['images_per_s']} | {r['step_ms']} | "
                f"{r['peak_mib']} | {r['warmup_s']} |"
            )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
