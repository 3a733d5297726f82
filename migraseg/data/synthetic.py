"""Write simulated images as a dataset folder in the data/README.md contract, and simulate a
folder from a recipe when it does not hold that dataset yet (training's default dataset and
simulated evaluation sets both do, through :func:`ensure_synthetic_dataset`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from migraseg.data.contract import make_splits, read_dataset_yaml, write_dataset_yaml
from migraseg.io import write_tiff
from migraseg.synth.generator import make_sample
from migraseg.synth.params import SynthConfig, synth_config_from_mapping
from migraseg.synth.presets import load_preset
from migraseg.synth.truth import csv_text
from migraseg.utils.files import write_text_atomic


def _write_one(out: Path, config: SynthConfig, seed: int, index: int) -> str:
    stem = f"synth_{seed}_{index:05d}"
    sample = make_sample(config, seed, index)
    size = sample.pixel_size_um
    lapse = "T" if sample.n_frames > 1 else ""
    channels = "C" if sample.image.shape[-3] > 1 or not lapse else ""
    image = sample.image if channels else sample.image[:, 0]
    interval = sample.truth.get("frame_interval_min")
    axes = f"{lapse}{channels}YX"
    write_tiff(out / "images" / f"{stem}.tif", image, size, axes, frame_interval_min=interval)
    write_tiff(out / "masks" / f"{stem}.tif", sample.mask, size, axes=f"{lapse}YX")
    write_tiff(out / "instances" / f"{stem}.tif", sample.migrasome_ids, size, axes=f"{lapse}YX")
    write_tiff(out / "cells" / f"{stem}.tif", sample.cell_ids, size, axes=f"{lapse}YX")
    truth = {"stem": stem, **sample.truth}
    write_text_atomic(out / "truth" / f"{stem}.json", json.dumps(truth, indent=1))
    write_text_atomic(out / "truth" / f"{stem}.csv", csv_text(truth))
    return stem


def _write_frames(out: Path, config: SynthConfig, seed: int, index: int) -> list[str]:
    """Write each frame of time-lapse ``index`` as a still image ``<stem>_t<frame>`` with its own
    truth: the training form of a time-lapse preset."""
    stem = f"synth_{seed}_{index:05d}"
    sample = make_sample(config, seed, index)
    size = sample.pixel_size_um
    base = {k: v for k, v in sample.truth.items() if k != "frames"}
    stems = []
    for t, frame in enumerate(sample.truth["frames"]):
        name = f"{stem}_t{t:03d}"
        write_tiff(out / "images" / f"{name}.tif", sample.image[t], size, axes="CYX")
        write_tiff(out / "masks" / f"{name}.tif", sample.mask[t], size)
        write_tiff(out / "instances" / f"{name}.tif", sample.migrasome_ids[t], size)
        write_tiff(out / "cells" / f"{name}.tif", sample.cell_ids[t], size)
        truth = {"stem": name, **base, **frame}
        write_text_atomic(out / "truth" / f"{name}.json", json.dumps(truth, indent=1))
        write_text_atomic(out / "truth" / f"{name}.csv", csv_text(truth))
        stems.append(name)
    return stems


def write_synthetic_dataset(
    out: str | Path,
    n: int,
    seed: int = 0,
    config: SynthConfig | Mapping[str, Any] | None = None,
    workers: int = 1,
    name: str | None = None,
    frames_as_images: bool = False,
) -> Path:
    """Simulate ``n`` images into ``out`` (created) and write its ``dataset.yaml`` last.

    Args:
        config: a :class:`SynthConfig`, a mapping in the shape of configs/data/synth/*.yaml
            (e.g. Hydra's ``data.synthesize.simulator``), or None for the default confocal set.
        workers: processes; the files are identical for any number.
        frames_as_images: time-lapse presets write every frame as a still image (what training
            reads); the frames of one time-lapse always share a split.

    ``dataset.yaml`` is written only when every image is on disk, so its presence marks a
    complete dataset (``make train`` uses it as the cache marker). Time-lapse presets write
    T×Y×X stacks (T×C×Y×X with several channels), which ``load_dataset`` does not train on,
    unless ``frames_as_images``.
    """
    out = Path(out)
    config = synth_config_from_mapping(config)
    frames = frames_as_images and config.timelapse.n_frames > 1
    job = partial(_write_frames if frames else _write_one, out, config, seed)
    if workers > 1:
        # no cv2.setNumThreads in the children: it deadlocks on the thread pool they inherit
        with ProcessPoolExecutor(workers) as pool:
            stems = list(pool.map(job, range(n), chunksize=max(1, n // (8 * workers))))
    else:
        stems = [job(i) for i in range(n)]
    if frames:  # split time-lapses, not frames: a test frame's neighbours are never trained on
        by_stack = {group[0].rsplit("_t", 1)[0]: group for group in stems}
        stack_splits = make_splits(list(by_stack), seed)
        splits = {k: sorted(s for g in v for s in by_stack[g]) for k, v in stack_splits.items()}
    else:
        splits = make_splits(stems, seed)
    acquisition = config.acquisition
    info: dict[str, Any] = {
        "name": name or out.name,
        "modality": config.modality,
        "pixel_size_um": float(sum(acquisition.pixel_size_um) / 2),
        "channels": config.channels,
        "description": f"migraseg simulator, preset {config.preset}, seed {seed}, {n} images",
        "splits": splits,
    }
    if config.timelapse.n_frames > 1:
        info["time_lapse"] = {
            "n_frames": config.timelapse.n_frames,
            "frame_interval_min": (  # drawn per stack: the range (each stack's in its truth)
                list(config.timelapse.frame_interval_range_min)
                if config.timelapse.frame_interval_range_min[1] > 0
                else config.timelapse.frame_interval_min
            ),
        }
    write_dataset_yaml(out, {**info, **synthesis_record(n, seed, config, frames)})
    return out


def synthesis_record(
    n: int, seed: int, config: SynthConfig, frames_as_images: bool = False
) -> dict[str, Any]:
    """What a simulated dataset was made from, as plain YAML-able values (tuples → lists)."""
    synthesis: dict[str, Any] = {"n": n, "seed": seed}
    if frames_as_images:
        synthesis["frames_as_images"] = True
    return json.loads(json.dumps({"synthesis": synthesis, "simulator": asdict(config)}))


def modality_settings(simulator: Mapping[str, Any]) -> dict[str, Any]:
    """The simulator settings that shape a dataset's images: a confocal dataset does not depend on
    the TEM section, nor a TEM dataset on the confocal one, so changing one modality's defaults
    does not make the other's cached datasets stale. Still images do not depend on the
    time-lapse settings either."""
    other = {"confocal": "tem", "tem": "confocal"}.get(simulator.get("modality"))
    stills = (simulator.get("timelapse") or {}).get("n_frames", 1) <= 1
    return {k: v for k, v in simulator.items() if k != other and not (stills and k == "timelapse")}


def cached_synthetic_dataset(
    root: Path, n: int, seed: int, config: SynthConfig, frames_as_images: bool = False
) -> bool:
    """Whether ``root`` already holds this simulated dataset (complete: ``dataset.yaml`` is
    written last); False when there is none yet.

    Raises:
        ValueError: ``root`` holds one made with other settings (or by an older simulator),
            which must not be used silently: the user deletes it or picks another folder.
    """
    if not (Path(root) / "dataset.yaml").exists():
        return False
    info, problems = read_dataset_yaml(root)
    if problems:
        raise ValueError("; ".join(problems))
    wanted = synthesis_record(n, seed, config, frames_as_images)
    made_with = modality_settings(info.get("simulator") or {})
    settings = modality_settings(wanted["simulator"])
    if info.get("synthesis") == wanted["synthesis"] and made_with == settings:
        return True
    keys = sorted(k for k in settings if made_with.get(k) != settings[k])
    detail = f"simulator settings differ in {keys}" if keys else "image count or seed differ"
    raise ValueError(
        f"{root} holds a simulated dataset made with other settings ({detail}); delete the "
        f"folder to simulate it again, or use another folder"
    )


def recipe_config(recipe: Mapping[str, Any]) -> SynthConfig:
    """The simulator settings of a recipe: its ``simulator`` mapping (in the shape of
    configs/data/synth/*.yaml, as training composes it into ``data.synthesize``), or else its
    ``preset`` (default ``confocal``) with ``overrides`` (``key=value`` strings, as evaluation
    sets name them)."""
    if "simulator" in recipe:
        return synth_config_from_mapping(recipe["simulator"])
    return load_preset(str(recipe.get("preset", "confocal")), list(recipe.get("overrides") or []))


def ensure_synthetic_dataset(
    root: str | Path, recipe: Mapping[str, Any], simulate: bool = True
) -> bool:
    """Simulate the dataset folder ``root`` from ``recipe`` unless it already holds it.

    Recipe keys: ``n`` (default 12), ``seed`` (0), ``workers`` (1), ``frames_as_images``
    (false: time-lapses as stacks; true: every frame a still image), and the simulator settings
    (:func:`recipe_config`).

    Args:
        simulate: False only checks (what DDP ranks other than 0 do while rank 0 simulates).

    Returns:
        Whether ``root`` now holds the dataset (always True when ``simulate``).

    Raises:
        ValueError: ``root`` holds a simulated dataset made from another recipe.
    """
    config = recipe_config(recipe)
    n, seed = int(recipe.get("n", 12)), int(recipe.get("seed", 0))
    frames = bool(recipe.get("frames_as_images", False)) and config.timelapse.n_frames > 1
    if cached_synthetic_dataset(Path(root), n, seed, config, frames):
        return True
    if simulate:
        workers = int(recipe.get("workers", 1))
        write_synthetic_dataset(root, n, seed, config, workers, frames_as_images=frames)
    return simulate
