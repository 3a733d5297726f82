"""Which class an annotation means: class names on the command line, and the hints a Fiji ROI
carries (its name, its group, its stroke colour).

The mapping is documented in docs/annotations.md; keep the two in step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from migraseg.constants import BACKGROUND, CELL, CLASS_NAMES, FIBER, IGNORE_LABEL, MIGRASOME

# Mask value for "not annotated" (partial annotations, data/README.md). The loss and the
# evaluation ignore it; it is written only where the user asks for it or where an input (a list
# of points) says nothing about the other classes.
NOT_ANNOTATED = IGNORE_LABEL

# Words accepted for a class on the command line and as "class=" values.
_CLASS_WORDS: dict[str, int] = {
    "background": BACKGROUND,
    "bg": BACKGROUND,
    "cell": CELL,
    "cells": CELL,
    "retraction_fiber": FIBER,
    "retraction_fibre": FIBER,
    "fiber": FIBER,
    "fibre": FIBER,
    "rf": FIBER,
    "migrasome": MIGRASOME,
    "migrasomes": MIGRASOME,
    "mig": MIGRASOME,
}

# Default ROI group → class: the group number is the class id (Fiji: Edit > Selection > Properties).
DEFAULT_GROUP_CLASSES: dict[int, int] = {CELL: CELL, FIBER: FIBER, MIGRASOME: MIGRASOME}

# ImageJ's named colours (ij.plugin.Colors), as '#rrggbb'.
IMAGEJ_COLOURS: dict[str, str] = {
    "black": "#000000",
    "white": "#ffffff",
    "red": "#ff0000",
    "green": "#00ff00",
    "blue": "#0000ff",
    "cyan": "#00ffff",
    "magenta": "#ff00ff",
    "yellow": "#ffff00",
    "orange": "#ffc800",
    "pink": "#ffafaf",
    "gray": "#808080",
}

# Default stroke colour → class. Yellow, ImageJ's default ROI colour, means nothing.
DEFAULT_COLOUR_CLASSES: dict[str, int] = {
    "#ff0000": MIGRASOME,  # red
    "#00ff00": FIBER,  # green
    "#0000ff": CELL,  # blue
}


def parse_class(text: str) -> int:
    """A class from a name (``migrasome``, ``mig``, ``fiber``, ``rf``, ``cell``, ...) or an id.

    Raises:
        ValueError: not a class.
    """
    word = text.strip().lower()
    if word.isdigit() and int(word) < len(CLASS_NAMES):
        return int(word)
    if word in _CLASS_WORDS:
        return _CLASS_WORDS[word]
    raise ValueError(
        f"unknown class {text!r}; use one of {', '.join(CLASS_NAMES)} "
        f"(or mig, fiber, rf, bg, or an id 0–{len(CLASS_NAMES) - 1})"
    )


def parse_colour(text: str) -> str:
    """``'#rrggbb'`` from an ImageJ colour name, ``#rrggbb`` or ``rrggbb``.

    Raises:
        ValueError: not a colour.
    """
    word = text.strip().lower()
    if word in IMAGEJ_COLOURS:
        return IMAGEJ_COLOURS[word]
    hexa = word.lstrip("#")
    if re.fullmatch(r"[0-9a-f]{6}", hexa):
        return f"#{hexa}"
    raise ValueError(f"unknown colour {text!r}; use #rrggbb or one of {', '.join(IMAGEJ_COLOURS)}")


def parse_mapping(items: Iterable[str], key: str) -> dict:
    """``KEY=CLASS`` pairs from the command line: ``key`` is ``"group"`` (integers) or
    ``"colour"`` (names or hex).

    Raises:
        ValueError: a malformed pair, naming it.
    """
    mapping: dict = {}
    for item in items:
        left, sep, right = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r}: expected {key.upper()}=CLASS, e.g. 3=migrasome")
        if key == "group":
            if not left.strip().isdigit():
                raise ValueError(f"{item!r}: a group is a number 1–255")
            mapping[int(left)] = parse_class(right)
        else:
            mapping[parse_colour(left)] = parse_class(right)
    return mapping


def classes_in_name(name: str) -> set[int]:
    """The classes a ROI name mentions (case-insensitive words; digits and punctuation split
    words): ``mig…`` (migrasome, mig1), ``fib…`` (fiber, fibre) or ``rf``, ``cell…``, and
    ``bg``/``background``. Fiji's default names ("0012-0345") mention none."""
    found: set[int] = set()
    for word in re.findall(r"[a-z]+", name.lower()):
        if word.startswith("mig"):
            found.add(MIGRASOME)
        elif word.startswith("fib") or word in ("rf", "retraction"):
            found.add(FIBER)
        elif word.startswith("cell"):
            found.add(CELL)
        elif word in ("bg", "background"):
            found.add(BACKGROUND)
    return found


def class_hint(
    name: str,
    group: int,
    colour: str | None,
    groups: Mapping[int, int],
    colours: Mapping[str, int],
) -> tuple[int | None, str]:
    """The class a ROI's own data names, first of name, group, colour; and where it came from.

    Returns:
        ``(class_id, source)``; ``(None, "")`` when nothing names a class.

    Raises:
        ValueError: the name mentions several classes.
    """
    in_name = classes_in_name(name)
    if len(in_name) > 1:
        names = ", ".join(CLASS_NAMES[c] for c in sorted(in_name))
        raise ValueError(f"its name mentions several classes ({names})")
    if in_name:
        return in_name.pop(), "name"
    if group and group in groups:
        return groups[group], f"group {group}"
    if colour and colour in colours:
        return colours[colour], f"colour {colour}"
    return None, ""
