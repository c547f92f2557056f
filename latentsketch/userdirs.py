"""The user's folders for latentsketch, per platform: config (presets), data (what the program
computed for a model: directions), state (crash reports, logs), cache (engine artifacts). One
place, so every part puts its files where people look.

Linux follows the XDG base directory spec (``$XDG_CONFIG_HOME``, ``$XDG_DATA_HOME``,
``$XDG_STATE_HOME``, ``$XDG_CACHE_HOME``, defaulting to ``~/.config``, ``~/.local/share``,
``~/.local/state``, ``~/.cache``); macOS uses
``~/Library/Application Support`` and ``~/Library/Caches``; Windows ``%APPDATA%`` and
``%LOCALAPPDATA%``. Nothing is created here: callers create what they write.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "latentsketch"


def _env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


def config_dir() -> Path:
    """Settings the person edits (presets): ``~/.config/latentsketch`` on Linux."""
    home = Path.home()
    if sys.platform == "win32":
        return _env("APPDATA", home / "AppData" / "Roaming") / APP
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / APP
    return _env("XDG_CONFIG_HOME", home / ".config") / APP


def data_dir() -> Path:
    """What the program made for the person's models (directions, keyed by model id) and
    would take work to remake: ``~/.local/share/latentsketch`` on Linux."""
    home = Path.home()
    if sys.platform == "win32":
        return _env("APPDATA", home / "AppData" / "Roaming") / APP / "data"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / APP / "data"
    return _env("XDG_DATA_HOME", home / ".local" / "share") / APP


def state_dir() -> Path:
    """What the program keeps between runs (crash reports): ``~/.local/state/latentsketch``."""
    home = Path.home()
    if sys.platform == "win32":
        return _env("LOCALAPPDATA", home / "AppData" / "Local") / APP
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / APP / "state"
    return _env("XDG_STATE_HOME", home / ".local" / "state") / APP


def cache_dir() -> Path:
    """What can be rebuilt (engine artifacts): ``~/.cache/latentsketch``."""
    home = Path.home()
    if sys.platform == "win32":
        return _env("LOCALAPPDATA", home / "AppData" / "Local") / APP / "cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / APP
    return _env("XDG_CACHE_HOME", home / ".cache") / APP
