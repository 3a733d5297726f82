"""Render a report, given as a list of blocks, to Markdown and to standalone HTML.

Blocks are ``(kind, payload)``: ``h1``/``h2``/``h3``/``p`` with text, ``ul`` with
``(bold lead or None, text)`` items, ``table`` with a :class:`Table`, ``img`` with a path
relative to the report. Both renderers take the same blocks, so the two files always agree.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table as RichTable

    from migraseg.evaluation.results import SetResult


@dataclass
class Table:
    """A table of text cells; ``numeric`` right-aligns all but the first column and the
    ``text`` columns (definitions, notes)."""

    header: list[str]
    rows: list[list[str]]
    strong: set[tuple[int, int]] = field(default_factory=set)  # (row, column) in bold
    numeric: bool = True
    text: set[int] = field(default_factory=set)  # left-aligned columns of a numeric table

    def left(self, column: int) -> bool:
        return column == 0 or not self.numeric or column in self.text


def format_cell(value: float | None, key: str = "") -> str:
    """A table cell: counts (keys ``n_*``) as integers, relative errors (``*rel_err*``) as
    percentages, everything else with 3 decimals."""
    if value is None or value != value:
        return "–"
    if key.rsplit(".", 1)[-1].startswith("n_"):
        return f"{value:.0f}"
    if "rel_err" in key:
        return f"{value:.1%}"
    return f"{value:.3f}"


Block = tuple[str, Any]  # ("h1"|"h2"|"h3"|"p"|"ul"|"table"|"img", payload)


def _md_cell(text: str, strong: bool) -> str:
    text = text.replace("|", "\\|")
    return f"**{text}**" if strong else text


def render_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for kind, payload in blocks:
        if kind in ("h1", "h2", "h3"):
            lines += ["#" * int(kind[1]) + " " + payload, ""]
        elif kind == "p":
            lines += [payload, ""]
        elif kind == "ul":
            lines += [f"- **{k}**: {v}" if k else f"- {v}" for k, v in payload] + [""]
        elif kind == "table":
            lines.append("| " + " | ".join(payload.header) + " |")
            aligns = ["---" if payload.left(i) else "---:" for i in range(len(payload.header))]
            lines.append("|" + "|".join(aligns) + "|")
            for r, row in enumerate(payload.rows):
                cells = [_md_cell(c, (r, i) in payload.strong) for i, c in enumerate(row)]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
        elif kind == "img":
            lines += [f"![{payload.stem}]({payload.as_posix()})", ""]
    return "\n".join(lines)


STYLE = """
body{font-family:system-ui,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px}
td:not(:first-child){text-align:right;font-variant-numeric:tabular-nums}th{background:#f2f2f2}
table.text td,td.l{text-align:left}
img{max-width:100%;display:block;margin:0.5em 0 1.5em}li{margin:0.4em 0}
"""


def render_html(blocks: list[Block], title: str = "migraseg evaluation report") -> str:
    e = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}</title>"]
    parts.append(f"<style>{STYLE}</style></head><body>")
    for kind, payload in blocks:
        if kind in ("h1", "h2", "h3"):
            parts.append(f"<{kind}>{e(payload)}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{e(payload)}</p>")
        elif kind == "ul":
            items = (
                f"<li><b>{e(k)}</b>: {e(v)}</li>" if k else f"<li>{e(v)}</li>" for k, v in payload
            )
            parts.append("<ul>" + "".join(items) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{e(h)}</th>" for h in payload.header)
            body = []
            for r, row in enumerate(payload.rows):
                cells = []
                for i, c in enumerate(row):
                    cls = " class='l'" if payload.numeric and i in payload.text else ""
                    text = f"<b>{e(c)}</b>" if (r, i) in payload.strong else e(c)
                    cells.append(f"<td{cls}>{text}</td>")
                body.append("<tr>" + "".join(cells) + "</tr>")
            cls = "" if payload.numeric else " class='text'"
            parts.append(f"<table{cls}><tr>{head}</tr>{''.join(body)}</table>")
        elif kind == "img":
            parts.append(f"<img src='{e(payload.as_posix())}' alt='{e(payload.stem)}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def metrics_table(results: list[SetResult], title: str = "migraseg evaluation") -> RichTable:
    """The console table: one row per headline metric, one column per (set, model)."""
    from rich.table import Table as RichTable

    from migraseg.evaluation.summary import HEADLINE_KEYS

    table = RichTable(title=title)
    table.add_column("metric", no_wrap=True)
    columns = [(r, name) for r in results for name in r.models]
    for r, name in columns:
        table.add_column(f"{r.eval_set.name}\n{name}", justify="right")
    for key in HEADLINE_KEYS:
        values = (r.models[n].summary.values.get(key) for r, n in columns)
        table.add_row(key, *(format_cell(v, key) for v in values))
    return table


def print_metrics(results: list[SetResult], console: Console | None = None) -> None:
    """The headline table, then each set's verdict, on the console."""
    from rich.console import Console

    console = console or Console()
    console.print(metrics_table(results))
    for r in results:
        console.print(f"[bold]{r.eval_set.name}[/bold]: {r.verdict}")
        for name, model in r.models.items():
            if model.tracking is not None:
                line = tracking_line(model.tracking.scores)
                console.print(f"[bold]{r.eval_set.name}[/bold] tracking, {name}: {line}")


def tracking_line(scores: dict[str, float]) -> str:
    """A model's tracking scores in one line (docs/timelapse.md defines them)."""
    nucleation = scores["nucleation_error_frames_median"]
    frames = f"{nucleation:.1f}" if nucleation == nucleation else "–"
    return (
        f"IDF1 {format_cell(scores['idf1'])}, {scores['id_switches']} ID switches of "
        f"{scores['true_links']} links, growth-rate error "
        f"{format_cell(scores['growth_rate_rel_error_median'], 'rel_err')}, nucleation error "
        f"{frames} frames (medians)"
    )
