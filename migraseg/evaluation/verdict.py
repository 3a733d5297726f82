"""A verdict per set in plain words: which model is better, and is it good enough?

"Better" is decided on migrasome F1@0.5 by the paired bootstrap interval of the difference
to the reference model (same resampled images for both): an interval above zero is better,
below zero worse, straddling zero not distinguishable. "Good enough" compares the best
model's headline numbers with :class:`VerdictThresholds`, and says each bar beside its number.

A class with too few true objects in the set (``min_objects``), or absent from most images,
is not judged: the verdict names it as a caveat instead. Without enough migrasomes there is no
verdict at all. A simulated set is called one ("on 9 simulated images").
"""

from __future__ import annotations

from dataclasses import dataclass

from migraseg.evaluation.results import SetResult
from migraseg.evaluation.scoring import ImageRecord

RANK_KEY = "migrasome.f1@0.5"
CLASS_WORDS = {"cell": "cells", "retraction_fiber": "retraction fibers", "migrasome": "migrasomes"}
OBJECT_WORDS = {
    "cell": "cells",
    "retraction_fiber": "fiber pieces",
    "migrasome": "migrasomes",
}


@dataclass(frozen=True)
class VerdictThresholds:
    """The bar a model must clear to be called good enough for counting and sizing.

    Attributes:
        min_migrasome_f1: migrasome F1 at IoU 0.5.
        max_count_rel_err: summed |predicted − true| migrasome counts over the true total.
        max_diameter_rel_err: median relative diameter error of matched migrasomes.
        min_fiber_cldice: retraction-fiber clDice.
        min_cell_dice: cell Dice.
        min_objects: fewest true objects of a class (cells, 8-connected fiber pieces,
            migrasomes) in the set for that class to be judged.
    """

    min_migrasome_f1: float = 0.9
    max_count_rel_err: float = 0.1
    max_diameter_rel_err: float = 0.1
    min_fiber_cldice: float = 0.8
    min_cell_dice: float = 0.9
    min_objects: int = 20

    def criteria(self) -> tuple[tuple[str, str, float, bool, str, str], ...]:
        """(metric key, class, bar, higher is better, label, number format) per criterion."""
        return (
            (RANK_KEY, "migrasome", self.min_migrasome_f1, True, "migrasome F1@0.5", ".2f"),
            (
                "migrasome.count_rel_err",
                "migrasome",
                self.max_count_rel_err,
                False,
                "count error",
                ".0%",
            ),
            (
                "migrasome.diameter_rel_err_median",
                "migrasome",
                self.max_diameter_rel_err,
                False,
                "diameter error",
                ".0%",
            ),
            (
                "retraction_fiber.cldice",
                "retraction_fiber",
                self.min_fiber_cldice,
                True,
                "fiber clDice",
                ".2f",
            ),
            ("cell.dice", "cell", self.min_cell_dice, True, "cell Dice", ".2f"),
        )

    def describe(self) -> list[str]:
        """Each bar in words, e.g. ``migrasome F1@0.5 ≥ 0.90``."""
        return [
            f"{label} {'≥' if higher else '≤'} {_num(bar, fmt)}"
            for _, _, bar, higher, label, fmt in self.criteria()
        ]


def _num(value: float, fmt: str = ".2f") -> str:
    return "n/a" if value != value else format(value, fmt)


def _interval(ci: tuple[float, float] | list[float] | None, fmt: str = ".2f") -> str:
    if not ci or ci[0] != ci[0]:
        return ""
    return f" (95% CI {_num(ci[0], fmt)} to {_num(ci[1], fmt)})"


def shortfalls(
    values: dict[str, float], bar: VerdictThresholds, skip: frozenset[str] = frozenset()
) -> list[str]:
    """The criteria a model misses, in words; NaN (class absent) never fails, and classes in
    ``skip`` are not judged."""
    out = []
    for key, cls, limit, higher_is_better, label, fmt in bar.criteria():
        value = values.get(key, float("nan"))
        if cls in skip or value != value:
            continue
        if value < limit if higher_is_better else value > limit:
            sign = "<" if higher_is_better else ">"
            shown, bound = _num(value, fmt), _num(limit, fmt)
            if shown == bound:  # 10.4% would read "10% > 10%": one more digit
                shown = _num(value, f".{int(fmt[1]) + 1}{fmt[2:]}")
            out.append(f"{label} {shown} {sign} {bound}")
    return out


