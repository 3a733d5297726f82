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
    python scripts/benchmark_inference.py --goals --files 1000 --write BENCHMARKS.md

``--goals`` runs only issue 12's comparisons, each against a peer measured in the same
invocation: end to end (uint8 labels, as migraseg-predict streams them) against the raw
forward of the same backend over the same pixels (the whole normalised image in one forward
pass), against MONAI's ``sliding_window_inference`` on the same backend, and files/s of
migraseg-predict's folder loop (:class:`BatchPredictor`, every output written) on ``--files``
TIFFs of 512². On a CUDA machine it adds the GPU rows: eager bf16, a folder of 2048² images,
and MONAI on one of them.
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


def goal_configs(cuda: bool, n_files: int) -> list[dict]:
    """Issue 12's goals: the default CPU backend (ONNX Runtime) against its own raw forward and
    MONAI on it; the folder loop's files/s; on CUDA the same on eager bf16 with 2048² files."""
    base = {"device": "cpu", "tile": 512, "batch": 4, "tta": False, "backend": "onnxruntime"}
    configs = [
        {**base, "mode": "labels"},
        {**base, "mode": "raw-forward"},
        {**base, "mode": "monai"},
        {**base, "mode": "files", "files": n_files, "side": 512, "pipeline": False},
        {**base, "mode": "files", "files": n_files, "side": 512, "pipeline": True},
    ]
    if cuda:
        gpu = {**base, "device": "cuda", "batch": 8, "backend": "eager", "amp": True}
        many = max(n_files // 10, 20)
        configs += [
            {**gpu, "mode": "labels", "side": 2048},
            {**gpu, "mode": "raw-forward", "side": 2048},
            {**gpu, "mode": "monai", "side": 2048},
            {**gpu, "mode": "files", "files": many, "side": 2048, "pipeline": True},
        ]
    return configs


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

    from migraseg.inference.predictor import ArraySource
    from migraseg.normalization import percentile_normalize

    torch.set_num_threads(os.cpu_count() or 1)
    image = np.load(work / "image.npy")
    if config.get("side"):
        image = tiled_to(image, config["side"])
    predictor = make_predictor(work, config)
    mode = config.get("mode", "end-to-end")
    if mode == "files":
        return run_files(work, config, predictor, image)
    norm = percentile_normalize(image)  # what the network sees, for the normalised rows
    if mode == "monai":
        from monai.inferers import sliding_window_inference

        def network(x: torch.Tensor) -> torch.Tensor:
            return predictor.runner(x)  # probabilities on x's device, as ours

        @torch.inference_mode()  # the runner returns inference tensors; MONAI blends in place
        def call():
            x = torch.from_numpy(norm[None]).to(config["device"])
            return sliding_window_inference(
                x, (config["tile"],) * 2, config["batch"], network, overlap=0.25,
                mode="gaussian", sigma_scale=0.125,
            )[0].cpu().numpy()  # fmt: skip
    elif mode == "labels":
        source = ArraySource(image)

        def call():  # migraseg-predict's path: uint8 labels and migrasome scores leave the device
            size = predictor.meta.pixel_size_um
            for _ in predictor.stream_labels(source, size, classes=[3]):
                pass
    elif mode == "raw-forward":
        net = predictor.runner.model if config["backend"] == "onnxruntime" else predictor.runner

        def call():  # the network alone on the whole image, one pass (1280², 2048²: ×32)
            x = torch.from_numpy(norm[None])
            return net(x.numpy()) if config["backend"] == "onnxruntime" else net(x)
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


def tiled_to(image, side: int):
    """``image`` (C, Y, X) repeated (mirrored) or cropped to (C, side, side)."""
    import numpy as np

    reps = (1, -(-side // image.shape[1]), -(-side // image.shape[2]))
    return np.ascontiguousarray(
        np.pad(
            image,
            [(0, (r - 1) * n) for r, n in zip(reps, image.shape, strict=True)],
            mode="symmetric",
        )[:, :side, :side]
    )


def run_files(work: Path, config: dict, predictor, image) -> dict:
    """files/s and MP/s of migraseg-predict's folder loop on ``config['files']`` uncompressed
    TIFFs of ``image`` (every output written; timed after two warm-up files elsewhere): as a
    pipeline (``config['pipeline']``: tiles of several files batched, writer processes), or
    plain (one file at a time, streamed, written in this process)."""
    from migraseg.inference import predict_files
    from migraseg.inference.predict_files import BatchPredictor, PredictOptions
    from migraseg.io import write_tiff

    folder = work / f"files_{config['device']}"
    folder.mkdir(exist_ok=True)
    size = predictor.meta.pixel_size_um
    paths = [
        write_tiff(folder / f"f{i:05d}.tif", image[0], size, compression=None)
        for i in range(config["files"])
    ]
    options = PredictOptions(workers=None if config["pipeline"] else 0)
    if not config["pipeline"]:
        predict_files.MAX_HELD_BYTES = 0  # every file streamed
    BatchPredictor(predictor, work / "warm_up", options).run(paths[:2])
    Path("/proc/self/clear_refs").write_text("5")
    start = time.perf_counter()
    out = work / f"out_{config['device']}_{config['pipeline']}"
    reports = BatchPredictor(predictor, out, options).run(paths)
    seconds = time.perf_counter() - start
    if any(r.status != "done" for r in reports):
        raise SystemExit(f"files: {[r.message for r in reports if r.message][:3]}")
    megapixels = len(paths) * image.shape[1] * image.shape[2] / 1e6
    return {
        "seconds": seconds,
        "mp_per_s": megapixels / seconds,
        "files_per_s": len(paths) / seconds,
        "peak_rss_mib": current_rss_mib("VmHWM"),
        "loaded_rss_mib": float("nan"),
        "gpu_peak_mib": None,
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


def goal_table(results: list[tuple[dict, dict]], args: argparse.Namespace) -> str:
    """Issue 12's goals: rows, and each ratio from peers timed in this invocation."""
    import onnxruntime
    import torch

    from migraseg.inference.pipeline import default_workers

    network = Path(args.checkpoint).name if args.checkpoint else f"{args.network} (random weights)"
    lines = [
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on "
        f"{machine()}; torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; network "
        f"{network} U-Net (1 → 4 classes); tile 512, overlap 0.25; median of {args.repeats} runs "
        "after a warm-up, each row in a fresh process (files: one timed pass after two warm-up "
        "files).",
        "",
        f"Command: `python scripts/benchmark_inference.py {' '.join(sys.argv[1:])}`",
        "",
        "| device | backend | what is timed | image | s | MP/s | files/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for config, result in results:
        side = config.get("side") or args.size
        what = {
            "labels": "end to end: raw image → uint8 labels + migrasome scores",
            "raw-forward": "raw forward of the network, whole normalised image, one pass",
            "monai": "MONAI `sliding_window_inference`, normalised image → probabilities",
            "files": f"migraseg-predict folder loop, {config.get('files')} files, all outputs",
        }[config["mode"]]
        if config["mode"] == "files":
            what += (
                f", pipeline ({default_workers(config['files'])} writer processes, "
                f"{config['batch']} tiles per pass across files)"
                if config["pipeline"]
                else ", plain (one file at a time, written by the main process)"
            )
        files = f"{result['files_per_s']:.2f}" if "files_per_s" in result else ""
        lines.append(
            f"| {config['device']} | {result['runner']} | {what} | {side}² | "
            f"{result['seconds']:.2f} | {result['mp_per_s']:.3f} | {files} |"
        )
    lines.append("")
    for device in ("cpu", "cuda"):
        speed = {c["mode"]: r["seconds"] for c, r in results if c["device"] == device}
        if "labels" not in speed:
            continue
        raw, monai = speed["raw-forward"] / speed["labels"], speed["monai"] / speed["labels"]
        lines.append(
            f"- **{device}**: end to end / raw forward = **{raw:.2f}×** "
            f"(goal ≥ 0.6×); end to end over MONAI = **{monai:.2f}×** "
            "(goal ≥ 1.2×; MONAI's time excludes normalisation and the argmax, ours includes them)."
        )
        files = {
            c["pipeline"]: r["seconds"]
            for c, r in results
            if c["mode"] == "files" and c["device"] == device
        }
        if len(files) == 2:
            lines.append(
                f"- **{device}** folder loop: pipeline / plain = "
                f"**{files[False] / files[True]:.2f}×** files/s."
            )
    if not torch.cuda.is_available():
        lines.append("- No CUDA device here: the GPU rows (eager bf16, 2048² files) not run.")
    return "\n".join(lines) + "\n"


def write_section(path: Path, body: str, title: str = "## Inference") -> None:
    """Replace the body of section ``title`` (appended at the end if there is none)."""
    text = path.read_text(encoding="utf-8")
    if f"\n{title}\n" not in text:
        text = text.rstrip("\n") + f"\n\n{title}\n"
    start = text.index(f"\n{title}\n") + len(title) + 1
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
    parser.add_argument("--goals", action="store_true", help="only issue 12's goal comparisons")
    parser.add_argument("--files", type=int, default=1000, help="--goals: 512² files to predict")
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
        if args.goals:
            configs = goal_configs(torch.cuda.is_available(), args.files)
            if args.gpu_only:
                configs = [c for c in configs if c["device"] == "cuda"]
        else:
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
        body = goal_table(results, args) if args.goals else table(results, args, notes)
    print(body)
    if args.write:
        title = "## Inference goals (issue 12)" if args.goals else "## Inference"
        write_section(Path(args.write), body, title)


if __name__ == "__main__":
    main()
