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
