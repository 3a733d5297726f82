"""Packaging beyond what pyproject.toml can say: the top-level ``configs/`` ships in the wheel.

``configs/`` stays where a clone's users look for it (the repository root), and the wheel
carries it as the data-only package ``migraseg/configs`` (every YAML file except the untracked
per-machine ``configs/local/``), so an installed migraseg trains, simulates and exports outside
a clone. :mod:`migraseg.utils.config` looks there first, then beside the package (a clone or an
editable install). docs/packaging.md explains it. The shipped models (``migraseg/pretrained``)
are package data too.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["migraseg", "migraseg.*"]), "migraseg.configs"],
    package_dir={"migraseg.configs": "configs"},
    package_data={
        "migraseg": ["napari.yaml"],  # the napari plugin's manifest
        "migraseg.configs": ["*.yaml", "**/*.yaml"],
        "migraseg.pretrained": ["*.ckpt", "*.md"],  # the shipped models and their cards
    },
    exclude_package_data={"migraseg.configs": ["local/*", "local/**/*"]},
)
