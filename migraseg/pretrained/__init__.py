"""The models that ship inside the package, used by name wherever a model path is accepted.

``migraseg-predict confocal my_images/ --out pred/`` runs the generalist confocal model with no
training and no download: ``confocal`` and ``tem`` name files in this folder (weights-only
checkpoints in fp16, rebuilt in fp32 at load), each with a model card ``<name>.md`` that records
its recipe, provenance, SHA-256 and scores. A path that exists always wins over a name.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED_DIR = Path(__file__).resolve().parent
SHIPPED = {
    "confocal": "confocal.ckpt",  # experiment=generalist_confocal
    "tem": "tem.ckpt",  # experiment=generalist_tem
}


def shipped_model_path(name: str) -> Path:
    """The file of the shipped model ``name``.

    Raises:
        FileNotFoundError: ``name`` is not shipped in this installation.
    """
    path = SHIPPED_DIR / SHIPPED[name] if name in SHIPPED else None
    if path is None or not path.is_file():
        shipped = shipped_names()
        raise FileNotFoundError(f"{name}: no shipped model of that name (shipped: {shipped})")
    return path


def shipped_names() -> str:
    return ", ".join(name for name, file in SHIPPED.items() if (SHIPPED_DIR / file).is_file())


def resolve_model_reference(reference: str | Path) -> Path:
    """``reference`` as a path when something exists there, else the shipped model of that name
    (``confocal``, ``tem``); anything else is returned unchanged for the loader to report."""
    path = Path(reference)
    if path.exists() or str(reference) not in SHIPPED:
        return path
    return shipped_model_path(str(reference))
