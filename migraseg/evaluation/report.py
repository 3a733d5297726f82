"""report.md and report.html beside metrics.json: verdicts, tables and figures.

The report is built once as a list of blocks (:mod:`migraseg.evaluation.render`) and rendered
twice, so the Markdown and the HTML always say the same thing. Figures are PNGs in
``figures/`` next to the reports, linked relatively (the folder can be moved or zipped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from migraseg.evaluation.figures import (
    count_scatter,
    diameter_plots,
    extreme_overlay,
    size_precision_recall,
    slug,
)
from migraseg.evaluation.render import (
    Block,
    Table,
    format_cell,
    render_html,
    render_markdown,
)
from migraseg.evaluation.results import SetResult
from migraseg.evaluation.summary import HEADLINE_KEYS, LOWER_IS_BETTER
from migraseg.utils.files import write_text_atomic

LABELS = {
    "cell.dice": "cell Dice",
    "retraction_fiber.dice": "fiber Dice (pixels)",
    "retraction_fiber.cldice": "fiber clDice",
    "migrasome.dice": "migrasome Dice (pixels)",
    "migrasome.f1@0.5": "migrasome F1 @ IoU 0.5",
    "migrasome.precision@0.5": "migrasome precision @ 0.5",
    "migrasome.recall@0.5": "migrasome recall @ 0.5",
    "migrasome.count_mae": "count error per image (MAE)",
    "migrasome.diameter_rel_err_median": "diameter error, median (relative)",
}
# Detail rows: (class, metric, label); nested groups are shown in their own tables.
DETAIL_ROWS = (
    ("cell", "dice", "Dice"),
    ("cell", "iou", "IoU"),
    ("cell", "precision", "pixel precision"),
    ("cell", "recall", "pixel recall"),
    ("cell", "instance_f1@0.5", "instance F1 @ 0.5"),
    ("retraction_fiber", "dice", "Dice"),
    ("retraction_fiber", "iou", "IoU"),
    ("retraction_fiber", "precision", "pixel precision"),
    ("retraction_fiber", "recall", "pixel recall"),
    ("retraction_fiber", "cldice", "clDice"),
    ("retraction_fiber", "skeleton_precision", "skeleton precision (within tolerance)"),
    ("retraction_fiber", "skeleton_recall", "skeleton recall (within tolerance)"),
    ("retraction_fiber", "length_true_um", "true length per image (µm)"),
    ("retraction_fiber", "length_abs_err_um", "length error per image (µm)"),
    ("retraction_fiber", "length_rel_err", "length error (relative)"),
    ("retraction_fiber", "betti0_abs_err", "component count error per image"),
    ("migrasome", "dice", "Dice"),
    ("migrasome", "iou", "IoU"),
    ("migrasome", "precision@0.5", "precision @ 0.5"),
    ("migrasome", "recall@0.5", "recall @ 0.5"),
    ("migrasome", "f1@0.5", "F1 @ 0.5"),
    ("migrasome", "f1@0.5:0.95", "F1, mean over IoU 0.5:0.95"),
    ("migrasome", "mean_matched_iou", "mean IoU of matched pairs"),
    ("migrasome", "n_true", "true objects"),
    ("migrasome", "n_pred", "predicted objects"),
    ("migrasome", "count_mae", "count error per image (MAE)"),
    ("migrasome", "count_bias", "count bias per image"),
    ("migrasome", "count_rel_err", "count error (relative)"),
    ("migrasome", "diameter_abs_err_um_median", "diameter error, median (µm)"),
    ("migrasome", "diameter_abs_err_um_p90", "diameter error, 90th pct (µm)"),
    ("migrasome", "diameter_rel_err_median", "diameter error, median (relative)"),
    ("migrasome", "diameter_rel_err_p90", "diameter error, 90th pct (relative)"),
    ("migrasome", "diameter_bias_um_median", "diameter bias, median (µm)"),
)
GLOSSARY = (
    "Dice, IoU, precision, recall: pixel overlap per class, counts summed over all images.",
    "clDice: agreement of fiber centerlines (skeleton of one inside the mask of the other); "
    "skeleton precision/recall: fraction of predicted/true centerline within the tolerance.",
    "Migrasomes are matched one-to-one by IoU (Hungarian); a pair counts at IoU ≥ 0.5. "
    "F1 0.5:0.95 averages F1 over IoU thresholds 0.50, 0.55, ..., 0.95.",
    "Diameters are those of discs with each object's area; errors are over matched pairs.",
    "Brackets give 95% bootstrap intervals over images; Δ columns compare a model with the "
    "reference on the same resampled images (an interval excluding 0 is a real difference).",
    "Error maps: blue correct, red missed, amber false, violet wrong class; circles mark "
    "missed (red) and false (amber) migrasomes.",
)


def _with_ci(value: float, ci: list[float] | None) -> str:
    if not ci or ci[0] is None or ci[0] != ci[0]:
        return format_cell(value)
    return f"{format_cell(value)} ({format_cell(ci[0])}–{format_cell(ci[1])})"


def _best_column(values: list[float], key: str) -> int | None:
    finite = [(v, i) for i, v in enumerate(values) if v == v]
    if len(finite) < 2:
        return None
    lower = key.split(".", 1)[1] in LOWER_IS_BETTER
    return (min(finite) if lower else max(finite))[1]


def headline_table(result: SetResult) -> Table:
    """Headline metrics with intervals, one column per model, Δ vs the reference."""
    names = list(result.models)
    challengers = [n for n in names if n != result.reference and n in result.comparison]
    header = ["metric", *names, *(f"Δ {n} − {result.reference}" for n in challengers)]
    table = Table(header, [])
    for r, key in enumerate(HEADLINE_KEYS):
        values = [result.models[n].summary.values.get(key, float("nan")) for n in names]
        cells = [
            _with_ci(v, result.models[n].summary.intervals.get(key))
            for v, n in zip(values, names, strict=True)
        ]
        for n in challengers:
            diff = result.comparison[n].get(key)
            cells.append(
                f"{diff['delta']:+.3f} ({diff['ci95'][0]:+.3f} to {diff['ci95'][1]:+.3f})"
                if diff and diff["ci95"][0] == diff["ci95"][0]
                else "–"
            )
        best = _best_column(values, key)
        if best is not None:
            table.strong.add((r, best + 1))
        table.rows.append([LABELS[key], *cells])
    return table


def detail_table(result: SetResult) -> Table:
    """Every per-class metric (point estimates), one column per model."""
    names = list(result.models)
    classes = {n: result.models[n].summary.to_dict()["classes"] for n in names}
    rows = []
    for cls, metric, label in DETAIL_ROWS:
        values = [classes[n].get(cls, {}).get(metric) for n in names]
        if all(v is None for v in values):
            continue
        rows.append(
            [f"{cls.replace('_', ' ')}: {label}", *(format_cell(v, metric) for v in values)]
        )
    return Table(["metric", *names], rows)


def size_table(result: SetResult) -> Table:
    """Migrasome recall and precision per diameter bin, with the object counts."""
    names = list(result.models)
    mig = {n: result.models[n].summary.to_dict()["classes"]["migrasome"] for n in names}
    first = mig[names[0]]
    header = ["diameter", "true objects", *(f"recall {n}" for n in names)]
    header += [f"precision {n}" for n in names]
    rows = []
    for b in first["recall_by_size"]:
        rows.append(
            [
                f"{b} µm",
                format_cell(first["n_true_by_size"][b], "n_"),
                *(format_cell(mig[n]["recall_by_size"][b]) for n in names),
                *(format_cell(mig[n]["precision_by_size"][b]) for n in names),
            ]
        )
    return Table(header, rows)


def models_table(models: dict[str, dict[str, Any]]) -> Table:
    """What each model is and where it came from."""
    rows = []
    for name, info in models.items():
        if info["kind"] == "classical":
            tuned = info.get("tuned_on") or {}
            source = info.get("params_file", "")
            note = (
                f"tuned on {tuned.get('dataset', '?')}/{tuned.get('split', '?')} "
                f"({len(tuned.get('stems', []))} images)"
                if tuned
                else "parameters given"
            )
        else:
            source = info.get("path", "")
            notes = [f"trained on {info['trained_on']}"] if info.get("trained_on") else []
            notes += [f"ran on {info['runner']}"] if info.get("runner") else []
            note = ", ".join(notes)
        rows.append([name, info["kind"], source, note])
    return Table(["model", "kind", "source", "notes"], rows, numeric=False)


def pixel_sizes(sizes: list[float]) -> str:
    """The set's pixel sizes in words: each of a few, or the range of many."""
    if len(sizes) <= 3:
        return f"{', '.join(f'{p:.3g}' for p in sizes)} µm"
    return f"{sizes[0]:.3g}–{sizes[-1]:.3g} µm ({len(sizes)} values)"


