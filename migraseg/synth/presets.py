"""Simulator presets: the Hydra config group ``configs/data/synth/`` as :class:`SynthConfig`.

Training composes a preset into ``data.synthesize.simulator`` (``data/synth=<preset>`` on the
command line); ``migraseg-synth --preset`` and scripts load one here, with the same files.
"""

from __future__ import annotations

from pathlib import Path

from migraseg.synth.params import SynthConfig, synth_config_from_mapping
from migraseg.utils.config import CONFIG_DIR

PRESET_DIR = Path(CONFIG_DIR) / "data" / "synth"


def preset_names() -> list[str]:
    """The presets in configs/data/synth/, sorted."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str, overrides: list[str] | None = None) -> SynthConfig:
    """Compose preset ``name`` (with Hydra-style ``key=value`` overrides) into a SynthConfig.

    Overrides are relative to the simulator config, e.g. ``confocal.peak_photons=[30,90]``.

    Raises:
        ValueError: an unknown preset (listing the known ones) or an unknown parameter.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    if name not in preset_names():
        raise ValueError(f"unknown simulator preset {name!r}; known: {preset_names()}")
    prefix = "data.synthesize.simulator."
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
            cfg = compose(
                config_name=f"data/synth/{name}",
                overrides=[prefix + o for o in overrides or []],
            )
    except HydraException as err:
        raise ValueError(f"preset {name!r}: {err}") from err
    finally:
        GlobalHydra.instance().clear()
    data = OmegaConf.to_container(cfg.data.synthesize.simulator, resolve=True)
    return synth_config_from_mapping(data)
