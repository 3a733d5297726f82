"""report.md and report.html beside metrics.json: verdicts, tables and figures.

The report is built once as a list of blocks (:mod:`migraseg.evaluation.render`) and rendered
twice, so the Markdown and the HTML always say the same thing. Figures are PNGs in
``figures/`` next to the reports, linked relatively (the folder can be moved or zipped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from migraseg.evaluation.curves import write_training_curves
from migraseg.evaluation.figures import (
    count_scatter,
    diameter_plots,
    error_crops,
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
from migraseg.evaluation.runs import run_folder, run_info
from migraseg.evaluation.summary import HEADLINE_KEYS, LOWER_IS_BETTER
from migraseg.evaluation.tracking_report import tracking_blocks
from migraseg.evaluation.verdict import VerdictThresholds
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
    "migrasome.count_rel_err": "count error (relative)",
    "migrasome.diameter_rel_err_median": "diameter error, median (relative)",
}
# One line per metric, given where the metric first appears (verdict bar, headline table).
DEFINITIONS = {
    "cell.dice": "overlap of predicted and true cell pixels: 2 × shared / (predicted + true); "
    "1 is perfect",
    "retraction_fiber.dice": "the same overlap for fiber pixels (harsh on 1–3 px fibers: a "
    "one-pixel shift halves it)",
    "retraction_fiber.cldice": "agreement of fiber centerlines: the share of each skeleton "
    "inside the other's mask (harmonic mean); forgiving of fiber width",
    "migrasome.dice": "the same pixel overlap for migrasomes",
    "migrasome.f1@0.5": "harmonic mean of precision and recall of migrasomes; a predicted and a "
    "true migrasome match when their IoU (overlap / union) is ≥ 0.5",
    "migrasome.precision@0.5": "share of predicted migrasomes that match a true one",
    "migrasome.recall@0.5": "share of true migrasomes that are found",
    "migrasome.count_mae": "mean over images of the absolute difference of predicted and true "
    "counts",
    "migrasome.count_rel_err": "absolute count differences summed over images, over the true total",
    "migrasome.diameter_rel_err_median": "median of the absolute diameter error over the true "
    "diameter, of matched migrasomes (diameter of the disc with the object's area)",
}
REPORT_HEADLINE = (*HEADLINE_KEYS[:-1], "migrasome.count_rel_err", HEADLINE_KEYS[-1])
# Detail rows: (class, metric, label, definition or "" when the headline table defines it).
DETAIL_ROWS = (
    ("cell", "dice", "Dice", ""),
    ("cell", "iou", "IoU", "shared pixels over the pixels of either (intersection over union)"),
    ("cell", "precision", "pixel precision", "share of predicted pixels that are truly cell"),
    ("cell", "recall", "pixel recall", "share of true cell pixels predicted as cell"),
    (
        "cell",
        "instance_f1@0.5",
        "instance F1 @ 0.5",
        "F1 of whole cells (filled components) matched at IoU ≥ 0.5",
    ),
    ("retraction_fiber", "dice", "Dice", ""),
    ("retraction_fiber", "iou", "IoU", "as for cells"),
    ("retraction_fiber", "precision", "pixel precision", "as for cells"),
    ("retraction_fiber", "recall", "pixel recall", "as for cells"),
    ("retraction_fiber", "cldice", "clDice", ""),
    (
        "retraction_fiber",
        "skeleton_precision",
        "skeleton precision (within tolerance)",
        "share of the predicted centerline within the tolerance of the true one",
    ),
    (
        "retraction_fiber",
        "skeleton_recall",
        "skeleton recall (within tolerance)",
        "share of the true centerline within the tolerance of the predicted one",
    ),
    (
        "retraction_fiber",
        "length_true_um",
        "true length per image (µm)",
        "total true centerline length, mean per image",
    ),
    (
        "retraction_fiber",
        "length_abs_err_um",
        "length error per image (µm)",
        "absolute error of the total length, mean per image",
    ),
    (
        "retraction_fiber",
        "length_rel_err",
        "length error (relative)",
        "summed length errors over the summed true length",
    ),
    (
        "retraction_fiber",
        "betti0_abs_err",
        "component count error per image",
        "absolute error of the number of separate fiber pieces, mean per image",
    ),
    ("migrasome", "dice", "Dice", ""),
    ("migrasome", "iou", "IoU", "as for cells"),
    ("migrasome", "precision@0.5", "precision @ 0.5", ""),
    ("migrasome", "recall@0.5", "recall @ 0.5", ""),
    ("migrasome", "f1@0.5", "F1 @ 0.5", ""),
    (
        "migrasome",
        "f1@0.5:0.95",
        "F1, mean over IoU 0.5:0.95",
        "F1 averaged over match thresholds IoU 0.50, 0.55, ..., 0.95 (rewards exact outlines)",
    ),
    ("migrasome", "mean_matched_iou", "mean IoU of matched pairs", "how well matched outlines fit"),
    ("migrasome", "n_true", "true objects", "true migrasomes in the set"),
    ("migrasome", "n_pred", "predicted objects", "predicted migrasomes in the set"),
    ("migrasome", "count_mae", "count error per image (MAE)", ""),
    (
        "migrasome",
        "count_bias",
        "count bias per image",
        "mean predicted − true count; > 0: too many",
    ),
    ("migrasome", "count_rel_err", "count error (relative)", ""),
    (
        "migrasome",
        "diameter_abs_err_um_median",
        "diameter error, median (µm)",
        "median absolute diameter error of matched migrasomes",
    ),
    (
        "migrasome",
        "diameter_abs_err_um_p90",
        "diameter error, 90th pct (µm)",
        "90% of matched migrasomes are sized better than this",
    ),
    ("migrasome", "diameter_rel_err_median", "diameter error, median (relative)", ""),
    (
        "migrasome",
        "diameter_rel_err_p90",
        "diameter error, 90th pct (relative)",
        "the same, relative to the true diameter",
    ),
    (
        "migrasome",
        "diameter_bias_um_median",
        "diameter bias, median (µm)",
        "median predicted − true diameter; > 0: drawn too large",
    ),
)
GLOSSARY = (
    "Pixel metrics (Dice, IoU, precision, recall) count pixels over all images of a set before "
    "taking ratios; a class absent from both truth and prediction has none (–).",
    "Brackets give 95% bootstrap intervals over images; Δ columns compare a model with the "
    "reference on the same resampled images (an interval excluding 0 is a real difference).",
    "Relative errors are in %; Δ of a relative error is in percentage points (pp).",
    "Error maps: blue correct, red missed, amber false, violet wrong class; circles mark "
    "missed (red) and false (amber) migrasomes. Scale bars are in µm.",
)


def _with_ci(value: float, ci: list[float] | None, key: str = "") -> str:
    if not ci or ci[0] is None or ci[0] != ci[0]:
        return format_cell(value, key)
    return f"{format_cell(value, key)} ({format_cell(ci[0], key)}–{format_cell(ci[1], key)})"


def _delta(diff: dict[str, Any] | None, key: str) -> str:
    """A paired difference with its interval; relative errors in percentage points."""
    if not diff or diff["ci95"][0] != diff["ci95"][0]:
        return "–"
    scale, fmt, unit = (100, "+.1f", " pp") if "rel_err" in key else (1, "+.3f", "")
    low, high = (format(v * scale, fmt) for v in diff["ci95"])
    return f"{diff['delta'] * scale:{fmt}}{unit} ({low} to {high})"


def _best_column(values: list[float], key: str) -> int | None:
    finite = [(v, i) for i, v in enumerate(values) if v == v]
    if len(finite) < 2:
        return None
    lower = key.split(".", 1)[1] in LOWER_IS_BETTER or "_err" in key
    return (min(finite) if lower else max(finite))[1]


def headline_table(result: SetResult) -> Table:
    """Headline metrics with intervals, one column per model, Δ vs the reference, and what
    each metric measures."""
    names = list(result.models)
    challengers = [n for n in names if n != result.reference and n in result.comparison]
    header = ["metric", *names, *(f"Δ {n} − {result.reference}" for n in challengers)]
    table = Table([*header, "what it measures"], [], text={len(header)})
    for r, key in enumerate(REPORT_HEADLINE):
        values = [result.models[n].summary.values.get(key, float("nan")) for n in names]
        cells = [
            _with_ci(v, result.models[n].summary.intervals.get(key), key)
            for v, n in zip(values, names, strict=True)
        ]
        cells += [_delta(result.comparison[n].get(key), key) for n in challengers]
        best = _best_column(values, key)
        if best is not None:
            table.strong.add((r, best + 1))
        table.rows.append([LABELS[key], *cells, DEFINITIONS[key]])
    return table


def detail_table(result: SetResult) -> Table:
    """Every per-class metric (point estimates), one column per model, with definitions of
    those the headline table does not define."""
    names = list(result.models)
    classes = {n: result.models[n].summary.to_dict()["classes"] for n in names}
    rows = []
    for cls, metric, label, definition in DETAIL_ROWS:
        values = [classes[n].get(cls, {}).get(metric) for n in names]
        if all(v is None for v in values):
            continue
        cells = [format_cell(v, metric) for v in values]
        rows.append([f"{cls.replace('_', ' ')}: {label}", *cells, definition or "(above)"])
    return Table(["metric", *names, "what it measures"], rows, text={len(names) + 1})


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


def training_run(path: str) -> str:
    """A network's training run in words: experiment, start, folder."""
    info = run_info(path)
    parts = [f"experiment {info.experiment}" if info.experiment else "no experiment"]
    parts += [f"started {info.started:%Y-%m-%d %H:%M}"] if info.started else []
    parts += [f"run folder {info.folder}"] if info.folder else []
    return ", ".join(parts)