def build_blocks(results: list[SetResult], metrics: dict[str, Any], out: Path) -> list[Block]:
    """The whole report as blocks; writes the figures into ``out/figures``."""
    figures = out / "figures"
    blocks: list[Block] = [
        ("h1", "migraseg evaluation report"),
        (
            "p",
            f"{metrics['created']}, migraseg {metrics['migraseg_version']}. "
            f"{len(metrics['models'])} model(s) on {len(results)} set(s); numbers in "
            "metrics.json beside this report.",
        ),
        ("h2", "Verdict"),
        ("ul", [(r.eval_set.name, r.verdict) for r in results]),
        ("h2", "Models"),
        ("table", models_table(metrics["models"])),
    ]
    for result in results:
        name, tag = result.eval_set.name, slug(result.eval_set.name)
        sizes = sorted({r.pixel_size_um for r in result.records})
        blocks += [
            ("h2", f"Set {name}"),
            (
                "p",
                f"{len(result.records)} images from {result.eval_set.root} "
                f"(split {result.eval_set.split}), pixel size {pixel_sizes(sizes)}.",
            ),
            ("h3", "Headline metrics (95% CI)"),
            ("table", headline_table(result)),
            ("h3", "All metrics"),
            ("table", detail_table(result)),
            ("h3", "Migrasomes by size"),
            ("table", size_table(result)),
            ("img", count_scatter(result, figures / f"{tag}_counts.png")),
            ("img", diameter_plots(result, figures / f"{tag}_diameters.png")),
            ("img", size_precision_recall(result, figures / f"{tag}_size_pr.png")),
            ("h3", "Best and worst images"),
        ]
        for model_name, model in result.models.items():
            for kind, extreme in (("best", model.extremes.best), ("worst", model.extremes.worst)):
                if extreme is not None:
                    path = figures / f"{tag}_{slug(model_name)}_{kind}.png"
                    blocks.append(("img", extreme_overlay(result, model_name, extreme, kind, path)))
    blocks += [("h2", "How to read this report"), ("ul", [(None, g) for g in GLOSSARY])]
    return [
        (kind, payload if kind != "img" else payload.relative_to(out)) for kind, payload in blocks
    ]


def write_report(results: list[SetResult], metrics: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and ``figures/`` into ``out``."""
    out = Path(out)
    blocks = build_blocks(results, metrics, out)
    md = write_text_atomic(out / "report.md", render_markdown(blocks))
    page = write_text_atomic(out / "report.html", render_html(blocks))
    return md, page
