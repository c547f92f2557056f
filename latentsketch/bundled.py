"""Where the data shipped with the program lives: the bundled models and presets.

They are the packages ``latentsketch.assets`` and ``latentsketch.presets``, which
``pyproject.toml`` maps from the checkout's ``assets/`` and ``presets/`` folders. Installed
(``pip install``, editable or not) they are found through the import system, never through the
current folder. Run from a source checkout that was never installed (``python -m latentsketch``
or ``pytest`` in a fresh clone) the mapping does not exist, so the checkout's own folders,
beside this package, are used instead.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def folder(package: str, checkout_folder: str) -> Traversable:
    """The bundled data package ``package`` (e.g. ``latentsketch.presets``); in an
    uninstalled source checkout, its folder ``checkout_folder`` there."""
    try:
        return files(package)
    except ModuleNotFoundError:
        return _CHECKOUT / checkout_folder