def models_table(models: dict[str, dict[str, Any]]) -> Table:
    """What each model is and where it came from."""
    rows = []
    for name, info in models.items():
        run = ""
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
            notes += ["4 flips averaged"] if info.get("tta") else []
            note = ", ".join(notes)
            run = training_run(source) if info["kind"] != "label_folder" else ""
        rows.append([name, info["kind"], run, source, note])
    return Table(["model", "kind", "training run", "file", "notes"], rows, numeric=False)


def thresholds_of(metrics: dict[str, Any]) -> VerdictThresholds:
    """The run's verdict bar (the defaults for a metrics.json written before it was saved)."""
    return VerdictThresholds(**(metrics.get("settings", {}).get("verdict") or {}))


def bar_table(bar: VerdictThresholds) -> Table:
    """The verdict's criteria: metric, bar, definition."""
    rows = [
        [label, f"{'≥' if higher else '≤'} {format(limit, fmt)}", DEFINITIONS[key]]
        for key, _, limit, higher, label, fmt in bar.criteria()
    ]
    return Table(["criterion", "bar", "what it measures"], rows, text={2})


def verdict_blocks(results: list[SetResult], metrics: dict[str, Any]) -> list[Block]:
    """The verdicts, then the bar they were judged against."""
    bar = thresholds_of(metrics)
    return [
        ("h2", "Verdict"),
        ("ul", [(r.eval_set.name, r.verdict) for r in results]),
        (
            "p",
            "Good enough for counting and sizing means the best model clears every bar below "
            "(verdict.* in configs/eval.yaml). A class with fewer than "
            f"{bar.min_objects} true objects in a set (cells, fiber pieces, migrasomes), or "
            "absent from more than half of its images, is not judged: the verdict names it. "
            "Numbers from simulated images say how a model does on the simulator's images, "
            "not on yours.",
        ),
        ("table", bar_table(bar)),
    ]


