"""Benchmark migraseg's sliding-window inference: MP/s and peak memory per backend and setting.

Every configuration runs in a fresh process (peak RSS is per process); the parent prepares the
model files once (eager weights, traced TorchScript, ONNX), collects medians and writes a
markdown table, optionally into BENCHMARKS.md's "## Inference" section. MONAI's
``sliding_window_inference`` (gaussian blending, same network, tile, overlap and batch) runs on
the same normalised image in the same invocation as the peer to beat; the table reports our
speed over MONAI's and the largest difference between the two probability maps.

    python scripts/benchmark_inference.py                      # CPU rows, print the table
    python scripts/benchmark_inference.py --write BENCHMARKS.md
    python scripts/benchmark_inference.py --quick              # tiny model, smoke test
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NETWORKS = {
    "resnet18": {"encoder_name": "resnet18", "decoder_channels": [128, 64, 32, 24, 16]},
    "tiny": {"encoder_name": "tu-test_resnet", "encoder_depth": 3, "decoder_channels": [16, 8, 8]},
}


def cpu_configs() -> list[dict]:
    base = {"device": "cpu", "tile": 512, "batch": 4, "tta": False}
    return [
        {**base, "backend": "eager"},
        {**base, "backend": "torchscript"},
        {**base, "backend": "onnxruntime"},
        {**base, "backend": "onnxruntime", "tile": 256},
        {**base, "backend": "onnxruntime", "tile": 1024, "batch": 1},
        {**base, "backend": "onnxruntime", "batch": 1},
        {**base, "backend": "onnxruntime", "tta": True},
        {**base, "backend": "eager", "mode": "ours-normalised", "save": "ours"},
        {**base, "backend": "eager", "mode": "monai", "save": "monai"},
    ]


def gpu_configs() -> list[dict]:
    base = {"device": "cuda", "tile": 512, "batch": 8, "tta": False, "backend": "eager"}
    return [
        {**base, "amp": False},
        {**base, "amp": True},
        {**base, "amp": True, "channels_last": True},
        {**base, "amp": True, "mode": "ours-normalised", "save": "ours_gpu"},
        {**base, "amp": True, "mode": "monai", "save": "monai_gpu"},
    ]


def prepare(work: Path, network: str, size: int, checkpoint: str | None) -> None:
    """Write the model in every format and a simulated test image (uint16, size², at the
    model's pixel size). A trained checkpoint makes output comparisons meaningful (a random
    network's near-uniform probabilities flip their argmax at the slightest difference)."""
    import numpy as np
    import torch

    from migraseg.export import export_onnx, export_torchscript
    from migraseg.inference.loading import load_checkpoint_model
    from migraseg.model_meta import ModelMeta
    from migraseg.models import build_model
    from migraseg.publish.bioimageio import sample_image

    torch.manual_seed(0)
    if checkpoint:
        net, meta = load_checkpoint_model(Path(checkpoint))
    else:
        kwargs = {**NETWORKS[network], "in_channels": 1}
        net = build_model(**kwargs).eval()
        meta = ModelMeta(in_channels=1, pixel_size_um=0.1, patch_size=256, model=kwargs)
    torch.save(net.state_dict(), work / "weights.pth")
    (work / "meta.json").write_text(meta.to_json())
    export_torchscript(net, meta, work / "model.pt")
    export_onnx(net, meta, work / "model.onnx")
    np.save(work / "image.npy", sample_image(meta, size=size))


def make_predictor(work: Path, config: dict):
    """A Predictor for one configuration (GPU options set on its runner)."""
    import warnings

    import torch

    from migraseg.inference.backends import OnnxModel, TorchRunner
    from migraseg.inference.predictor import Predictor
    from migraseg.model_meta import ModelMeta
    from migraseg.models import build_model

    meta = ModelMeta.from_dict(json.loads((work / "meta.json").read_text()))
    backend = config["backend"]
    if backend == "onnxruntime":
        net = OnnxModel(work / "model.onnx")
    elif backend == "eager":
        net = build_model(**meta.model)
        net.load_state_dict(torch.load(work / "weights.pth"))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            net = torch.jit.load(str(work / "model.pt")).eval()  # frozen by the runner on CPU
    options = {"tile_size": config["tile"], "batch_size": config["batch"], "tta": config["tta"]}
    predictor = Predictor(net, meta, device=config["device"], **options)
    if config["device"] != "cpu":
        predictor.runner = TorchRunner(
            net,
            torch.device(config["device"]),
            tta=config["tta"],
            amp=config.get("amp", False),
            channels_last=config.get("channels_last", False),
        )
    return predictor


def current_rss_mib(key: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak since the last reset) in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_one(work: Path, config: dict, repeats: int) -> dict:
    """Time one configuration in this process; return medians and peak RSS."""
    import numpy as np
    import torch

    from migraseg.normalization import percentile_normalize

    torch.set_num_threads(os.cpu_count() or 1)
    image = np.load(work / "image.npy")
    predictor = make_predictor(work, config)
    mode = config.get("mode", "end-to-end")
    norm = percentile_normalize(image)  # what the network sees, for the normalised rows
    if mode == "monai":
        from monai.inferers import sliding_window_inference

        def network(x: torch.Tensor) -> torch.Tensor:
            return predictor.runner(x)  # probabilities on x's device, as ours

        def call():
            x = torch.from_numpy(norm[None]).to(config["device"])
            return sliding_window_inference(
                x, (config["tile"],) * 2, config["batch"], network, overlap=0.25,
                mode="gaussian", sigma_scale=0.125,
            )[0].cpu().numpy()  # fmt: skip
    elif mode == "ours-normalised":

        def call():
            return predictor.sliding_window(norm)
    else:

        def call():
            return predictor.probabilities(image, predictor.meta.pixel_size_um)

    loaded_mib = current_rss_mib("VmRSS")
    call()  # warm-up: first calls create kernels and allocator pools
    Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) from here
    times, out = [], None
    for _ in range(repeats):
        if config["device"] != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = call()
        if config["device"] != "cpu":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    if config.get("save"):
        np.save(work / f"out_{config['save']}.npy", out)
    megapixels = image.shape[1] * image.shape[2] / 1e6
    return {
        "seconds": statistics.median(times),
        "mp_per_s": megapixels / statistics.median(times),
        "peak_rss_mib": current_rss_mib("VmHWM"),
        "loaded_rss_mib": loaded_mib,
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20
        if config["device"] != "cpu"
        else None,
        "runner": predictor.runner.name,
    }


