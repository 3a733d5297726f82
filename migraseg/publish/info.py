"""What a published model says about itself: authors, licence, citations, intended use.

Read from a YAML file (``configs/export.yaml`` by default) so that a lab edits one file, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from migraseg.utils.config import CONFIG_DIR

DEFAULT_INFO = Path(CONFIG_DIR) / "export.yaml"


@dataclass
class PublishInfo:
    """Descriptive fields of a published model (see configs/export.yaml)."""

    name: str
    description: str
    authors: list[dict[str, str]]
    license: str = "MIT"
    version: str = "0.1.0"
    tags: list[str] = field(default_factory=list)
    cite: list[dict[str, str]] = field(default_factory=list)
    intended_use: str = ""
    limitations: str = ""

    @classmethod
    def load(cls, path: str | Path | None = None) -> PublishInfo:
        """Read and check a publish-info YAML file.

        Raises:
            ValueError: missing fields, a URL anywhere, or a citation without a DOI.
        """
        path = Path(path or DEFAULT_INFO)
        data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
        if "://" in yaml.safe_dump(data):
            raise ValueError(f"{path}: remove URLs (bioimage.io resolves them over the network)")
        if not data.get("authors") or not all(a.get("name") for a in data["authors"]):
            raise ValueError(f"{path}: give at least one author with a name")
        if any(not c.get("doi") or not c.get("text") for c in data.get("cite", [])):
            raise ValueError(f"{path}: every citation needs text and a DOI")
        try:
            return cls(**data)
        except TypeError as err:
            raise ValueError(f"{path}: {err}") from err
