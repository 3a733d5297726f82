"""Short ``--help`` for the Hydra apps, printed before Hydra composes a config.

Hydra's own ``--help`` composes the whole config and prints every key (the simulator's
parameters included: hundreds of lines) after importing the app, torch and all. Ours reads only
the config folder's listing and the app's own YAML file: worked examples, the config groups with
their options, and the app's top-level settings. ``--help-all`` still gives Hydra's full help.
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

HELP_FLAGS = ("--help", "-h")
FULL_HELP_FLAG = "--help-all"


@dataclass(frozen=True)
class AppHelp:
    """What an app's short help shows.

    Attributes:
        app: the command's name.
        summary: one line on what it does.
        examples: (command, comment) pairs, shown first.
        config_name: the root config (``train`` for configs/train.yaml).
        groups: the config groups worth choosing from (``data/synth``: a nested group).
        footer: lines after the settings.
    """

    app: str
    summary: str
    examples: tuple[tuple[str, str], ...]
    config_name: str
    groups: tuple[str, ...]
    footer: tuple[str, ...] = ()


def group_options(config_dir: Path, group: str) -> list[str]:
    """The options of a config group: the YAML files in its folder, without suffix."""
    return sorted(p.stem for p in (config_dir / group).glob("*.yaml"))


def default_choices(config_text: str) -> dict[str, str]:
    """``group: option`` entries of a root config's ``defaults:`` list (``augment@x`` → augment)."""
    choices, inside = {}, False
    for line in config_text.splitlines():
        if line.startswith("defaults:"):
            inside = True
            continue
        if inside and not line.startswith((" ", "-")):
            break
        entry = line.split("#", 1)[0].strip().removeprefix("- ").removeprefix("optional ")
        if inside and ":" in entry:
            group, option = (s.strip() for s in entry.split(":", 1))
            choices[group.split("@", 1)[0]] = option
    return choices


def own_settings(config_text: str) -> str:
    """The root config's own keys with their comments: everything after the defaults list."""
    lines = config_text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("defaults:")), -1)
    body = lines[start + 1 :]
    first = next((i for i, line in enumerate(body) if not line.startswith((" ", "-"))), len(body))
    return "\n".join(body[first:]).strip("\n")


def help_text(spec: AppHelp, config_dir: Path) -> str:
    """The short help: examples, groups (default marked ``*``), the app's own settings."""
    config_text = (config_dir / f"{spec.config_name}.yaml").read_text(encoding="utf-8")
    lines = [f"{spec.app}: {spec.summary}", "", "Examples:"]
    for cmd, note in spec.examples:
        lines += [f"  # {note}", f"  {cmd}"]
    chosen = default_choices(config_text)
    lines += ["", "Config groups (group=option; * the default):"]
    for group in spec.groups:
        options = group_options(config_dir, group)
        options = [f"{o}*" if o == chosen.get(group) else o for o in options]
        lines += textwrap.wrap(
            ", ".join(options), 96, initial_indent=f"  {group}: ", subsequent_indent=" " * 6
        )
    lines += [
        "",
        f"Settings (key=value; configs/{spec.config_name}.yaml, groups' keys as group.key=value):",
    ]
    lines += ["  " + line if line else "" for line in own_settings(config_text).splitlines()]
    lines += ["", *spec.footer]
    return "\n".join(lines).rstrip() + "\n"


def handle_help(spec: AppHelp, config_dir: Path, argv: list[str] | None = None) -> None:
    """Print the short help and exit when asked for it; turn ``--help-all`` into Hydra's
    ``--help`` (in ``argv``, default ``sys.argv``), so Hydra prints everything."""
    argv = sys.argv if argv is None else argv
    args = argv[1:]
    if FULL_HELP_FLAG in args:
        argv[argv.index(FULL_HELP_FLAG)] = "--help"
        return
    if any(a in HELP_FLAGS for a in args):
        sys.stdout.write(help_text(spec, config_dir))
        raise SystemExit(0)
