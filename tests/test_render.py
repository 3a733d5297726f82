"""evaluation.render: the same blocks give agreeing Markdown and HTML; cells format by key."""

from pathlib import Path

import pytest

from migraseg.evaluation.render import Table, format_cell, render_html, render_markdown

BLOCKS = [
    ("h1", "Report"),
    ("p", "a <b> & c"),
    ("ul", [("lead", "text"), (None, "plain")]),
    ("table", Table(["model", "f1"], [["unet", "0.900"], ["a|b", "0.500"]], strong={(0, 1)})),
    ("img", Path("figures/counts.png")),
]


@pytest.mark.parametrize(
    "value,key,text",
    [(0.12345, "f1", "0.123"), (12.0, "n_true", "12"), (None, "f1", "–"), (float("nan"), "", "–")],
)
def test_format_cell(value, key, text):
    assert format_cell(value, key) == text


def test_markdown_blocks():
    md = render_markdown(BLOCKS)
    assert md.startswith("# Report\n")
    assert "- **lead**: text\n- plain" in md
    assert "| model | f1 |\n|---|---:|\n| unet | **0.900** |\n| a\\|b | 0.500 |" in md
    assert "![counts](figures/counts.png)" in md


def test_html_blocks_are_escaped_and_match_the_markdown():
    page = render_html(BLOCKS, title="T")
    assert page.startswith("<!DOCTYPE html>") and "<title>T</title>" in page
    assert "<p>a &lt;b&gt; &amp; c</p>" in page
    assert "<td><b>0.900</b></td>" in page and "<td>a|b</td>" in page
    assert "<img src='figures/counts.png' alt='counts'>" in page
    assert page.count("<tr>") == 3  # header + the two rows the Markdown has


def test_console_table_has_a_row_per_headline_metric_and_each_verdict():
    from types import SimpleNamespace

    from rich.console import Console

    from migraseg.evaluation.render import print_metrics
    from migraseg.evaluation.summary import HEADLINE_KEYS

    summary = SimpleNamespace(values={"migrasome.f1@0.5": 0.875, "migrasome.n_true": 12.0})
    result = SimpleNamespace(
        eval_set=SimpleNamespace(name="tiny/test"),
        models={"unet": SimpleNamespace(summary=summary, tracking=None)},
        verdict="unet is good enough",
    )
    console = Console(record=True, width=200)
    print_metrics([result], console)
    text = console.export_text()
    assert "tiny/test" in text and "unet" in text
    assert all(key in text for key in HEADLINE_KEYS)
    assert "0.875" in text and "tiny/test: unet is good enough" in text