def passed(values: dict[str, float], bar: VerdictThresholds, skip: frozenset[str]) -> list[str]:
    """The judged criteria with their number and bar, e.g. ``count error 4% (≤ 10%)``."""
    return [
        f"{label} {_num(values[key], fmt)} ({'≥' if higher else '≤'} {_num(limit, fmt)})"
        for key, cls, limit, higher, label, fmt in bar.criteria()
        if cls not in skip and values.get(key, float("nan")) == values.get(key, float("nan"))
    ]


def class_support(rows: list[ImageRecord]) -> dict[str, tuple[int | None, int]]:
    """Per class: true objects in the set (None when unknown: cells without instances) and the
    number of images whose truth has the class at all."""
    from migraseg.constants import CLASS_NAMES

    present = {
        name: sum(1 for r in rows if r.counts[k][0] + r.counts[k][2] > 0)
        for k, name in enumerate(CLASS_NAMES)
        if name in CLASS_WORDS
    }
    cells = None if any(r.cell is None for r in rows) else sum(r.cell.n_true for r in rows)
    objects = {
        "cell": cells,
        "retraction_fiber": sum(r.retraction_fiber.components_true for r in rows),
        "migrasome": sum(r.migrasome.n_true for r in rows),
    }
    return {name: (objects[name], present[name]) for name in CLASS_WORDS}


def caveats(rows: list[ImageRecord], min_objects: int) -> dict[str, str]:
    """Classes the set cannot judge, with the reason: fewer than ``min_objects`` true objects,
    or absent from more than half of the images."""
    out = {}
    for cls, (objects, images) in class_support(rows).items():
        if images * 2 < len(rows):
            out[cls] = f"{CLASS_WORDS[cls]} in only {images} of {len(rows)} images"
        elif objects is not None and objects < min_objects:
            out[cls] = f"only {objects} {OBJECT_WORDS[cls]} (< {min_objects})"
    return out


def _comparison(result: SetResult, ranked: list[str]) -> str:
    """How the top non-reference model compares with the reference, as a sentence."""
    ref = result.reference
    challengers = [n for n in ranked if n != ref]
    diff = result.comparison.get(challengers[0], {}).get(RANK_KEY) if challengers else None
    if ref is None or not diff:
        return ""
    name, (low, high) = challengers[0], diff["ci95"]
    by = f"by {diff['delta']:+.2f} F1{_interval((low, high), '+.2f')}"
    if low == low and low > 0:
        return f"{name} beats {ref} {by}. "
    if high == high and high < 0:
        return f"{name} is worse than {ref} {by}. "
    return f"{name} and {ref} cannot be told apart on these images ({by}). "


def set_verdict(result: SetResult, bar: VerdictThresholds) -> str:
    """Two to four sentences for the top of the report."""
    ranked = sorted(
        result.models,
        key=lambda n: -_nan_low(result.models[n].summary.values.get(RANK_KEY, float("nan"))),
    )
    best = result.models[ranked[0]]
    values = best.summary.values
    who = f"{ranked[0]} is the best of {len(ranked)} models" if len(ranked) > 1 else ranked[0]
    n = len(result.records)
    where = ("simulated " if result.simulated else "") + ("image" if n == 1 else "images")
    lead = (
        f"{who} on {n} {where}: "
        f"migrasome F1@0.5 {_num(values[RANK_KEY])}"
        f"{_interval(best.summary.intervals.get(RANK_KEY))}. "
    )
    unjudged = caveats(best.rows, bar.min_objects)
    others = [v for k, v in unjudged.items() if k != "migrasome"]
    caveat = f" Not judged: {'; '.join(others)}." if others else ""
    if "migrasome" in unjudged:
        fit = f"No verdict on counting and sizing: {unjudged['migrasome']}, too few to judge."
    elif missing := shortfalls(values, bar, frozenset(unjudged)):
        fit = f"Not good enough yet for counting and sizing: {'; '.join(missing)}."
    else:
        judged = ", ".join(passed(values, bar, frozenset(unjudged)))
        fit = f"Good enough for counting and sizing migrasomes: {judged}."
    return lead + _comparison(result, ranked) + fit + caveat


def _nan_low(value: float) -> float:
    return value if value == value else float("-inf")