def describe(config: dict) -> str:
    extras = [k for k in ("amp", "channels_last") if config.get(k)]
    mode = config.get("mode", "end-to-end")
    return (
        f"| {config['device']} | {config['backend']}{'+' + '+'.join(extras) if extras else ''} "
        f"| {mode} | {config['tile']} | {config['batch']} | {'on' if config['tta'] else 'off'} "
    )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def table(results: list[tuple[dict, dict]], args: argparse.Namespace, extra: list[str]) -> str:
    import onnxruntime
    import torch

    lines = [
        f"Measured {datetime.date.today()} on {machine()}; torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}; network "
        f"{Path(args.checkpoint).name if args.checkpoint else args.network + ' (random weights)'}"
        " U-Net (1 → 4 classes), "
        f"image {args.size}² uint16 at the model's pixel size, overlap 0.25, median of "
        f"{args.repeats} runs after one warm-up run, each configuration in a fresh process. "
        "RSS loaded: libraries + model before the first run; peak RSS: highest resident set "
        "during the timed runs.",
        "",
        f"Command: `python scripts/benchmark_inference.py {' '.join(sys.argv[1:])}`",
        "",
        "| device | backend | what is timed | tile | batch | TTA | s | MP/s | RSS loaded MiB "
        "| peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for config, result in results:
        rss = f"{result['peak_rss_mib']:.0f}"
        if result.get("gpu_peak_mib"):
            rss += f" (GPU {result['gpu_peak_mib']:.0f})"
        lines.append(
            describe(config) + f"| {result['seconds']:.2f} | {result['mp_per_s']:.3f} "
            f"| {result['loaded_rss_mib']:.0f} | {rss} |"
        )
    lines += ["", *extra]
    for device, suffix in (("cpu", ""), ("cuda", "_gpu")):
        lines += monai_comparison(results, Path(args.work), device, suffix)
    return "\n".join(lines) + "\n"


def monai_comparison(results: list, work: Path, device: str, suffix: str) -> list[str]:
    """Our speed over MONAI's and the difference of the outputs, for one device's pair of rows."""
    import numpy as np

    ours_file, monai_file = work / f"out_ours{suffix}.npy", work / f"out_monai{suffix}.npy"
    if not (ours_file.is_file() and monai_file.is_file()):
        return []
    ours, monai = np.load(ours_file), np.load(monai_file)
    speed = {c.get("mode"): r["seconds"] for c, r in results if c["device"] == device}
    config = next(c for c, _ in results if c["device"] == device and c.get("mode") == "monai")
    return [
        "",
        f"MONAI peer on {device} (same network and runner, tile {config['tile']}, overlap 0.25, "
        f"batch {config['batch']}, gaussian σ = tile/8, same normalised image): ours "
        f"{speed['ours-normalised']:.2f} s vs MONAI {speed['monai']:.2f} s, our speed-up = "
        f"{speed['monai'] / speed['ours-normalised']:.2f}×; probabilities differ by "
        f"{np.abs(ours - monai).mean():.1e} on average and {np.abs(ours - monai).max():.1e} "
        f"at most, labels agree on {(ours.argmax(0) == monai.argmax(0)).mean() * 100:.3f} % "
        "of pixels (the remaining difference is in how each builds its Gaussian weights; "
        "at other image sizes the tile grids differ too).",
    ]


def write_section(path: Path, body: str, title: str = "## Inference") -> None:
    text = path.read_text(encoding="utf-8")
    start = text.index(title) + len(title)
    nxt = text.find("\n## ", start)
    end = len(text) if nxt < 0 else nxt + 1
    path.write_text(text[:start] + "\n\n" + body + "\n" + text[end:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size",
        type=int,
        default=1280,
        help="image side in px (1280: MONAI places tiles as we do)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--network", choices=sorted(NETWORKS), default="resnet18")
    parser.add_argument("--checkpoint", help="a trained .ckpt instead of a random --network")
    parser.add_argument("--quick", action="store_true", help="tiny network, 256², 1 repeat")
    parser.add_argument("--gpu-only", action="store_true", help="skip the CPU rows")
    parser.add_argument("--write", help="replace the '## Inference' section of this markdown")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # JSON config: run in this process
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(Path(args.work), json.loads(args.one), args.repeats)))
        return
    if args.quick:
        args.network, args.size, args.repeats = "tiny", 512, 1
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        args.work = tmp
        prepare(Path(tmp), args.network, args.size, args.checkpoint)
        configs = [] if args.gpu_only else cpu_configs()
        configs += gpu_configs() if torch.cuda.is_available() else []
        results, notes = [], []
        if not torch.cuda.is_available():
            notes.append("No CUDA device here: GPU rows (fp32 vs bf16, channels_last) not run.")
        for config in configs:
            if args.quick and config["tile"] > args.size:
                continue
            command = [sys.executable, __file__, "--one", json.dumps(config), "--work", tmp]
            command += ["--repeats", str(args.repeats)]
            proc = subprocess.run(command, capture_output=True, text=True, check=False)
            if proc.returncode:
                raise SystemExit(f"{describe(config)} failed:\n{proc.stderr}")
            results.append((config, json.loads(proc.stdout.strip().splitlines()[-1])))
            print(describe(config), results[-1][1], flush=True)
        body = table(results, args, notes)
    print(body)
    if args.write:
        write_section(Path(args.write), body)


if __name__ == "__main__":
    main()
