"""The weights hash an exported model carries, read back without loading the network.

``migraseg-export`` embeds one hash of the network's state in ``model.pt`` (an extra file) and
in ``model.onnx`` (a metadata property); predict runs an ONNX file beside a ``model.pt`` only
when the two agree, so a stale export is never used silently.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

WEIGHTS_KEY = "weights.sha256"  # TorchScript extra file and ONNX metadata property


def embedded_weights_sha256(path: str | Path) -> str | None:
    """The :data:`WEIGHTS_KEY` a TorchScript file carries (read from its zip, without loading the
    network), or None (exported before migraseg recorded it, or not a TorchScript zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith(f"/extra/{WEIGHTS_KEY}")), "")
            return archive.read(name).decode() if name else None
    except (OSError, zipfile.BadZipFile):
        return None


def onnx_weights_sha256(path: str | Path) -> str | None:
    """The :data:`WEIGHTS_KEY` property of an ONNX file, or None (read with ``onnx`` if it is
    installed, else in an ONNX Runtime session)."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        return {p.key: p.value for p in model.metadata_props}.get(WEIGHTS_KEY)
    except ImportError:
        from migraseg.inference.backends import OnnxModel

        return OnnxModel(path).session.get_modelmeta().custom_metadata_map.get(WEIGHTS_KEY)
