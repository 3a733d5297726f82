"""Model cards: what a model is, what it was trained on, how good it is, and how to check it.

The same markdown is the model's ``<stem>_card.md`` beside the exported weights ``<stem>.pt``
and the README of its bioimage.io package (which wants a ``# Validation`` section). Its metrics
come from a ``metrics.json`` only if that file scored the very checkpoint being published.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from migraseg.constants import MIGRASOME_POSTPROCESS
from migraseg.model_meta import ModelMeta
from migraseg.publish.info import PublishInfo
from migraseg.utils.files import sha256_file

NO_METRICS = "No metrics.json was given at export."


def load_metrics(path: str | Path | None) -> dict[str, Any] | None:
    """A ``metrics.json`` from ``migraseg-train``/``migraseg-eval``, or None if absent.

    Raises:
        ValueError: the file is not JSON (the message names it).
    """
    if path is None or not Path(path).is_file():
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not a metrics.json ({err})") from err


def _same_file(recorded: str, checkpoint: Path, base: Path) -> bool:
    """Whether a path recorded in metrics.json (absolute, or relative to the working directory
    of the run or to the metrics file's folder) is ``checkpoint``."""
    for candidate in (Path(recorded), base / recorded):
        if candidate.is_file() and candidate.samefile(checkpoint):
            return True
    return False


def checkpoint_metrics(
    path: str | Path | None, checkpoint: str | Path
) -> tuple[dict[str, Any] | None, str]:
    """The results a ``metrics.json`` holds for ``checkpoint``, for its model card.

    A metrics file scores particular model files (``models.<name>.path``, schema 2); it says
    nothing about another checkpoint of the same run (``last.ckpt`` beside the scored best one).

    Returns:
        ``(metrics, note)``: metrics restricted to ``checkpoint`` and the classical baseline on
        every set, or None with a note (file names only, fit for a published card) saying why
        there are none.

    Raises:
        ValueError: the file is not JSON.
    """
    metrics = load_metrics(path)
    if metrics is None:
        return None, NO_METRICS
    checkpoint = Path(checkpoint)
    models = metrics.get("models", {})
    names = [
        name
        for name, info in models.items()
        if info.get("path") and _same_file(info["path"], checkpoint, Path(path).parent)
    ]
    if not names:
        scored = ", ".join(Path(info["path"]).name for info in models.values() if info.get("path"))
        scored = scored or "no model file"
        return None, f"No metrics: the metrics.json given scored {scored}, not {checkpoint.name}."
    keep = {names[0]} | {n for n, info in models.items() if info.get("kind") == "classical"}
    sets = {
        set_name: {
            **result,
            "models": {n: r for n, r in result.get("models", {}).items() if n in keep},
        }
        for set_name, result in metrics.get("sets", {}).items()
    }
    return {**metrics, "sets": sets}, ""


def _metrics_table(metrics: dict[str, Any]) -> list[str]:
    """Headline numbers of every model on every set (metrics.json schema 2, see README)."""
    columns = {
        f"{set_name} · {model}": result.get("headline", {})
        for set_name, set_result in metrics.get("sets", {}).items()
        for model, result in set_result.get("models", {}).items()
    }
    keys = sorted({k for headline in columns.values() for k in headline})
    if not keys:
        return ["No headline metrics in the metrics file."]
    lines = ["| metric | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for key in keys:
        cells = [headline.get(key) for headline in columns.values()]
        cells = ["–" if v is None else f"{v:.3f}" for v in cells]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    counts = ", ".join(
        f"{name}: {r.get('n_images', '?')} images" for name, r in metrics.get("sets", {}).items()
    )
    return [*lines, "", f"Evaluated on {counts} (`classical` is the tuned classical baseline)."]


def model_card(
    meta: ModelMeta,
    info: PublishInfo,
    weights: dict[str, Path],
    metrics: dict[str, Any] | None = None,
    no_metrics: str = NO_METRICS,
) -> str:
    """Markdown model card.

    Args:
        meta: the model's metadata.
        info: descriptive fields (authors, licence, intended use, ...).
        weights: format name → weight file; each gets its SHA-256.
        metrics: a metrics.json dictionary (``sets`` → ``models`` → ``headline``) of this model
            (see :func:`checkpoint_metrics`), if any.
        no_metrics: what the Validation section says without metrics.
    """
    arch = meta.model
    channels = ", ".join(meta.channel_names) or f"{meta.in_channels} (unnamed)"
    norm = meta.normalization
    post = {**MIGRASOME_POSTPROCESS, **meta.postprocess}  # older models lack newer settings
    below = (
        f" or of probability ≥ {post['min_probability']}" if post["min_probability"] < 0.5 else ""
    )
    lines = [
        f"# {info.name}",
        "",
        info.description.strip(),
        "",
        "## Model",
        "",
        f"- Architecture: {arch.get('arch', 'unet')} with a {arch.get('encoder_name', '?')} "
        f"encoder (depth {arch.get('encoder_depth', '?')}), trained with migraseg "
        f"{meta.migraseg_version} (git {meta.git_sha or 'unknown'}, config sha256 "
        f"{meta.config_sha256[:12] or 'unknown'}).",
        f"- Input: {meta.in_channels} channel(s) ({channels}), 2D, any size (multiples of 32 px "
        f"inside the network); pixel size **{meta.pixel_size_um} µm/px** — rescale other images "
        "to it (migraseg-predict does).",
        f"- Normalisation: per image and channel, percentiles {norm['low']}–{norm['high']} "
        "mapped to 0–1 (not clipped): (x − p_low) / (p_high − p_low + 1e-6), bioimage.io's "
        "`scale_range`; percentiles of the image before rescaling it.",
        "- Output: logits per class (TorchScript/ONNX) or softmax probabilities "
        "(bioimage.io package); classes:",
        "",
        "| id | class |",
        "|---|---|",
        *(f"| {i} | {name} |" for i, name in enumerate(meta.class_names)),
        "",
        f"- Migrasome instances: pixels where migrasome is the likeliest class{below}, holes "
        f"filled, objects under {post['min_diameter_um']} µm dropped, touching ones split "
        f"(distance watershed, h = {post['split_h_um']} µm), objects of mean migrasome "
        f"probability under {post['min_score']} dropped.",
        "",
        "## Training data",
        "",
        f"Dataset `{meta.dataset or 'unknown'}` ({meta.modality}), {meta.pixel_size_um} µm/px, "
        f"training patches of {meta.patch_size}² px.",
        "",
        "## Validation",
        "",
        *(_metrics_table(metrics) if metrics else [no_metrics]),
        "",
        "Check the model on your own annotated images before trusting it: "
        "`migraseg-eval model_path=model.pt data_root=<your dataset> split=all` scores pixels "
        "(Dice), fibers (clDice) and migrasomes as objects (F1 at IoU 0.5, count error).",
        "",
        "## Intended use",
        "",
        info.intended_use.strip() or "Not stated.",
        "",
        "## Limitations",
        "",
        info.limitations.strip() or "Not stated.",
        "",
        "## Weights",
        "",
        "| format | file | SHA-256 |",
        "|---|---|---|",
        *(f"| {fmt} | `{p.name}` | `{sha256_file(p)}` |" for fmt, p in weights.items()),
        "",
        "## Authors and licence",
        "",
        *(f"- {a['name']}" + (f" ({a['affiliation']})" if a.get("affiliation") else "")
          for a in info.authors),
        "",
        f"Licence: {info.license}.",
        "",
        "## Citation",
        "",
        *(f"- {c['text']} doi:{c['doi']}" for c in info.cite),
        "",
    ]  # fmt: skip
    return "\n".join(lines)