def training_blocks(metrics: dict[str, Any], figures: Path) -> list[Block]:
    """Training curves of each network whose run folder holds a CSV log (none: no section)."""
    blocks: list[Block] = []
    for name, info in metrics["models"].items():
        if info["kind"] in ("classical", "label_folder") or not info.get("path"):
            continue
        folder = run_folder(info["path"])
        curves = folder and write_training_curves(folder, figures / f"{slug(name)}_training.png")
        if curves:
            blocks.append(("img", curves))
    if not blocks:
        return []
    intro = (
        "Loss and validation scores after each epoch, from each run's CSV log "
        "(csv/version_*/metrics.csv in its run folder). Validation scores are measured on the "
        "run's validation images: Dice of each class, migrasome F1 at IoU ≥ 0.5, and the mean "
        "foreground Dice that picks the best checkpoint. A validation loss that rises while the "
        "training loss falls means overfitting."
    )
    return [("h2", "Training"), ("p", intro), *blocks]


def pixel_sizes(sizes: list[float]) -> str:
    """The set's pixel sizes in words: each of a few, or the range of many."""
    if len(sizes) <= 3:
        return f"{', '.join(f'{p:.3g}' for p in sizes)} µm"
    return f"{sizes[0]:.3g}–{sizes[-1]:.3g} µm ({len(sizes)} values)"


def set_blocks(result: SetResult, figures: Path) -> list[Block]:
    """One set: where its images come from, tables, figures, best and worst images."""
    name, tag = result.eval_set.name, slug(result.eval_set.name)
    sizes = sorted({r.pixel_size_um for r in result.records})
    origin = "simulated images (migraseg simulator)" if result.simulated else "images"
    blocks: list[Block] = [
        ("h2", f"Set {name}"),
        (
            "p",
            f"{len(result.records)} {origin} from {result.eval_set.root} "
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
        *tracking_blocks(result, figures),
        ("h3", "Best and worst images"),
    ]
    for model_name, model in result.models.items():
        for kind, extreme in (("best", model.extremes.best), ("worst", model.extremes.worst)):
            if extreme is None:
                continue
            base = f"{tag}_{slug(model_name)}_{kind}"
            path = figures / f"{base}.png"
            blocks.append(("img", extreme_overlay(result, model_name, extreme, kind, path)))
            crops = kind == "worst" and error_crops(
                result, model_name, extreme, figures / f"{base}_closeups.png"
            )
            if crops:
                blocks.append(("img", crops))
    return blocks


def build_blocks(results: list[SetResult], metrics: dict[str, Any], out: Path) -> list[Block]:
    """The whole report as blocks; writes the figures into ``out/figures``. Sections are
    separate functions, so another kind of result can add its own."""
    figures = out / "figures"
    blocks: list[Block] = [
        ("h1", "migraseg evaluation report"),
        (
            "p",
            f"{metrics['created']}, migraseg {metrics['migraseg_version']}. "
            f"{len(metrics['models'])} model(s) on {len(results)} set(s); numbers in "
            "metrics.json beside this report.",
        ),
        *verdict_blocks(results, metrics),
        ("h2", "Models"),
        ("table", models_table(metrics["models"])),
        *training_blocks(metrics, figures),
    ]
    for result in results:
        blocks += set_blocks(result, figures)
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
