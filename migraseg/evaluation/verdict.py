"""A verdict per set in plain words: which model is better, and is it good enough?

"Better" is decided on migrasome F1@0.5 by the paired bootstrap interval of the difference
to the reference model (same resampled images for both): an interval above zero is better,
below zero worse, straddling zero not distinguishable. "Good enough" compares the best
model's headline numbers with :class:`VerdictThresholds`.
"""

from __future__ import annotations

from dataclasses import dataclass

from migraseg.evaluation.results import SetResult

RANK_KEY = "migrasome.f1@0.5"


@dataclass(frozen=True)
class VerdictThresholds:
    """The bar a model must clear to be called good enough for counting and sizing.

    Attributes:
        min_migrasome_f1: migrasome F1 at IoU 0.5.
        max_count_rel_err: summed |predicted − true| migrasome counts over the true total.
        max_diameter_rel_err: median relative diameter error of matched migrasomes.
        min_fiber_cldice: retraction-fiber clDice.
        min_cell_dice: cell Dice.
    """

    min_migrasome_f1: float = 0.9
    max_count_rel_err: float = 0.1
    max_diameter_rel_err: float = 0.1
    min_fiber_cldice: float = 0.8
    min_cell_dice: float = 0.9


def _num(value: float, fmt: str = ".2f") -> str:
    return "n/a" if value != value else format(value, fmt)


def _interval(ci: tuple[float, float] | list[float] | None, fmt: str = ".2f") -> str:
    if not ci or ci[0] != ci[0]:
        return ""
    return f" (95% CI {_num(ci[0], fmt)} to {_num(ci[1], fmt)})"


def shortfalls(values: dict[str, float], bar: VerdictThresholds) -> list[str]:
    """The criteria a model misses, in words; NaN (class absent) never fails."""
    checks = (
        ("migrasome.f1@0.5", bar.min_migrasome_f1, True, "migrasome F1@0.5", ".2f"),
        ("migrasome.count_rel_err", bar.max_count_rel_err, False, "count error", ".0%"),
        (
            "migrasome.diameter_rel_err_median",
            bar.max_diameter_rel_err,
            False,
            "diameter error",
            ".0%",
        ),
        ("retraction_fiber.cldice", bar.min_fiber_cldice, True, "fiber clDice", ".2f"),
        ("cell.dice", bar.min_cell_dice, True, "cell Dice", ".2f"),
    )
    out = []
    for key, limit, higher_is_better, label, fmt in checks:
        value = values.get(key, float("nan"))
        if value == value and (value < limit if higher_is_better else value > limit):
            sign = "<" if higher_is_better else ">"
            shown, bound = _num(value, fmt), _num(limit, fmt)
            if shown == bound:  # 10.4% would read "10% > 10%": one more digit
                shown = _num(value, f".{int(fmt[1]) + 1}{fmt[2:]}")
            out.append(f"{label} {shown} {sign} {bound}")
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
    """Two or three sentences for the top of the report."""
    ranked = sorted(
        result.models,
        key=lambda n: -_nan_low(result.models[n].summary.values.get(RANK_KEY, float("nan"))),
    )
    summary = result.models[ranked[0]].summary
    values = summary.values
    who = f"{ranked[0]} is the best of {len(ranked)} models" if len(ranked) > 1 else ranked[0]
    lead = (
        f"{who} on {len(result.records)} images: migrasome F1@0.5 {_num(values[RANK_KEY])}"
        f"{_interval(summary.intervals.get(RANK_KEY))}. "
    )
    missing = shortfalls(values, bar)
    if missing:
        fit = f"Not good enough yet for counting and sizing: {'; '.join(missing)}."
    else:
        fit = (
            "Good enough for counting and sizing migrasomes: "
            f"count error {_num(values['migrasome.count_mae'], '.1f')} per image, "
            f"diameter error {_num(values['migrasome.diameter_rel_err_median'], '.0%')}, "
            f"fiber clDice {_num(values['retraction_fiber.cldice'])}, "
            f"cell Dice {_num(values['cell.dice'])}."
        )
    return lead + _comparison(result, ranked) + fit


def _nan_low(value: float) -> float:
    return value if value == value else float("-inf")
